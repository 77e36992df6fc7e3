import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import type { Schemas } from "@/lib/api/client";
import { renderSignedIn, stubApi } from "@/test/render";
import { PriceBookEditor } from "./pricebook-editor";

const CURRENT: Schemas["PriceBookOut"] = {
  version: 1,
  created_at: "2026-06-01T15:00:00Z",
  book: {
    currency: "USD",
    minimum_charge: 150,
    round_to: 5,
    service_area: { base_zip: "78701", radius_miles: 30, free_miles: 15, travel_fee_per_mile: 2, extra_zips: [], excluded_zips: [] },
    services: [{ key: "house_wash", name: "House wash", keywords: ["house"], low: 250, high: 450 }],
    modifiers: [],
    default_services: ["house_wash"],
  },
};

describe("PriceBookEditor", () => {
  it("shows the API's 422 on the field it names, then saves a new version", async () => {
    const user = userEvent.setup();
    let attempt = 0;
    const requests = stubApi({
      "PUT /api/v1/pricebook": async (request) => {
        attempt += 1;
        if (attempt === 1)
          return { status: 422, body: { error: { code: "invalid", message: "low (900) is greater than high (450)", field: "book.services[0].low" } } };
        const { book } = (await request.json()) as { book: Schemas["Book"] };
        return { status: 200, body: { version: 2, created_at: "2026-06-02T15:00:00Z", book } };
      },
    });
    renderSignedIn(<PriceBookEditor current={CURRENT} canEdit />);

    const low = screen.getByLabelText("Service 1 Low");
    await user.clear(low);
    await user.type(low, "900");
    await user.click(screen.getByRole("button", { name: "Save price book" }));
    expect(await screen.findByText("low (900) is greater than high (450)")).toBeInTheDocument();
    expect(low).toHaveAttribute("aria-invalid", "true");
    expect(low).toHaveAccessibleDescription("low (900) is greater than high (450)");
    expect(low).toHaveFocus();

    await user.clear(low);
    await user.type(low, "300");
    await user.click(screen.getByRole("button", { name: "Save price book" }));
    expect(await screen.findByText("Saved as version 2.")).toBeInTheDocument();
    const sent = (await requests[1]?.json()) as { book: Schemas["Book"] };
    expect(sent.book.services[0]).toEqual({ key: "house_wash", name: "House wash", keywords: ["house"], low: 300, high: 450 });
    expect(sent.book.default_services).toEqual(["house_wash"]);
    await waitFor(() => expect(low).not.toHaveAttribute("aria-invalid"));
  });

  it("is read-only for an operator", () => {
    renderSignedIn(<PriceBookEditor current={CURRENT} canEdit={false} />);
    expect(screen.getByLabelText("Service 1 Low")).toBeDisabled();
    expect(screen.getByText("Only an owner can change the price book.")).toBeInTheDocument();
  });
});
