import type { Schemas } from "@/lib/api/client";
import { formatDateTime, formatMoney, formatRange } from "@/lib/format";

type Quote = Pick<Schemas["QuoteItem"], "low_cents" | "high_cents" | "currency" | "lines" | "in_service_area" | "zip" | "pricebook_version"> & {
  created_at?: string;
  reason?: string | null;
};

/** A quote: its range, every line that made it, the ZIP and the price-book version used. */
export function QuoteCard({ quote, timeZone, title = "Quote" }: { quote: Quote; timeZone?: string; title?: string }) {
  return (
    <section aria-label={title} className="card p-3 text-sm">
      <div className="flex flex-wrap items-baseline justify-between gap-2">
        <h3 className="font-semibold">{title}</h3>
        <span className="text-xs text-slate-500">
          ZIP {quote.zip} · price book v{quote.pricebook_version}
          {quote.created_at && timeZone ? ` · ${formatDateTime(quote.created_at, timeZone)}` : ""}
        </span>
      </div>
      {quote.in_service_area ? (
        <p className="mt-1 text-xl font-semibold tabular-nums" data-testid="quote-range">
          {formatRange(quote.low_cents, quote.high_cents, quote.currency)}
        </p>
      ) : (
        <p className="mt-1 font-medium text-amber-800">Out of the service area{quote.reason ? `: ${quote.reason}` : ""}</p>
      )}
      {quote.lines.length > 0 ? (
        <table className="mt-2 w-full text-left">
          <caption className="sr-only">Quote lines</caption>
          <thead className="sr-only">
            <tr>
              <th scope="col">Line</th>
              <th scope="col">Low</th>
              <th scope="col">High</th>
            </tr>
          </thead>
          <tbody>
            {quote.lines.map((line, i) => (
              <tr key={`${line.key}-${i}`} className="border-t border-slate-100">
                <td className="py-1 pr-2">
                  {line.label}{" "}
                  <span className="text-xs text-slate-500">{line.kind}</span>
                </td>
                <td className="py-1 text-right tabular-nums">{formatMoney(line.low_cents, quote.currency)}</td>
                <td className="py-1 pl-2 text-right tabular-nums">{formatMoney(line.high_cents, quote.currency)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}
