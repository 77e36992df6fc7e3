import { render, screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { QuoteCard } from "./quote-card";

const QUOTE = {
  zip: "78704",
  in_service_area: true,
  low_cents: 44000,
  high_cents: 84500,
  currency: "USD",
  pricebook_version: 3,
  lines: [
    { kind: "service" as const, key: "house_wash", label: "House wash", low_cents: 25000, high_cents: 45000 },
    { kind: "modifier" as const, key: "two_story", label: "Two story ×1.25", low_cents: 8750, high_cents: 16875 },
  ],
};

describe("QuoteCard", () => {
  it("shows the range and every line", () => {
    render(<QuoteCard quote={QUOTE} />);
    const card = screen.getByRole("region", { name: "Quote" });
    expect(within(card).getByText("$440–$845")).toBeInTheDocument();
    const rows = within(card).getAllByRole("row").slice(1);
    expect(rows.map((r) => r.textContent)).toEqual(["House wash service$250$450", "Two story ×1.25 modifier$87.50$168.75"]);
    expect(card).toHaveTextContent("price book v3");
  });

  it("says when the ZIP is out of the service area", () => {
    render(<QuoteCard quote={{ ...QUOTE, in_service_area: false, lines: [], reason: "42 miles away" }} />);
    expect(screen.getByText("Out of the service area: 42 miles away")).toBeInTheDocument();
  });
});
