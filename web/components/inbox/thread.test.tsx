import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import type { Schemas } from "@/lib/api/client";
import { renderSignedIn, stubApi } from "@/test/render";
import { Thread } from "./thread";

const LEAD: Schemas["LeadDetail"] = {
  id: "l1",
  name: null,
  phone: "+15125550134",
  email: null,
  zip: "78704",
  status: "quoted",
  opted_out: false,
  created_at: "2026-06-01T15:00:00Z",
  last_activity_at: "2026-06-01T15:05:00Z",
  unread: true,
  automations_paused: false,
  opted_out_at: null,
  first_contact_at: "2026-06-01T15:00:00Z",
  last_inbound_at: "2026-06-01T15:04:00Z",
  last_read_at: null,
};

const TEXT_BACK: Schemas["MessageItem"] = {
  id: "m1",
  direction: "outbound",
  channel: "sms",
  kind: "missed_call",
  body: "Sorry we missed your call!",
  media: [],
  status: "delivered",
  error_code: null,
  created_at: "2026-06-01T15:00:30Z",
  sent_at: "2026-06-01T15:00:31Z",
};

const QUOTE: Schemas["QuoteItem"] = {
  id: "q1",
  lead_id: "l1",
  zip: "78704",
  in_service_area: true,
  low_cents: 44000,
  high_cents: 84500,
  currency: "USD",
  lines: [{ kind: "service", key: "house_wash", label: "House wash", low_cents: 25000, high_cents: 45000 }],
  explanation: "",
  pricebook_version: 1,
  created_at: "2026-06-01T15:05:00Z",
};

const BOOKING: Schemas["BookingItem"] = {
  id: "b1",
  lead_id: "l1",
  status: "booked",
  title: "House wash",
  start_at: "2026-06-03T14:00:00Z",
  end_at: "2026-06-03T16:00:00Z",
  address: "1 Main St",
  attendee_name: "Pat",
  calendar_event_id: null,
};

function stubThread(lead: Schemas["LeadDetail"], sent: Schemas["MessageItem"][] = []) {
  return stubApi({
    "GET /api/v1/leads/l1": () => ({ status: 200, body: lead }),
    "GET /api/v1/leads/l1/messages": () => ({ status: 200, body: { items: [TEXT_BACK, ...sent], next_cursor: null } }),
    "GET /api/v1/quotes": () => ({ status: 200, body: { items: [QUOTE], next_cursor: null } }),
    "GET /api/v1/bookings": (request) => {
      // the API filters by lead_id: answer as it does, so the thread must ask for its lead's
      const leadId = new URL(request.url).searchParams.get("lead_id");
      const all = [BOOKING, { ...BOOKING, id: "b2", lead_id: "other" }];
      return { status: 200, body: { items: all.filter((b) => b.lead_id === leadId), next_cursor: null } };
    },
    "GET /api/v1/leads": () => ({ status: 200, body: { items: [], next_cursor: null } }),
    "POST /api/v1/leads/l1/read": () => ({ status: 204 }),
    "PATCH /api/v1/leads/l1": () => ({ status: 200, body: { ...lead, automations_paused: true } }),
    "POST /api/v1/leads/l1/messages": async (request) => {
      const { body } = (await request.json()) as { body: string };
      const message = { ...TEXT_BACK, id: `m${sent.length + 2}`, kind: "manual" as const, body, status: "queued" as const };
      sent.push(message);
      return { status: 201, body: message };
    },
  });
}

describe("Thread", () => {
  it("shows the conversation, its quote and booking, and marks it read", async () => {
    const requests = stubThread(LEAD);
    renderSignedIn(<Thread leadId="l1" />);
    expect(await screen.findByText("Sorry we missed your call!")).toBeInTheDocument();
    expect(await screen.findByRole("region", { name: "Quote" })).toHaveTextContent("$440–$845");
    expect(await screen.findByRole("region", { name: "Booking" })).toHaveTextContent("Wed, Jun 3, 9:00 AM–11:00 AM");
    expect(screen.getAllByRole("region", { name: "Booking" })).toHaveLength(1);
    await waitFor(() => expect(requests.some((r) => r.method === "POST" && r.url.endsWith("/api/v1/leads/l1/read"))).toBe(true));
  });

  it("sends a reply, showing it at once", async () => {
    const user = userEvent.setup();
    const requests = stubThread(LEAD);
    renderSignedIn(<Thread leadId="l1" />);
    await user.type(await screen.findByRole("textbox", { name: "Reply" }), "See you Wednesday");
    await user.click(screen.getByRole("button", { name: "Send" }));
    const list = screen.getByRole("list", { name: "Messages" });
    expect(await within(list).findByText("See you Wednesday")).toBeInTheDocument();
    const post = requests.find((r) => r.method === "POST" && r.url.endsWith("/api/v1/leads/l1/messages"));
    expect(await post?.json()).toEqual({ body: "See you Wednesday" });
  });

  it("pauses automations for the lead", async () => {
    const user = userEvent.setup();
    const requests = stubThread(LEAD);
    renderSignedIn(<Thread leadId="l1" />);
    await user.click(await screen.findByRole("button", { name: "Pause automations" }));
    await waitFor(() => expect(requests.some((r) => r.method === "PATCH")).toBe(true));
    expect(await requests.find((r) => r.method === "PATCH")?.json()).toEqual({ automations_paused: true });
  });

  it("shows an opted-out customer as such, the reply box disabled", async () => {
    stubThread({ ...LEAD, opted_out: true, opted_out_at: "2026-06-01T15:10:00Z" });
    renderSignedIn(<Thread leadId="l1" />);
    expect(await screen.findByText("Opted out")).toBeInTheDocument();
    expect(screen.getByRole("textbox", { name: "Reply" })).toBeDisabled();
    expect(screen.getByText(/opted out on Mon, Jun 1, 10:10 AM/)).toBeInTheDocument();
  });
});
