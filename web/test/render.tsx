import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render } from "@testing-library/react";
import type { ReactElement } from "react";
import type { Schemas } from "@/lib/api/client";
import { SessionProvider } from "@/lib/session";

/** The tenant a component sees in the signed-in shell (the generated type, test values). */
export const TENANT = {
  id: "t1",
  slug: "acme",
  name: "Acme Wash Co",
  phone: "+15125550100",
  forward_to: "+15125550199",
  booking_url: null,
  review_url: null,
  timezone: "America/Chicago",
  zip: "78701",
  google_calendar_id: null,
  quiet_hours: "21:00-08:00",
  strict_quiet_hours: false,
  missed_call_template: "Hi from {business}",
  missed_call_dedupe_minutes: 60,
  conversational_window_minutes: 15,
  review_delay_hours: 24,
  review_cooldown_days: 90,
  chatwoot_account_id: null,
  chatwoot_inbox_id: null,
  twilio_account_sid: null,
  automations_paused: false,
  calcom_secret_set: true,
  chatwoot_secret_set: false,
  twilio_auth_token_set: false,
  help_contact: null,
  help_message: null,
  opt_out_notice: true,
  opt_out_notice_changed_at: null,
  notify_to: [],
  alert_new_lead: true,
  alert_quote: true,
  alert_booking: true,
  alert_needs_reply: true,
  alert_opt_out: true,
  alert_quiet_hours: null,
  alerts_per_hour: 10,
  alert_recipients: ["+15125550199"],
  alert_stops: {},
  alerts_sent_this_month: 0,
  digest_enabled: true,
  digest_time: "07:00",
  digest_email: null,
  webhooks: {
    twilio_voice: "https://lily.example/webhooks/twilio/voice",
    twilio_sms: "https://lily.example/webhooks/twilio/sms",
    calcom: "https://lily.example/webhooks/calcom/acme",
    chatwoot: "https://lily.example/webhooks/chatwoot/acme",
  },
} satisfies Schemas["TenantSettings"];

export const OWNER: Schemas["Me"] = {
  tenant: { id: "t1", slug: "acme", name: "Acme Wash Co" },
  user: { email: "owner@acme.test", role: "owner" },
  api_key: null,
};

/** Renders inside a fresh query client and the session of TENANT's owner. */
export function renderSignedIn(ui: ReactElement, me: Schemas["Me"] = OWNER) {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false }, mutations: { retry: false } } });
  return render(
    <QueryClientProvider client={client}>
      <SessionProvider value={{ tenant: TENANT, timeZone: TENANT.timezone, me }}>{ui}</SessionProvider>
    </QueryClientProvider>,
  );
}

/** A fetch stub answering by "METHOD /path" (JSON), recording the requests it was given. */
export function stubApi(routes: Record<string, (request: Request) => { status: number; body?: unknown } | Promise<{ status: number; body?: unknown }>>) {
  const requests: Request[] = [];
  const fetchStub = async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = input instanceof Request ? input : new Request(input, init);
    requests.push(request.clone());
    const route = `${request.method} ${new URL(request.url).pathname}`;
    const handler = routes[route];
    if (!handler) return new Response(JSON.stringify({ error: { code: "not_found", message: `no stub for ${route}` } }), { status: 404 });
    const { status, body } = await handler(request);
    return new Response(body === undefined ? null : JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
  };
  vi.stubGlobal("fetch", vi.fn(fetchStub));
  return requests;
}
