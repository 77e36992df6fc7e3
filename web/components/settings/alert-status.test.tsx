import { render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { TENANT } from "@/test/render";
import { changesOf, type FieldSpec } from "./tenant-form";
import { AlertStatus } from "./alert-status";

describe("AlertStatus", () => {
  it("shows who gets alerts, a STOP and this month's count", () => {
    const tenant = {
      ...TENANT,
      alert_recipients: ["+15125550177"],
      alert_stops: { "+15125550199": "2026-06-01T15:00:00Z" },
      alerts_sent_this_month: 7,
    };
    render(<AlertStatus tenant={tenant} />);
    expect(screen.getByText("Alerts go to: (512) 555-0177")).toBeInTheDocument();
    expect(screen.getByText(/\(512\) 555-0199 replied STOP on/)).toBeInTheDocument();
    expect(screen.getByText(/Alert texts this month: 7/)).toBeInTheDocument();
  });

  it("sends the alert numbers as a list", () => {
    const fields: FieldSpec[] = [{ name: "notify_to", label: "Alert numbers", kind: "list" }];
    expect(changesOf(fields, { notify_to: "(512) 555-0177; +15125550188 ," }, { notify_to: "" })).toEqual({
      notify_to: ["(512) 555-0177", "+15125550188"],
    });
    expect(changesOf(fields, { notify_to: " " }, { notify_to: "(512) 555-0177" })).toEqual({ notify_to: [] });
  });
});
