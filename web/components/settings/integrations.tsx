import type { Schemas } from "@/lib/api/client";

type State = { name: string; on: boolean; detail: string };

/** What the tenant's settings say of each integration. (Whether the platform itself has
 * Twilio, Google or Chatwoot credentials is not in the API yet: see web/README.md.) */
export function integrationStates(t: Schemas["TenantSettings"]): State[] {
  return [
    {
      name: "Twilio",
      on: Boolean(t.twilio_account_sid && t.twilio_auth_token_set),
      detail: t.twilio_account_sid
        ? `Own subaccount ${t.twilio_account_sid}${t.twilio_auth_token_set ? "" : " (auth token missing)"}`
        : "The platform's account",
    },
    {
      name: "Cal.com",
      on: t.calcom_secret_set && Boolean(t.booking_url),
      detail: [t.booking_url ? "Booking link set" : "No booking link", t.calcom_secret_set ? "webhook secret set" : "no webhook secret"].join(", "),
    },
    {
      name: "Google Calendar",
      on: Boolean(t.google_calendar_id),
      detail: t.google_calendar_id ? `Calendar ${t.google_calendar_id}` : "No calendar id",
    },
    {
      name: "Chatwoot",
      on: Boolean(t.chatwoot_account_id && t.chatwoot_inbox_id && t.chatwoot_secret_set),
      detail:
        t.chatwoot_account_id && t.chatwoot_inbox_id
          ? `Account ${t.chatwoot_account_id}, inbox ${t.chatwoot_inbox_id}${t.chatwoot_secret_set ? "" : " (secret missing)"}`
          : "Not connected",
    },
  ];
}

export function IntegrationStatus({ tenant }: { tenant: Schemas["TenantSettings"] }) {
  return (
    <ul className="mb-4 grid gap-2 sm:grid-cols-2">
      {integrationStates(tenant).map((s) => (
        <li key={s.name} className="flex items-start gap-2 rounded-md border border-slate-200 px-3 py-2 text-sm">
          <span aria-hidden="true" className={`mt-1.5 h-2 w-2 shrink-0 rounded-full ${s.on ? "bg-emerald-500" : "bg-slate-300"}`} />
          <span>
            <span className="font-medium">{s.name}</span>
            <span className="sr-only">: {s.on ? "connected" : "not connected"}.</span>
            <span className="block text-xs text-slate-600">{s.detail}</span>
          </span>
        </li>
      ))}
    </ul>
  );
}
