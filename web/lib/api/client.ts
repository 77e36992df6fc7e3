import createFetchClient, { type Middleware } from "openapi-fetch";
import createQueryClient from "openapi-react-query";
import { forgetTenant } from "../tenant-cache";
import type { components, paths } from "./schema";

export type Schemas = components["schemas"];

const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);
export const SIGN_IN_PATH = "/signin/";

/** The value of a cookie readable by scripts (only `lily_csrf` is; the session is HttpOnly). */
export function readCookie(name: string, cookies: string = document.cookie): string | null {
  for (const part of cookies.split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) return decodeURIComponent(rest.join("="));
  }
  return null;
}

/** The CSRF header an unsafe request needs: the token the session cookie came with. */
export function csrfHeader(method: string): Record<string, string> {
  if (!UNSAFE.has(method.toUpperCase())) return {};
  const token = readCookie("lily_csrf");
  return token ? { "X-CSRF-Token": token } : {};
}

/** Every unsafe request carries it. */
export const csrfMiddleware: Middleware = {
  onRequest({ request }) {
    for (const [name, value] of Object.entries(csrfHeader(request.method))) request.headers.set(name, value);
    return request;
  },
};

/** A 401 anywhere but the sign-in itself means the session is gone: back to the sign-in page,
 * remembering where we were. */
export const signedOutMiddleware: Middleware = {
  onResponse({ request, response }) {
    const signingIn = new URL(request.url).pathname.startsWith("/api/v1/auth/");
    if (response.status === 401 && !signingIn) goToSignIn();
    return response;
  },
};

export function goToSignIn(): void {
  if (typeof window === "undefined" || window.location.pathname === SIGN_IN_PATH) return;
  forgetTenant();
  const next = window.location.pathname + window.location.search;
  window.location.assign(`${SIGN_IN_PATH}?next=${encodeURIComponent(next)}`);
}

/** Relative URLs: the dashboard is served by the API's own origin. */
export const fetchClient = createFetchClient<paths>({
  baseUrl: typeof window === "undefined" ? "http://localhost" : window.location.origin,
  credentials: "same-origin",
  // Looked up at each call (not captured once), so that tests can stub it.
  fetch: (request: Request) => globalThis.fetch(request),
});
fetchClient.use(csrfMiddleware, signedOutMiddleware);

export const $api = createQueryClient(fetchClient);

/** The `error.message` of an API error body, or a fallback. */
export function errorMessage(error: unknown, fallback = "Something went wrong."): string {
  const body = error as { error?: { message?: unknown } } | null;
  const message = body?.error?.message;
  return typeof message === "string" && message ? message : fallback;
}

/** The `error.code` of an API error body (e.g. "not_found"), if any. */
export function errorCode(error: unknown): string | null {
  const code = (error as { error?: { code?: unknown } } | null)?.error?.code;
  return typeof code === "string" ? code : null;
}

/** The `error.field` of an API error body (e.g. "book.services[0].low"), if any. */
export function errorField(error: unknown): string | null {
  const field = (error as { error?: { field?: unknown } } | null)?.error?.field;
  return typeof field === "string" ? field : null;
}
