"use client";

import { keepPreviousData } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { $api, errorMessage } from "@/lib/api/client";
import { QuoteCard } from "../quote-card";

function useDebounced<T>(value: T, ms: number): T {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const timer = window.setTimeout(() => setSettled(value), ms);
    return () => window.clearTimeout(timer);
  }, [value, ms]);
  return settled;
}

/** What a customer would be quoted by the saved price book: a ZIP and a sentence in, the
 * range and its lines out, as they type (POST /api/v1/quotes/preview stores nothing). */
export function QuotePreview() {
  const [zip, setZip] = useState("");
  const [text, setText] = useState("");
  const query = useDebounced({ zip: zip.trim(), text: text.trim() }, 250);
  const ready = /^\d{5}$/.test(query.zip);
  const preview = $api.useQuery(
    "post",
    "/api/v1/quotes/preview",
    { body: { zip: query.zip, text: query.text } },
    { enabled: ready, placeholderData: keepPreviousData, retry: false },
  );

  return (
    <section aria-labelledby="preview-title" className="card space-y-3 p-4">
      <h2 id="preview-title" className="text-sm font-semibold">
        Quote preview
      </h2>
      <div className="grid grid-cols-3 gap-2">
        <div>
          <label htmlFor="preview-zip" className="label">
            ZIP
          </label>
          <input id="preview-zip" className="input" inputMode="numeric" maxLength={5} value={zip} onChange={(e) => setZip(e.target.value)} placeholder="78704" />
        </div>
        <div className="col-span-2">
          <label htmlFor="preview-text" className="label">
            Customer&apos;s message
          </label>
          <input id="preview-text" className="input" value={text} onChange={(e) => setText(e.target.value)} placeholder="Two story house and the driveway" />
        </div>
      </div>
      <div aria-live="polite">
        {!ready ? <p className="text-sm text-slate-500">Type a 5-digit ZIP to see the quote.</p> : null}
        {ready && preview.error ? (
          <p role="alert" className="text-sm text-red-700">
            {errorMessage(preview.error, "No preview for this ZIP.")}
          </p>
        ) : null}
        {ready && preview.data ? <QuoteCard quote={preview.data} title="Preview" /> : null}
      </div>
    </section>
  );
}
