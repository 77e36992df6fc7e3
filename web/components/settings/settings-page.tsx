"use client";

import { useIsOwner, useSession } from "@/lib/session";
import { PageHeader } from "../page-header";
import { Phone } from "../phone";
import { AlertStatus } from "./alert-status";
import { ApiKeys } from "./api-keys";
import { IntegrationStatus } from "./integrations";
import { TenantForm, type FieldSpec } from "./tenant-form";
import { WebhookUrls } from "./webhook-urls";

const BUSINESS: FieldSpec[] = [
  { name: "name", label: "Business name" },
  { name: "forward_to", label: "Forwarding number", kind: "tel", optional: true, hint: "Calls ring here first; unanswered, Lily texts the caller back." },
  { name: "timezone", label: "Timezone", hint: "IANA name, e.g. America/Chicago" },
  { name: "zip", label: "Base ZIP", optional: true },
  { name: "booking_url", label: "Booking link (Cal.com)", kind: "url", optional: true },
  { name: "review_url", label: "Review link", kind: "url", optional: true },
];

const MESSAGES: FieldSpec[] = [
  { name: "quiet_hours", label: "Quiet hours", hint: "HH:MM-HH:MM, e.g. 21:00-08:00: no business-initiated texts then" },
  { name: "strict_quiet_hours", label: "Strict quiet hours", kind: "checkbox", hint: "Hold even replies to what the customer just did" },
  { name: "missed_call_template", label: "Missed-call text-back", kind: "textarea", hint: "{business} is replaced by the business name" },
  { name: "missed_call_dedupe_minutes", label: "One text-back per caller every (minutes)", kind: "number" },
  { name: "conversational_window_minutes", label: "Conversational window (minutes)", kind: "number" },
  { name: "review_delay_hours", label: "Review request after the job (hours)", kind: "number" },
  { name: "review_cooldown_days", label: "At most one review request per customer every (days)", kind: "number" },
  { name: "automations_paused", label: "Pause all automations", kind: "checkbox", hint: "Lily records calls and texts but sends nothing on its own" },
  { name: "opt_out_notice", label: "End the first text-back with \"Reply STOP to opt out\"", kind: "checkbox", hint: "Recommended by the carriers; the change is recorded" },
  { name: "help_contact", label: "Help contact (HELP replies)", optional: true, hint: "A phone number or email customers can reach you at" },
  { name: "help_message", label: "HELP reply", kind: "textarea", optional: true, hint: "Empty: Lily's, with your name, contact, rates and how to opt out" },
];

const ALERTS: FieldSpec[] = [
  { name: "notify_to", label: "Alert numbers", kind: "list", hint: "Your phones, comma-separated; empty: the forwarding number" },
  { name: "alert_new_lead", label: "Missed calls (new leads)", kind: "checkbox" },
  { name: "alert_quote", label: "Photos + ZIP received and the quote sent", kind: "checkbox" },
  { name: "alert_booking", label: "Bookings made, moved or cancelled", kind: "checkbox" },
  { name: "alert_needs_reply", label: "Replies Lily can't answer", kind: "checkbox" },
  { name: "alert_opt_out", label: "Customers who opt out", kind: "checkbox" },
  { name: "alert_quiet_hours", label: "Your quiet hours for alerts", optional: true, hint: "HH:MM-HH:MM; alerts then wait for a morning summary. Empty: none" },
  { name: "alerts_per_hour", label: "At most this many alert texts an hour", kind: "number" },
  { name: "digest_enabled", label: "Daily digest of yesterday's figures", kind: "checkbox" },
  { name: "digest_time", label: "Digest time", hint: "HH:MM, your local time" },
  { name: "digest_email", label: "Also email the digest to", optional: true, hint: "When email is set up on this Lily (LILY_SMTP_URL)" },
];

const INTEGRATIONS: FieldSpec[] = [
  { name: "calcom_secret", label: "Cal.com webhook secret", kind: "secret" },
  { name: "google_calendar_id", label: "Google Calendar id", optional: true },
  { name: "chatwoot_account_id", label: "Chatwoot account id", kind: "number", optional: true },
  { name: "chatwoot_inbox_id", label: "Chatwoot inbox id", kind: "number", optional: true },
  { name: "chatwoot_secret", label: "Chatwoot webhook secret", kind: "secret" },
  { name: "twilio_account_sid", label: "Own Twilio subaccount SID", optional: true },
  { name: "twilio_auth_token", label: "Own Twilio auth token", kind: "secret" },
];

export function SettingsPage() {
  const { tenant } = useSession();
  const canEdit = useIsOwner();
  return (
    <div>
      <PageHeader title="Settings" />
      <div className="mx-auto max-w-3xl space-y-6 px-4 py-4 md:px-6">
        {!canEdit ? <p className="text-sm text-slate-600">Only an owner can change these settings.</p> : null}
        <TenantForm title="Business" settings={tenant} fields={BUSINESS} canEdit={canEdit}>
          <p className="mb-3 text-sm text-slate-700">
            Business number: <Phone value={tenant.phone} copy />
          </p>
        </TenantForm>
        <TenantForm title="Messages" settings={tenant} fields={MESSAGES} canEdit={canEdit} />
        <TenantForm title="Owner alerts" settings={tenant} fields={ALERTS} canEdit={canEdit}>
          <AlertStatus tenant={tenant} />
        </TenantForm>
        <WebhookUrls urls={tenant.webhooks} />
        <TenantForm title="Integrations" settings={tenant} fields={INTEGRATIONS} canEdit={canEdit}>
          <IntegrationStatus tenant={tenant} />
        </TenantForm>
        <ApiKeys canEdit={canEdit} />
      </div>
    </div>
  );
}
