"use client";

import { useEffect, useRef, useState } from "react";
import type { Schemas } from "@/lib/api/client";
import { formatDay } from "@/lib/format";

const SERIES = [
  { key: "leads", label: "Leads", colour: "#1f8ae0" },
  { key: "quotes", label: "Quotes", colour: "#8b5cf6" },
  { key: "bookings", label: "Bookings", colour: "#10b981" },
] as const;

/** Leads, quotes and bookings by day as grouped bars, in plain SVG (no chart library). The
 * same figures are in a table for screen readers. */
export function DayChart({ days }: { days: Schemas["DayFigures"][] }) {
  // drawn at the width it is shown at, so its text stays readable on a phone
  const box = useRef<HTMLDivElement>(null);
  const [width, setWidth] = useState(720);
  useEffect(() => {
    const element = box.current;
    if (!element || typeof ResizeObserver === "undefined") return;
    const observer = new ResizeObserver(([entry]) => {
      if (entry && entry.contentRect.width > 0) setWidth(Math.round(entry.contentRect.width));
    });
    observer.observe(element);
    return () => observer.disconnect();
  }, []);
  const height = 220;
  const pad = { top: 12, right: 8, bottom: 28, left: 32 };
  const max = Math.max(1, ...days.flatMap((d) => [d.leads, d.quotes, d.bookings]));
  const ticks = niceTicks(max);
  const top = ticks[ticks.length - 1] ?? max;
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const slot = plotW / Math.max(1, days.length);
  const bar = Math.max(1, (slot * 0.8) / SERIES.length);
  const y = (v: number) => pad.top + plotH - (v / top) * plotH;
  const labelEvery = Math.ceil(days.length / Math.max(2, Math.floor(plotW / 64)));

  return (
    <figure>
      <div className="mb-2 flex flex-wrap gap-4 text-xs text-slate-600" aria-hidden="true">
        {SERIES.map((s) => (
          <span key={s.key} className="inline-flex items-center gap-1">
            <span className="inline-block h-2.5 w-2.5 rounded-sm" style={{ background: s.colour }} />
            {s.label}
          </span>
        ))}
      </div>
      <div ref={box}>
        <svg viewBox={`0 0 ${width} ${height}`} width={width} height={height} className="block max-w-full" role="img" aria-label="Leads, quotes and bookings by day">
          {ticks.map((t) => (
            <g key={t}>
              <line x1={pad.left} x2={width - pad.right} y1={y(t)} y2={y(t)} stroke="#e2e8f0" />
              <text x={pad.left - 6} y={y(t) + 4} textAnchor="end" fontSize="11" fill="#64748b">
                {t}
              </text>
            </g>
          ))}
          {days.map((d, i) => {
            const x0 = pad.left + i * slot + slot * 0.1;
            return (
              <g key={d.date}>
                <title>{`${formatDay(d.date)}: ${d.leads} leads, ${d.quotes} quotes, ${d.bookings} bookings`}</title>
                {SERIES.map((s, j) => {
                  const v = d[s.key];
                  return v > 0 ? <rect key={s.key} x={x0 + j * bar} y={y(v)} width={bar} height={y(0) - y(v)} fill={s.colour} rx={1} /> : null;
                })}
                {i % labelEvery === 0 ? (
                  <text x={x0 + (bar * SERIES.length) / 2} y={height - 8} textAnchor="middle" fontSize="11" fill="#64748b">
                    {d.date.slice(5).replace("-", "/")}
                  </text>
                ) : null}
              </g>
            );
          })}
        </svg>
      </div>
      <figcaption className="sr-only">Figures by day, in the table below.</figcaption>
      <details className="mt-2 text-sm">
        <summary className="cursor-pointer text-slate-600">Figures by day</summary>
        <table className="mt-2 w-full text-left">
          <thead className="text-xs text-slate-500">
            <tr>
              <th scope="col">Day</th>
              {SERIES.map((s) => (
                <th scope="col" key={s.key} className="text-right">
                  {s.label}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {days.map((d) => (
              <tr key={d.date} className="border-t border-slate-100">
                <th scope="row" className="py-0.5 font-normal">{formatDay(d.date)}</th>
                <td className="text-right tabular-nums">{d.leads}</td>
                <td className="text-right tabular-nums">{d.quotes}</td>
                <td className="text-right tabular-nums">{d.bookings}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </figure>
  );
}

/** 0 and a few whole, round steps (1, 2, 5 × 10ⁿ) up to at least `max`. */
export function niceTicks(max: number): number[] {
  const rough = Math.max(1, max / 4);
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= rough) ?? magnitude * 10;
  const ticks: number[] = [];
  for (let t = 0; t < max + step; t += step) {
    ticks.push(t);
    if (t >= max) break;
  }
  return ticks;
}
