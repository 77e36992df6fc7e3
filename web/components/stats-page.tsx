"use client";

import { keepPreviousData } from "@tanstack/react-query";
import { useState } from "react";
import { $api } from "@/lib/api/client";
import { formatDuration, formatPercent, localDay } from "@/lib/format";
import { useTimeZone } from "@/lib/session";
import { DayChart } from "./day-chart";
import { ErrorNotice } from "./error-notice";
import { PageHeader } from "./page-header";

const RANGES = [7, 30, 90] as const;

/** The figures of /api/v1/stats over the last 7, 30 or 90 days of the tenant's timezone (30 is the
 * API's default). */
export function StatsPage() {
  const timeZone = useTimeZone();
  const [days, setDays] = useState<(typeof RANGES)[number]>(30);
  const from = localDay(new Date(Date.now() - (days - 1) * 86_400_000), timeZone);
  const stats = $api.useQuery(
    "get",
    "/api/v1/stats",
    { params: { query: days === 30 ? {} : { from } } },
    { placeholderData: keepPreviousData, refetchInterval: 60_000 },
  );
  const s = stats.data;

  return (
    <div>
      <PageHeader title="Stats">
        <div role="group" aria-label="Period" className="inline-flex rounded-md border border-slate-300 bg-white p-0.5">
          {RANGES.map((n) => (
            <button
              key={n}
              type="button"
              aria-pressed={days === n}
              onClick={() => setDays(n)}
              className={`rounded px-2.5 py-1 text-sm ${days === n ? "bg-brand-600 text-white" : "text-slate-700 hover:bg-slate-100"}`}
            >
              {n} days
            </button>
          ))}
        </div>
      </PageHeader>
      <div className="space-y-6 px-4 py-4 md:px-6">
        {stats.error ? <ErrorNotice error={stats.error} /> : null}
        {s ? (
          <>
            <section aria-label="Speed to lead" className="card p-4">
              <h2 className="text-sm font-medium text-slate-600">Speed to lead (median, missed call → text-back sent)</h2>
              <p className="mt-1 text-3xl font-semibold tabular-nums">
                {s.median_speed_to_lead_seconds === null ? "—" : formatDuration(s.median_speed_to_lead_seconds)}
              </p>
            </section>
            <section aria-labelledby="funnel" className="card p-4">
              <h2 id="funnel" className="mb-3 text-sm font-medium text-slate-600">
                Funnel
              </h2>
              <Funnel
                steps={[
                  ["Missed calls", s.missed_calls],
                  ["Texted back", s.texted_back],
                  ["Leads", s.leads],
                  ["Quotes", s.quotes],
                  ["Bookings", s.bookings],
                ]}
              />
              <p className="mt-3 text-sm text-slate-600">
                Conversion (leads → bookings): <strong className="text-slate-900">{s.conversion_rate === null ? "—" : formatPercent(s.conversion_rate)}</strong>
              </p>
            </section>
            <section aria-labelledby="by-day" className="card p-4">
              <h2 id="by-day" className="mb-2 text-sm font-medium text-slate-600">
                By day
              </h2>
              <DayChart days={s.by_day} />
            </section>
          </>
        ) : null}
      </div>
    </div>
  );
}

function Funnel({ steps }: { steps: [string, number][] }) {
  const max = Math.max(1, ...steps.map(([, n]) => n));
  return (
    <dl className="space-y-2">
      {steps.map(([label, n]) => (
        <div key={label} className="grid grid-cols-[7rem_1fr_3rem] items-center gap-2 text-sm">
          <dt className="text-slate-700">{label}</dt>
          <dd aria-hidden="true" className="h-3 rounded bg-slate-100">
            <div className="h-3 rounded bg-brand-500" style={{ width: `${(n / max) * 100}%` }} />
          </dd>
          <dd className="text-right font-semibold tabular-nums">{n}</dd>
        </div>
      ))}
    </dl>
  );
}
