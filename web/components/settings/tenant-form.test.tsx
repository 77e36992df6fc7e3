import { screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { renderSignedIn, stubApi, TENANT } from "@/test/render";
import { changesOf, TenantForm, type FieldSpec } from "./tenant-form";

const FIELDS: FieldSpec[] = [
  { name: "forward_to", label: "Forwarding number", kind: "tel", optional: true },
  { name: "quiet_hours", label: "Quiet hours" },
  { name: "review_delay_hours", label: "Review delay", kind: "number" },
  { name: "calcom_secret", label: "Cal.com secret", kind: "secret" },
];

describe("TenantForm", () => {
  it("sends only what changed and shows the API's error on its field", async () => {
    const user = userEvent.setup();
    const requests = stubApi({
      "PATCH /api/v1/tenant": () => ({ status: 422, body: { error: { code: "invalid", message: "'9pm' is not HH:MM-HH:MM", field: "quiet_hours" } } }),
    });
    renderSignedIn(<TenantForm title="Messages" settings={TENANT} fields={FIELDS} canEdit />);
    expect(screen.getByLabelText("Forwarding number")).toHaveValue("(512) 555-0199");
    const quiet = screen.getByLabelText("Quiet hours");
    await user.clear(quiet);
    await user.type(quiet, "9pm");
    await user.click(screen.getByRole("button", { name: "Save messages" }));
    expect(await screen.findByText("'9pm' is not HH:MM-HH:MM")).toBeInTheDocument();
    expect(quiet).toHaveAttribute("aria-invalid", "true");
    expect(await requests[0]?.json()).toEqual({ quiet_hours: "9pm" });
  });

  it("turns inputs into changes: numbers, cleared optionals, untouched secrets", () => {
    const before = { forward_to: "(512) 555-0199", quiet_hours: "x", review_delay_hours: "24", calcom_secret: "" };
    expect(changesOf(FIELDS, { forward_to: " ", quiet_hours: "x", review_delay_hours: "12", calcom_secret: "" }, before)).toEqual({
      forward_to: null,
      review_delay_hours: 12,
    });
  });
});
