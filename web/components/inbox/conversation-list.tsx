"use client";

import Link from "next/link";
import { $api } from "@/lib/api/client";
import { formatPhone, formatStamp } from "@/lib/format";
import { POLL_MS } from "@/lib/queries";
import { useTimeZone } from "@/lib/session";
import { ErrorNotice } from "../error-notice";
import { OptedOutBadge } from "../status-badge";

/** Conversations by latest activity, unread ones marked; polled. */
export function ConversationList({ selected }: { selected: string | null }) {
  const timeZone = useTimeZone();
  const leads = $api.useInfiniteQuery(
    "get",
    "/api/v1/leads",
    { params: { query: { limit: 50 } } },
    {
      pageParamName: "cursor",
      initialPageParam: null,
      getNextPageParam: (last) => last.next_cursor ?? undefined,
      refetchInterval: POLL_MS,
    },
  );

  if (leads.error) return <div className="p-3"><ErrorNotice error={leads.error} /></div>;
  if (!leads.data) return null;
  const items = leads.data.pages.flatMap((page) => page.items);
  if (items.length === 0)
    return <p className="p-4 text-sm text-slate-600">No conversations yet. A missed call to your business number starts one.</p>;

  return (
    <>
      <ul aria-label="Conversations" className="divide-y divide-slate-100">
        {items.map((lead) => {
          const current = lead.id === selected;
          const who = lead.name || formatPhone(lead.phone) || "Unknown caller";
          const when = lead.last_activity_at ?? lead.created_at;
          return (
            <li key={lead.id}>
              <Link
                href={`/inbox/?lead=${encodeURIComponent(lead.id)}`}
                scroll={false}
                aria-current={current ? "true" : undefined}
                className={`flex items-start gap-2 px-4 py-3 hover:bg-slate-50 ${current ? "bg-brand-50" : ""}`}
              >
                <span aria-hidden="true" className={`mt-1.5 h-2 w-2 shrink-0 rounded-full ${lead.unread ? "bg-brand-500" : "bg-transparent"}`} />
                <span className="min-w-0 flex-1">
                  <span className="flex items-baseline justify-between gap-2">
                    <span className={`truncate text-sm ${lead.unread ? "font-semibold" : "font-medium"}`} title={lead.name ? undefined : (lead.phone ?? undefined)}>
                      {who}
                      {lead.unread ? <span className="sr-only">, unread</span> : null}
                    </span>{" "}
                    <time dateTime={when} className="shrink-0 text-xs text-slate-500">
                      {formatStamp(when, timeZone)}
                    </time>
                  </span>{" "}
                  <span className="mt-0.5 flex items-center gap-2 text-xs text-slate-500">
                    {lead.name ? <><span title={lead.phone ?? undefined}>{formatPhone(lead.phone)}</span>{" "}</> : null}
                    <span className="capitalize">{lead.status}</span>
                    {lead.opted_out ? <> <OptedOutBadge /></> : null}
                  </span>
                </span>
              </Link>
            </li>
          );
        })}
      </ul>
      {leads.hasNextPage ? (
        <div className="p-3">
          <button type="button" className="btn-secondary w-full" disabled={leads.isFetchingNextPage} onClick={() => void leads.fetchNextPage()}>
            Show older conversations
          </button>
        </div>
      ) : null}
    </>
  );
}
