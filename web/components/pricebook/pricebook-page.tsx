"use client";

import { $api, errorCode } from "@/lib/api/client";
import { formatDateTime } from "@/lib/format";
import { useIsOwner, useTimeZone } from "@/lib/session";
import { ErrorNotice } from "../error-notice";
import { PageHeader } from "../page-header";
import { PriceBookEditor } from "./pricebook-editor";
import { QuotePreview } from "./quote-preview";

export function PriceBookPage() {
  const timeZone = useTimeZone();
  const canEdit = useIsOwner();
  const book = $api.useQuery("get", "/api/v1/pricebook");
  const missing = errorCode(book.error) === "not_found";
  const loaded = book.data !== undefined || missing;

  return (
    <div>
      <PageHeader title="Price book">
        {book.data ? (
          <span className="text-sm text-slate-600">
            Version {book.data.version} · saved {formatDateTime(book.data.created_at, timeZone)}
          </span>
        ) : null}
      </PageHeader>
      <div className="grid gap-6 px-4 py-4 md:px-6 lg:grid-cols-[minmax(0,1fr)_22rem]">
        <div className="min-w-0">
          {book.error && !missing ? <ErrorNotice error={book.error} /> : null}
          {missing ? <p className="mb-4 text-sm text-slate-700">No price book yet: fill this in and save the first version.</p> : null}
          {loaded ? <PriceBookEditor current={book.data ?? null} canEdit={canEdit} /> : null}
        </div>
        {/* first on a phone: the result of an edit is what the owner wants to see */}
        <div className="order-first lg:sticky lg:top-4 lg:order-none lg:self-start">
          <QuotePreview />
        </div>
      </div>
    </div>
  );
}
