"use client";

import Link from "next/link";
import { useMemo, useState } from "react";
import { $api, type Schemas } from "@/lib/api/client";
import { formatDay, formatTime, localDay } from "@/lib/format";
import { useTimeZone } from "@/lib/session";
import { ErrorNotice } from "./error-notice";
import { PageHeader } from "./page-header";

/** Upcoming bookings, soonest first, grouped by the tenant's local day. */
export function BookingsPage() {
  const timeZone = useTimeZone();
  // The start of this hour: a stable query key for the page's life, and today's jobs that
  // already began still show.
  const [from] = useState(() => {
    const now = new Date();
    now.setMinutes(0, 0, 0);
    return now.toISOString();
  });
  const bookings = $api.useQuery("get", "/api/v1/bookings", { params: { query: { from, limit: 200 } } }, { refetchInterval: 30_000 });

  const days = useMemo(() => {
    const groups = new Map<string, Schemas["BookingItem"][]>();
    for (const b of bookings.data?.items ?? []) {
      const day = localDay(b.start_at, timeZone);
      groups.set(day, [...(groups.get(day) ?? []), b]);
    }
    return [...groups.entries()];
  }, [bookings.data, timeZone]);

  return (
    <div>
      <PageHeader title="Bookings" />
      <div className="space-y-6 px-4 py-4 md:px-6">
        {bookings.error ? <ErrorNotice error={bookings.error} /> : null}
        {bookings.data && days.length === 0 ? <p className="text-sm text-slate-600">No upcoming bookings.</p> : null}
        {days.map(([day, items]) => (
          <section key={day} aria-labelledby={`day-${day}`}>
            <h2 id={`day-${day}`} className="mb-2 text-sm font-semibold text-slate-700">
              {formatDay(day)}
            </h2>
            <ul className="card divide-y divide-slate-100">
              {items.map((b) => (
                <li key={b.id} className="flex flex-wrap items-baseline gap-x-4 gap-y-1 px-3 py-2 text-sm">
                  <span className="w-full shrink-0 tabular-nums font-medium sm:w-40">
                    <time dateTime={b.start_at}>{formatTime(b.start_at, timeZone)}</time>–<time dateTime={b.end_at}>{formatTime(b.end_at, timeZone)}</time>
                  </span>
                  <span className={`min-w-0 flex-1 ${b.status === "cancelled" ? "text-slate-500 line-through" : ""}`}>
                    {b.title}
                    {b.attendee_name ? ` · ${b.attendee_name}` : ""}
                    {b.address ? <span className="block text-slate-600">{b.address}</span> : null}
                  </span>
                  {b.status !== "booked" ? <span className="text-xs capitalize text-slate-600">{b.status}</span> : null}
                  <Link href={`/inbox/?lead=${encodeURIComponent(b.lead_id)}`} className="text-brand-700 hover:underline">
                    Conversation
                  </Link>
                </li>
              ))}
            </ul>
          </section>
        ))}
      </div>
    </div>
  );
}
