// Billing (DESIGN §2.4) on the generated client: GET /api/v1/billing, POST
// /api/v1/billing/checkout and /portal. A 404 on the GET (a Lily from before billing) is shown
// like billing that is off.
import { errorCode, errorMessage, fetchClient, type Schemas } from "./api/client";

export type BillingAnswer =
  | { kind: "ok"; billing: Schemas["BillingOut"] }
  | { kind: "not_set_up"; billing?: Schemas["BillingOut"] }
  | { kind: "forbidden" };

export class BillingError extends Error {}

export async function getBilling(): Promise<BillingAnswer> {
  const { data, error, response } = await fetchClient.GET("/api/v1/billing");
  if (response.status === 404) return { kind: "not_set_up" };
  if (response.status === 403) return { kind: "forbidden" };
  if (!data) throw new BillingError(errorMessage(error, `Billing answered ${response.status}.`));
  return data.enabled ? { kind: "ok", billing: data } : { kind: "not_set_up", billing: data };
}

/** The Stripe page to go to: Checkout for a plan, or the billing portal. */
export async function billingRedirect(action: "checkout" | "portal", plan?: Schemas["Plan"]): Promise<string> {
  const { data, error } =
    action === "checkout" && plan
      ? await fetchClient.POST("/api/v1/billing/checkout", { body: { plan } })
      : await fetchClient.POST("/api/v1/billing/portal");
  if (data) return data.url;
  if (errorCode(error) === "not_found") throw new BillingError("Billing is not set up on this Lily.");
  throw new BillingError(errorMessage(error, "Stripe could not be reached. Try again in a moment."));
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
