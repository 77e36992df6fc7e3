import { describe, expect, it } from "vitest";
import type { Schemas } from "./api/client";
import { amount, formFieldOf, toBook, toForm } from "./pricebook-form";

const BOOK: Schemas["Book"] = {
  currency: "USD",
  minimum_charge: 150,
  round_to: 5,
  service_area: { base_zip: "78701", radius_miles: 30, free_miles: 15, travel_fee_per_mile: 2, extra_zips: ["78610"], excluded_zips: [] },
  services: [
    { key: "house_wash", name: "House wash", keywords: ["house", "home"], low: 250, high: 450 },
    { key: "driveway", name: "Driveway", keywords: ["driveway"], low: 100, high: "225.50" },
  ],
  modifiers: [{ key: "two_story", name: "Two story", keywords: ["two story", "2-story"], multiplier: 1.25 }],
  default_services: ["house_wash"],
};

describe("the price-book form", () => {
  it("round-trips a book", () => {
    expect(toBook(toForm(BOOK))).toEqual({ ...BOOK, services: [BOOK.services[0], { ...BOOK.services[1], high: 225.5 }] });
  });
  it("marks the default services on their rows", () => {
    expect(toForm(BOOK).services.map((s) => s.isDefault)).toEqual([true, false]);
  });
  it("sends a number as a number and anything else as typed, for the API to name", () => {
    expect(amount(" 250 ")).toBe(250);
    expect(amount("12.5")).toBe(12.5);
    expect(amount("abc")).toBe("abc");
    expect(amount("")).toBe("");
  });
  it("starts an empty book with one service", () => {
    expect(toForm(null).services).toHaveLength(1);
  });
});

describe("formFieldOf: the input an API error names", () => {
  it.each([
    ["book.services[0].low", "services.0.low"],
    ["book.modifiers[2].multiplier", "modifiers.2.multiplier"],
    ["book.service_area.base_zip", "service_area.base_zip"],
    ["book.minimum_charge", "minimum_charge"],
    ["book.services[1].keywords[0]", "services.1.keywords"],
    ["book.service_area.extra_zips[3]", "service_area.extra_zips"],
  ])("%s -> %s", (api, form) => {
    expect(formFieldOf(api)).toBe(form);
  });
  it.each([["book"], ["book.default_services[0]"], ["book.services"], [null]])("%s is no one input", (api) => {
    expect(formFieldOf(api)).toBeNull();
  });
});
