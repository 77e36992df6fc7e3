import { render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import type { Schemas } from "@/lib/api/client";
import { MessageBubble, mediaSrc } from "./message-bubble";

const INBOUND: Schemas["MessageItem"] = {
  id: "m1",
  direction: "inbound",
  channel: "sms",
  kind: "inbound",
  body: "Here you go, 78704",
  media: [
    { url: "http://127.0.0.1:8000/api/v1/media/tenants/t1/a.jpg?expires=1&sig=x", content_type: "image/jpeg" },
    { url: null, content_type: "image/jpeg" },
  ],
  status: "received",
  error_code: null,
  created_at: "2026-06-01T15:00:00Z",
  sent_at: null,
};

describe("MessageBubble", () => {
  it("shows the customer's photos from this origin, and the ones not stored yet", () => {
    render(<ul><MessageBubble message={INBOUND} timeZone="America/Chicago" /></ul>);
    expect(screen.getByRole("img", { name: "Photo 1 from the customer" })).toHaveAttribute("src", "/api/v1/media/tenants/t1/a.jpg?expires=1&sig=x");
    expect(screen.getByText("Photo 2 is being saved")).toBeInTheDocument();
    expect(screen.getByRole("article", { name: "Customer, Mon, Jun 1, 10:00 AM" })).toBeInTheDocument();
  });

  it("labels an automatic text and its delivery", () => {
    render(
      <ul>
        <MessageBubble message={{ ...INBOUND, direction: "outbound", kind: "missed_call", media: [], status: "failed", error_code: "30007" }} timeZone="America/Chicago" />
      </ul>,
    );
    expect(screen.getByText(/Text-back/)).toHaveTextContent("Failed (30007)");
  });

  it("keeps other origins' links as they are", () => {
    expect(mediaSrc("https://bucket.s3.amazonaws.com/x.jpg?X-Amz=1")).toBe("https://bucket.s3.amazonaws.com/x.jpg?X-Amz=1");
  });
});
