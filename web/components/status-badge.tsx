import type { Schemas } from "@/lib/api/client";

const LEAD_COLOURS: Record<Schemas["LeadStatus"], string> = {
  new: "bg-sky-100 text-sky-800",
  contacted: "bg-amber-100 text-amber-800",
  quoted: "bg-violet-100 text-violet-800",
  booked: "bg-emerald-100 text-emerald-800",
  lost: "bg-slate-200 text-slate-700",
};

export const LEAD_STATUSES = Object.keys(LEAD_COLOURS) as Schemas["LeadStatus"][];

export function LeadStatusBadge({ status }: { status: Schemas["LeadStatus"] }) {
  return <span className={`rounded-full px-2 py-0.5 text-xs font-medium capitalize ${LEAD_COLOURS[status]}`}>{status}</span>;
}

export function OptedOutBadge() {
  return <span className="rounded-full bg-red-100 px-2 py-0.5 text-xs font-medium text-red-800">Opted out</span>;
}
