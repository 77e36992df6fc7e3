"use client";

import { useQueryClient } from "@tanstack/react-query";
import { $api, type Schemas } from "@/lib/api/client";
import { formatPhone } from "@/lib/format";
import { LEAD_STATUSES } from "./status-badge";

type Lead = Pick<Schemas["LeadItem"], "id" | "name" | "phone" | "status">;

/** A lead's status as a select that saves on change (PATCH), named for the lead. */
export function LeadStatusSelect({ lead }: { lead: Lead }) {
  const queryClient = useQueryClient();
  const update = $api.useMutation("patch", "/api/v1/leads/{lead_id}", {
    onSettled: () =>
      Promise.all([
        queryClient.invalidateQueries({ queryKey: ["get", "/api/v1/leads"] }),
        queryClient.invalidateQueries({ queryKey: ["get", "/api/v1/leads/{lead_id}"] }),
      ]),
  });
  const who = lead.name || formatPhone(lead.phone) || "lead";
  const shown = update.isPending ? (update.variables?.body?.status ?? lead.status) : lead.status;
  return (
    <span className="inline-block">
      <select
        aria-label={`Status of ${who}`}
        className="input w-auto py-1 capitalize"
        value={shown}
        disabled={update.isPending}
        onChange={(e) => update.mutate({ params: { path: { lead_id: lead.id } }, body: { status: e.target.value as Schemas["LeadStatus"] } })}
      >
        {LEAD_STATUSES.map((s) => (
          <option key={s} value={s}>
            {s}
          </option>
        ))}
      </select>
      {update.error ? (
        <span role="alert" className="block text-xs text-red-700">
          Not saved
        </span>
      ) : null}
    </span>
  );
}
