import type { Schemas } from "@/lib/api/client";
import { CopyButton } from "../copy-button";

const ROWS: { key: keyof Schemas["WebhookUrls"]; label: string; where: string }[] = [
  { key: "twilio_voice", label: "Twilio voice", where: "Twilio → Phone number → Voice: “A call comes in”, HTTP POST" },
  { key: "twilio_sms", label: "Twilio messaging", where: "Twilio → Phone number → Messaging: “A message comes in”, HTTP POST" },
  { key: "calcom", label: "Cal.com", where: "Cal.com → Settings → Developer → Webhooks (booking created, rescheduled, cancelled)" },
  { key: "chatwoot", label: "Chatwoot", where: "Chatwoot → Settings → Integrations → Webhooks (message created)" },
];

/** The URLs to paste into Twilio, Cal.com and Chatwoot, each with a copy button. */
export function WebhookUrls({ urls }: { urls: Schemas["WebhookUrls"] }) {
  return (
    <section aria-labelledby="webhooks-title" className="card p-4">
      <h2 id="webhooks-title" className="mb-3 text-base font-semibold">
        Webhook URLs
      </h2>
      <dl className="space-y-3">
        {ROWS.map((row) => (
          <div key={row.key}>
            <dt className="text-sm font-medium text-slate-700">{row.label}</dt>
            <dd className="mt-1 flex items-center gap-2">
              <code className="min-w-0 flex-1 truncate rounded bg-slate-100 px-2 py-1 text-xs" title={urls[row.key]}>
                {urls[row.key]}
              </code>
              <CopyButton text={urls[row.key]} label={`Copy the ${row.label} webhook URL`} />
            </dd>
            <dd className="mt-0.5 text-xs text-slate-500">{row.where}</dd>
          </div>
        ))}
      </dl>
    </section>
  );
}
