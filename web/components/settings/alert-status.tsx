import type { Schemas } from "@/lib/api/client";
import { formatPhone } from "@/lib/format";

/** Who gets the owner's alerts now, who turned them off by replying STOP (and how to undo
 * it), and how many alert texts went this month (not counted in the plan's allowance). */
export function AlertStatus({ tenant }: { tenant: Schemas["TenantSettings"] }) {
  const stops = Object.entries(tenant.alert_stops);
  return (
    <div className="mb-3 space-y-1 text-sm text-slate-700">
      <p>
        Alerts go to:{" "}
        {tenant.alert_recipients.length ? tenant.alert_recipients.map(formatPhone).join(", ") : "no one (set a number below)"}
      </p>
      {stops.map(([phone, at]) => (
        <p key={phone} className="text-amber-800">
          {formatPhone(phone)} replied STOP on {new Date(at).toLocaleString()}: no alerts go there. Text START from that phone to
          the business number to turn them back on.
        </p>
      ))}
      <p>Alert texts this month: {tenant.alerts_sent_this_month} (not counted in your plan's texts)</p>
    </div>
  );
}
