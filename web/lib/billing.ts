// The billing API (DESIGN §2.4: GET /api/v1/billing, POST /api/v1/billing/checkout and
// /portal) is not in the OpenAPI yet, so the generated client has no types for it. Until it
// is, the page reads the answer as `unknown` and takes from it only what it can check at
// run time (no hand-written API type); once the API lands, `npm run gen:api` and switch
// these calls to `fetchClient`.
import { csrfHeader, goToSignIn } from "./api/client";

export type BillingView = {
  /** false: this Lily does not bill (no Stripe): no trial, no limit. */
  enabled: boolean;
  plan: string | null;
  status: string | null;
  trialEndsAt: string | null;
  currentPeriodEnd: string | null;
  smsUsed: number | null;
  smsLimit: number | null;
  manualSms: number | null;
  heldReason: string | null;
};

export type BillingAnswer = { kind: "ok"; billing: BillingView } | { kind: "not_set_up"; billing?: BillingView } | { kind: "forbidden" };

const str = (v: unknown) => (typeof v === "string" && v ? v : null);
const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : null);

export function readBilling(body: unknown): BillingView {
  const b = (body ?? {}) as Record<string, unknown>;
  return {
    enabled: b.enabled !== false,
    plan: str(b.plan),
    status: str(b.status),
    trialEndsAt: str(b.trial_ends_at),
    currentPeriodEnd: str(b.current_period_end),
    smsUsed: num(b.sms_used),
    smsLimit: num(b.sms_limit),
    manualSms: num(b.manual_sms),
    heldReason: str(b.held_reason),
  };
}

async function call(method: "GET" | "POST", path: string, body?: unknown): Promise<Response> {
  const response = await fetch(new URL(path, window.location.origin), {
    method,
    credentials: "same-origin",
    headers: { ...csrfHeader(method), ...(body === undefined ? {} : { "Content-Type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401) goToSignIn();
  return response;
}

export class BillingError extends Error {}

export async function getBilling(): Promise<BillingAnswer> {
  const response = await call("GET", "/api/v1/billing");
  if (response.status === 404) return { kind: "not_set_up" };
  if (response.status === 403) return { kind: "forbidden" };
  if (!response.ok) throw new BillingError(`Billing answered ${response.status}.`);
  const billing = readBilling(await response.json());
  return billing.enabled ? { kind: "ok", billing } : { kind: "not_set_up", billing };
}

/** The Stripe page to go to (Checkout for a plan, or the billing portal). */
export async function billingRedirect(action: "checkout" | "portal", plan?: string): Promise<string> {
  const response = await call("POST", `/api/v1/billing/${action}`, action === "checkout" ? { plan } : {});
  const body = (await response.json().catch(() => null)) as Record<string, unknown> | null;
  const url = str(body?.url);
  if (!response.ok || !url) {
    const message = str((body?.error as Record<string, unknown> | undefined)?.message);
    throw new BillingError(message ?? (response.status === 404 ? "Billing is not set up on this Lily." : "Stripe could not be reached."));
  }
  return url;
}

const HELD: Record<string, string> = {
  trial_ended: "the free trial has ended; choose a plan to start texting again",
  subscription_canceled: "the subscription was cancelled",
  subscription_unpaid: "the subscription is unpaid",
  subscription_expired: "the subscription expired before it started",
  subscription_paused: "the subscription is paused",
  past_due_beyond_grace: "the last payment failed and the grace period is over",
  sms_allowance_reached: "this month's automated texts are used up",
};

/** Why automated texts are held, in words (the API's code when it is a new one). */
export function heldReasonText(code: string): string {
  return HELD[code] ?? code.replace(/_/g, " ");
}
