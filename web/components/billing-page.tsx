"use client";

import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import type { Schemas } from "@/lib/api/client";
import { billingRedirect, getBilling, heldReasonText } from "@/lib/billing";
import { formatDateTime } from "@/lib/format";
import { useIsOwner, useTimeZone } from "@/lib/session";
import { ErrorNotice } from "./error-notice";
import { PageHeader } from "./page-header";

type Billing = Schemas["BillingOut"];

const PLANS: { key: Schemas["Plan"]; label: string }[] = [
  { key: "starter", label: "Starter" },
  { key: "pro", label: "Pro" },
];

export function BillingPage() {
  const billing = useQuery({ queryKey: ["billing"], queryFn: getBilling, staleTime: 30_000 });
  const answer = billing.data;
  return (
    <div>
      <PageHeader title="Billing" />
      <div className="mx-auto max-w-3xl space-y-6 px-4 py-4 md:px-6">
        {billing.error ? <ErrorNotice error={{ error: { message: billing.error.message } }} /> : null}
        {answer?.kind === "not_set_up" ? (
          <section className="card p-4" aria-labelledby="billing-off">
            <h2 id="billing-off" className="text-base font-semibold">
              Billing is not set up
            </h2>
            <p className="mt-1 text-sm text-slate-700">
              This Lily does not bill through Stripe, so there is no plan to choose and no limit on automated texts.
              Whoever runs Lily turns billing on with <code>LILY_STRIPE_SECRET_KEY</code>.
            </p>
          </section>
        ) : null}
        {answer?.kind === "not_set_up" && answer.billing ? <Usage billing={answer.billing} /> : null}
        {answer?.kind === "forbidden" ? <p className="text-sm text-slate-700">Only an owner can see billing.</p> : null}
        {answer?.kind === "ok" ? <Billing billing={answer.billing} /> : null}
      </div>
    </div>
  );
}

function Billing({ billing }: { billing: Billing }) {
  const timeZone = useTimeZone();
  const canEdit = useIsOwner();
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function go(action: "checkout" | "portal", plan?: Schemas["Plan"]) {
    setBusy(true);
    setError(null);
    try {
      window.location.assign(await billingRedirect(action, plan));
    } catch (e) {
      setError((e as Error).message);
      setBusy(false);
    }
  }

  return (
    <>
      <section aria-labelledby="plan-title" className="card p-4">
        <h2 id="plan-title" className="text-base font-semibold">
          Plan
        </h2>
        <dl className="mt-2 grid grid-cols-[9rem_1fr] gap-y-1 text-sm">
          <dt className="text-slate-600">Plan</dt>
          <dd className="font-medium capitalize">{billing.plan ?? (billing.status === "trialing" ? "Free trial" : "None")}</dd>
          <dt className="text-slate-600">Status</dt>
          <dd className="capitalize">{billing.status.replace(/_/g, " ")}</dd>
          {billing.trial_ends_at ? (
            <>
              <dt className="text-slate-600">Trial ends</dt>
              <dd>{formatDateTime(billing.trial_ends_at, timeZone)}</dd>
            </>
          ) : null}
          {billing.current_period_end ? (
            <>
              <dt className="text-slate-600">Renews</dt>
              <dd>{formatDateTime(billing.current_period_end, timeZone)}</dd>
            </>
          ) : null}
        </dl>
        {billing.held_reason ? (
          <p role="alert" className="mt-3 rounded-md bg-amber-50 px-3 py-2 text-sm text-amber-900">
            Automated texts are held: {heldReasonText(billing.held_reason)}.
          </p>
        ) : null}
      </section>
      <Usage billing={billing} />
      <section aria-labelledby="manage-title" className="card p-4">
        <h2 id="manage-title" className="text-base font-semibold">
          Manage
        </h2>
        <div className="mt-3 flex flex-wrap gap-2">
          {/* no subscription yet: choose a plan (Stripe Checkout); with one, Stripe's portal
              changes the plan or the card, or cancels */}
          {billing.plan === null ? (
            PLANS.map((p) => (
              <button key={p.key} type="button" className="btn-primary" disabled={!canEdit || busy} onClick={() => go("checkout", p.key)}>
                Choose {p.label}
              </button>
            ))
          ) : (
            <button type="button" className="btn-secondary" disabled={!canEdit || busy} onClick={() => go("portal")}>
              Open the billing portal
            </button>
          )}
        </div>
        {!canEdit ? <p className="mt-2 text-sm text-slate-600">Only an owner can change billing.</p> : null}
        {error ? <p role="alert" className="mt-2 text-sm text-red-700">{error}</p> : null}
      </section>
    </>
  );
}

/** This month's automated texts against the plan's allowance, and the owner's alerts apart. */
function Usage({ billing }: { billing: Billing }) {
  const used = billing.sms_used;
  const limit = billing.sms_limit;
  const share = limit ? Math.min(1, used / limit) : 0;
  return (
    <section aria-labelledby="usage-title" className="card p-4">
      <h2 id="usage-title" className="text-base font-semibold">
        Automated texts this month
      </h2>
      <div
        role="meter"
        aria-label="Automated texts used this month"
        aria-valuemin={0}
        aria-valuemax={limit ?? Math.max(used, 1)}
        aria-valuenow={used}
        aria-valuetext={limit ? `${used} of ${limit}` : `${used}, no limit`}
        className="mt-3 h-3 rounded bg-slate-100"
      >
        <div className={`h-3 rounded ${share >= 1 ? "bg-red-500" : share >= 0.8 ? "bg-amber-500" : "bg-brand-500"}`} style={{ width: `${share * 100}%` }} />
      </div>
      <p className="mt-1 text-sm tabular-nums text-slate-700">
        {used} {limit ? `of ${limit}` : "(no limit)"} · manual replies do not count ({billing.manual_sms} this month)
      </p>
      <p className="mt-1 text-sm tabular-nums text-slate-700">
        Alert texts to your own phones this month: {billing.alert_sms} (not counted in your plan&apos;s texts)
      </p>
    </section>
  );
}
