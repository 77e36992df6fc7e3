// The price-book editor's form values (every input is text) and their conversion to and
// from the API's book. The book's types are the generated ones; only the form's are here.
import type { Schemas } from "./api/client";

type Book = Schemas["Book"];
type Amount = Book["minimum_charge"];

export type ServiceRow = { key: string; name: string; keywords: string; low: string; high: string; isDefault: boolean };
export type ModifierRow = { key: string; name: string; keywords: string; multiplier: string };
export type BookForm = {
  currency: string;
  minimum_charge: string;
  round_to: string;
  service_area: {
    base_zip: string;
    radius_miles: string;
    free_miles: string;
    travel_fee_per_mile: string;
    extra_zips: string;
    excluded_zips: string;
  };
  services: ServiceRow[];
  modifiers: ModifierRow[];
};

const list = (items: readonly string[]) => items.join(", ");
const split = (text: string) =>
  text
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
const text = (value: Amount) => String(value);

/** A typed amount: a plain number as a number, anything else as typed (the API names it). */
export function amount(value: string): Amount {
  const trimmed = value.trim();
  return /^-?\d+(\.\d+)?$/.test(trimmed) ? Number(trimmed) : trimmed;
}

export const EMPTY_SERVICE: ServiceRow = { key: "", name: "", keywords: "", low: "", high: "", isDefault: false };
export const EMPTY_MODIFIER: ModifierRow = { key: "", name: "", keywords: "", multiplier: "" };

export function toForm(book: Book | null): BookForm {
  if (!book) {
    return {
      currency: "USD",
      minimum_charge: "150",
      round_to: "5",
      service_area: { base_zip: "", radius_miles: "30", free_miles: "15", travel_fee_per_mile: "2", extra_zips: "", excluded_zips: "" },
      services: [{ key: "house_wash", name: "House wash", keywords: "house, home, siding", low: "250", high: "450", isDefault: true }],
      modifiers: [],
    };
  }
  const defaults = new Set(book.default_services);
  return {
    currency: book.currency,
    minimum_charge: text(book.minimum_charge),
    round_to: text(book.round_to),
    service_area: {
      base_zip: book.service_area.base_zip,
      radius_miles: text(book.service_area.radius_miles),
      free_miles: text(book.service_area.free_miles),
      travel_fee_per_mile: text(book.service_area.travel_fee_per_mile),
      extra_zips: list(book.service_area.extra_zips),
      excluded_zips: list(book.service_area.excluded_zips),
    },
    services: book.services.map((s) => ({
      key: s.key,
      name: s.name,
      keywords: list(s.keywords),
      low: text(s.low),
      high: text(s.high),
      isDefault: defaults.has(s.key),
    })),
    modifiers: book.modifiers.map((m) => ({ key: m.key, name: m.name, keywords: list(m.keywords), multiplier: text(m.multiplier) })),
  };
}

export function toBook(form: BookForm): Book {
  return {
    currency: form.currency.trim(),
    minimum_charge: amount(form.minimum_charge),
    round_to: amount(form.round_to),
    service_area: {
      base_zip: form.service_area.base_zip.trim(),
      radius_miles: amount(form.service_area.radius_miles),
      free_miles: amount(form.service_area.free_miles),
      travel_fee_per_mile: amount(form.service_area.travel_fee_per_mile),
      extra_zips: split(form.service_area.extra_zips),
      excluded_zips: split(form.service_area.excluded_zips),
    },
    services: form.services.map((s) => ({
      key: s.key.trim(),
      name: s.name.trim(),
      keywords: split(s.keywords),
      low: amount(s.low),
      high: amount(s.high),
    })),
    modifiers: form.modifiers.map((m) => ({
      key: m.key.trim(),
      name: m.name.trim(),
      keywords: split(m.keywords),
      multiplier: amount(m.multiplier),
    })),
    default_services: form.services.filter((s) => s.isDefault).map((s) => s.key.trim()),
  };
}

const LIST_FIELDS = /^(services\.\d+\.keywords|modifiers\.\d+\.keywords|service_area\.extra_zips|service_area\.excluded_zips)\.\d+$/;
const FIELDS = new Set([
  "currency",
  "minimum_charge",
  "round_to",
  "service_area.base_zip",
  "service_area.radius_miles",
  "service_area.free_miles",
  "service_area.travel_fee_per_mile",
  "service_area.extra_zips",
  "service_area.excluded_zips",
]);
const ROW_FIELD = /^(services\.\d+\.(key|name|keywords|low|high)|modifiers\.\d+\.(key|name|keywords|multiplier))$/;

/** The form input an API error's `field` names ("book.services[0].low" -> "services.0.low";
 * an item of a comma list names the list), or null when no one input is at fault. */
export function formFieldOf(apiField: string | null): string | null {
  if (!apiField) return null;
  let path = apiField.replace(/^book\.?/, "").replace(/\[(\d+)\]/g, ".$1");
  if (LIST_FIELDS.test(path)) path = path.replace(/\.\d+$/, "");
  return FIELDS.has(path) || ROW_FIELD.test(path) ? path : null;
}
