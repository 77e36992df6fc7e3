// The tenant's settings from the last visit in this tab, so that a full page load shows the
// page at once (its times need the tenant's timezone) while /api/v1/tenant is asked again.
// Per tab (sessionStorage), no secrets in it (the API gives only whether each is set), and
// forgotten at sign-out and on a 401.
import type { Schemas } from "./api/client";

const KEY = "lily.tenant";

export function cachedTenant(): Schemas["TenantSettings"] | undefined {
  try {
    const text = window.sessionStorage.getItem(KEY);
    return text ? (JSON.parse(text) as Schemas["TenantSettings"]) : undefined;
  } catch {
    return undefined;
  }
}

export function cacheTenant(tenant: Schemas["TenantSettings"]): void {
  try {
    window.sessionStorage.setItem(KEY, JSON.stringify(tenant));
  } catch {
    /* storage full or off: only the next load is slower */
  }
}

export function forgetTenant(): void {
  try {
    window.sessionStorage.removeItem(KEY);
  } catch {
    /* nothing to forget */
  }
}
