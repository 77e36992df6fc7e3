import type { Schemas } from "@/lib/api/client";

// A Record over the generated enum: a status the API adds fails the type check here.
const LABELS: Record<Schemas["LeadStatus"], string> = {
  new: "new",
  contacted: "contacted",
  quoted: "quoted",
  booked: "booked",
  lost: "lost",
};

export const LEAD_STATUSES = Object.keys(LABELS) as Schemas["LeadStatus"][];

export function OptedOutBadge() {
  return <span className="rounded-full bg-red-100 px-2 py-0.5 text-xs font-medium text-red-800">Opted out</span>;
}
