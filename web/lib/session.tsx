"use client";

import { createContext, useContext, type ReactNode } from "react";
import type { Schemas } from "./api/client";

export type SessionInfo = {
  timeZone: string;
  tenant: Schemas["TenantSettings"];
  me: Schemas["Me"] | undefined;
};

const SessionContext = createContext<SessionInfo | null>(null);

export function SessionProvider({ value, children }: { value: SessionInfo; children: ReactNode }) {
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionInfo {
  const value = useContext(SessionContext);
  if (!value) throw new Error("useSession outside the signed-in shell");
  return value;
}

/** The tenant's timezone: every time on the dashboard is shown in it. */
export function useTimeZone(): string {
  return useSession().timeZone;
}

/** Owners may change the tenant, the price book, API keys and billing; operators may not. */
export function useIsOwner(): boolean {
  const { me } = useSession();
  // Until /me answers, show the owner's controls: the API refuses an operator's change (403).
  return me?.user ? me.user.role === "owner" : true;
}
