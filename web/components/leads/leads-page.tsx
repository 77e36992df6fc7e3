"use client";

import { keepPreviousData } from "@tanstack/react-query";
import Link from "next/link";
import { usePathname, useRouter, useSearchParams } from "next/navigation";
import { useEffect, useState } from "react";
import { $api, type Schemas } from "@/lib/api/client";
import { formatPhone, formatStamp } from "@/lib/format";
import { POLL_MS } from "@/lib/queries";
import { useTimeZone } from "@/lib/session";
import { ErrorNotice } from "../error-notice";
import { LeadStatusSelect } from "../lead-status-select";
import { PageHeader } from "../page-header";
import { LEAD_STATUSES, OptedOutBadge } from "../status-badge";

/** Leads: filter by status and search (kept in the URL, so a filtered list can be shared and
 * survives a reload), change a lead's status in place. */
export function LeadsPage() {
  const params = useSearchParams();
  const router = useRouter();
  const pathname = usePathname();
  const status = (params.get("status") as Schemas["LeadStatus"] | null) || null;
  const q = params.get("q") ?? "";
  const [search, setSearch] = useState(q);

  // The search goes into the URL a moment after typing stops.
  useEffect(() => {
    if (search === q) return;
    const timer = window.setTimeout(() => setParam("q", search.trim() || null), 250);
    return () => window.clearTimeout(timer);
    // eslint-disable-next-line react-hooks/exhaustive-deps -- only the typed text drives it
  }, [search]);

  function setParam(name: string, value: string | null) {
    const next = new URLSearchParams(params.toString());
    if (value) next.set(name, value);
    else next.delete(name);
    const query = next.toString();
    router.replace(query ? `${pathname}?${query}` : pathname, { scroll: false });
  }

  const leads = $api.useQuery(
    "get",
    "/api/v1/leads",
    { params: { query: { status, q: q || null, limit: 200 } } },
    { refetchInterval: POLL_MS, placeholderData: keepPreviousData },
  );

  return (
    <div>
      <PageHeader title="Leads" />
      <div className="flex flex-wrap items-end gap-3 px-4 py-3 md:px-6">
        <div className="w-40">
          <label htmlFor="status-filter" className="label">
            Status
          </label>
          <select id="status-filter" className="input capitalize" value={status ?? ""} onChange={(e) => setParam("status", e.target.value || null)}>
            <option value="">All</option>
            {LEAD_STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </div>
        <div className="min-w-48 flex-1 sm:max-w-sm">
          <label htmlFor="lead-search" className="label">
            Search
          </label>
          <input
            id="lead-search"
            type="search"
            className="input"
            placeholder="Name, phone or email"
            value={search}
            onChange={(e) => setSearch(e.target.value)}
          />
        </div>
      </div>
      <div className="px-4 pb-6 md:px-6">
        {leads.error ? <ErrorNotice error={leads.error} /> : null}
        {leads.data && leads.data.items.length === 0 ? <p className="text-sm text-slate-600">No leads match.</p> : null}
        {leads.data && leads.data.items.length > 0 ? <LeadTable leads={leads.data.items} /> : null}
      </div>
    </div>
  );
}

function LeadTable({ leads }: { leads: Schemas["LeadItem"][] }) {
  const timeZone = useTimeZone();
  return (
    <div className="card overflow-hidden">
      <table className="w-full text-left text-sm">
        <thead className="bg-slate-50 text-xs uppercase tracking-wide text-slate-500">
          <tr>
            <th scope="col" className="px-3 py-2">Lead</th>
            <th scope="col" className="hidden px-3 py-2 sm:table-cell">Phone</th>
            <th scope="col" className="hidden px-3 py-2 md:table-cell">ZIP</th>
            <th scope="col" className="px-3 py-2">Status</th>
            <th scope="col" className="hidden px-3 py-2 sm:table-cell">Last activity</th>
          </tr>
        </thead>
        <tbody className="divide-y divide-slate-100">
          {leads.map((lead) => (
            <tr key={lead.id}>
              <td className="px-3 py-2">
                <Link
                  href={`/inbox/?lead=${encodeURIComponent(lead.id)}`}
                  title={lead.name ? undefined : (lead.phone ?? undefined)}
                  className={`text-brand-700 hover:underline ${lead.unread ? "font-semibold" : ""}`}
                >
                  {lead.name || formatPhone(lead.phone) || "Unknown caller"}
                </Link>
                {lead.unread ? <span className="ml-1 text-xs text-brand-700">new</span> : null}
                {lead.opted_out ? <span className="ml-2"><OptedOutBadge /></span> : null}
                {lead.email ? <div className="text-xs text-slate-500">{lead.email}</div> : null}
              </td>
              <td className="hidden px-3 py-2 tabular-nums sm:table-cell" title={lead.phone ?? undefined}>
                {formatPhone(lead.phone)}
              </td>
              <td className="hidden px-3 py-2 md:table-cell">{lead.zip}</td>
              <td className="px-3 py-2">
                <LeadStatusSelect lead={lead} />
              </td>
              <td className="hidden px-3 py-2 text-slate-600 sm:table-cell">
                {formatStamp(lead.last_activity_at ?? lead.created_at, timeZone)}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
