import { screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { renderSignedIn, stubApi } from "@/test/render";
import { BillingPage } from "./billing-page";

describe("BillingPage", () => {
  it("says billing is not set up when the API answers 404", async () => {
    stubApi({});
    renderSignedIn(<BillingPage />);
    expect(await screen.findByRole("heading", { name: "Billing is not set up" })).toBeInTheDocument();
  });

  it("shows the plan and the usage meter the API gives", async () => {
    stubApi({
      "GET /api/v1/billing": () => ({
        status: 200,
        body: { plan: "starter", status: "trialing", trial_ends_at: "2026-06-15T05:00:00Z", current_period_end: null, sms_used: 120, sms_limit: 500, held_reason: null },
      }),
    });
    renderSignedIn(<BillingPage />);
    const meter = await screen.findByRole("meter", { name: "Automated texts used this month" });
    expect(meter).toHaveAttribute("aria-valuetext", "120 of 500");
    expect(screen.getByText("starter")).toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Open the billing portal" })).toBeEnabled();
  });
});
