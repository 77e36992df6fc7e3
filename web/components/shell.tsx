"use client";

import Link from "next/link";
import { usePathname } from "next/navigation";
import { useQueryClient } from "@tanstack/react-query";
import { useEffect, type ReactNode } from "react";
import { $api, fetchClient, SIGN_IN_PATH } from "@/lib/api/client";
import { SessionProvider } from "@/lib/session";
import { cachedTenant, cacheTenant, forgetTenant } from "@/lib/tenant-cache";
import { ErrorNotice } from "./error-notice";

export const NAV = [
  { href: "/inbox/", label: "Inbox" },
  { href: "/leads/", label: "Leads" },
  { href: "/bookings/", label: "Bookings" },
  { href: "/pricebook/", label: "Price book" },
  { href: "/stats/", label: "Stats" },
  { href: "/settings/", label: "Settings" },
  { href: "/billing/", label: "Billing" },
] as const;

async function signOut() {
  forgetTenant();
  await fetchClient.DELETE("/api/v1/auth/session");
  window.location.assign(SIGN_IN_PATH);
}

/** The signed-in frame: navigation, the tenant (its timezone for every time shown), and the
 * page. A 401 from any call sends the browser to the sign-in page (lib/api/client). */
export function Shell({ children }: { children: ReactNode }) {
  const pathname = usePathname();
  const queryClient = useQueryClient();
  const tenant = $api.useQuery("get", "/api/v1/tenant", {}, { staleTime: 60_000 });
  // Last visit's tenant (this tab) lets the page render at once on a full load, while the
  // request above is on its way (after hydration: the exported HTML has no tenant in it).
  useEffect(() => {
    const cached = cachedTenant();
    if (cached) queryClient.setQueryData(["get", "/api/v1/tenant", {}], (now: unknown) => now ?? cached, { updatedAt: 0 });
  }, [queryClient]);
  const answered = tenant.dataUpdatedAt > 0 ? tenant.data : undefined;
  useEffect(() => {
    if (answered) cacheTenant(answered);
  }, [answered]);
  const me = $api.useQuery("get", "/api/v1/me", {}, { staleTime: 60_000 });

  return (
    <div className="flex min-h-dvh flex-col md:flex-row">
      <a href="#main" className="sr-only focus:not-sr-only focus:absolute focus:left-2 focus:top-2 focus:z-50 focus:rounded focus:bg-white focus:p-2">
        Skip to content
      </a>
      <header className="sticky top-0 z-20 border-b border-slate-200 bg-white md:static md:w-56 md:shrink-0 md:border-b-0 md:border-r">
        <div className="flex items-center justify-between gap-2 px-4 py-3 md:flex-col md:items-start md:py-5">
          <div className="min-w-0">
            <div className="text-lg font-semibold text-brand-700">Lily</div>
            <div className="truncate text-xs text-slate-500" title={me.data?.user?.email ?? undefined}>
              {tenant.data?.name ?? "\u00a0"}
            </div>
          </div>
          <button type="button" className="text-sm text-slate-600 underline-offset-2 hover:underline md:hidden" onClick={signOut}>
            Sign out
          </button>
        </div>
        <nav aria-label="Main" className="overflow-x-auto md:overflow-visible">
          <ul className="flex gap-1 px-2 pb-2 md:flex-col md:px-3">
            {NAV.map((item) => {
              const current = pathname === item.href || pathname === item.href.slice(0, -1);
              return (
                <li key={item.href}>
                  <Link
                    href={item.href}
                    aria-current={current ? "page" : undefined}
                    className={`block whitespace-nowrap rounded-md px-3 py-2 text-sm font-medium ${
                      current ? "bg-brand-50 text-brand-700" : "text-slate-700 hover:bg-slate-100"
                    }`}
                  >
                    {item.label}
                  </Link>
                </li>
              );
            })}
          </ul>
        </nav>
        <div className="hidden px-6 py-4 md:block">
          <div className="truncate text-xs text-slate-500">{me.data?.user?.email}</div>
          <button type="button" className="mt-1 text-sm text-slate-600 underline-offset-2 hover:underline" onClick={signOut}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" className="min-w-0 flex-1">
        {tenant.data ? (
          <SessionProvider value={{ tenant: tenant.data, timeZone: tenant.data.timezone, me: me.data }}>{children}</SessionProvider>
        ) : tenant.error ? (
          <div className="p-6">
            <ErrorNotice error={tenant.error} />
          </div>
        ) : null}
      </main>
    </div>
  );
}
