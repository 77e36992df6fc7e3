import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
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
        body: { enabled: true, plan: "starter", status: "trialing", trial_ends_at: "2026-06-15T05:00:00Z", current_period_end: null, sms_used: 120, sms_limit: 500, manual_sms: 3, alert_sms: 4, held_reason: null },
      }),
    });
    renderSignedIn(<BillingPage />);
    const meter = await screen.findByRole("meter", { name: "Automated texts used this month" });
    expect(meter).toHaveAttribute("aria-valuetext", "120 of 500");
    expect(screen.getByText(/Alert texts to your own phones this month: 4 \(not counted/)).toBeInTheDocument();
    expect(screen.getByText("starter")).toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Open the billing portal" })).toBeEnabled();
    expect(screen.queryByRole("button", { name: /Choose/ })).toBeNull();
  });

  it("goes to Stripe Checkout for the plan chosen", async () => {
    const assign = vi.fn();
    vi.stubGlobal("location", { ...window.location, pathname: "/billing/", assign });
    const requests = stubApi({
      "GET /api/v1/billing": () => ({
        status: 200,
        body: { enabled: true, plan: null, status: "trialing", trial_ends_at: null, current_period_end: null, sms_used: 0, sms_limit: 500, manual_sms: 0, alert_sms: 0, held_reason: null },
      }),
      "POST /api/v1/billing/checkout": () => ({ status: 200, body: { url: "https://checkout.stripe.com/c/pay/cs_test_1" } }),
    });
    renderSignedIn(<BillingPage />);
    await userEvent.click(await screen.findByRole("button", { name: "Choose Pro" }));
    await waitFor(() => expect(assign).toHaveBeenCalledWith("https://checkout.stripe.com/c/pay/cs_test_1"));
    expect(await requests.find((r) => r.method === "POST")?.json()).toEqual({ plan: "pro" });
  });
});

describe("BillingPage when this Lily does not bill", () => {
  it("says so, and still shows the month's usage", async () => {
    stubApi({
      "GET /api/v1/billing": () => ({
        status: 200,
        body: { enabled: false, plan: null, status: "disabled", trial_ends_at: null, current_period_end: null, sms_used: 7, sms_limit: null, manual_sms: 2, alert_sms: 0, held_reason: null },
      }),
    });
    renderSignedIn(<BillingPage />);
    expect(await screen.findByRole("heading", { name: "Billing is not set up" })).toBeInTheDocument();
    expect(screen.getByRole("meter", { name: "Automated texts used this month" })).toHaveAttribute("aria-valuetext", "7, no limit");
    expect(screen.queryByRole("button", { name: /Choose/ })).toBeNull();
  });

  it("says why texts are held", async () => {
    stubApi({
      "GET /api/v1/billing": () => ({
        status: 200,
        body: { enabled: true, plan: null, status: "trial_ended", trial_ends_at: "2026-06-01T00:00:00Z", current_period_end: null, sms_used: 40, sms_limit: 500, manual_sms: 0, alert_sms: 0, held_reason: "trial_ended" },
      }),
    });
    renderSignedIn(<BillingPage />);
    expect(await screen.findByRole("alert")).toHaveTextContent("Automated texts are held: the free trial has ended");
  });
});
