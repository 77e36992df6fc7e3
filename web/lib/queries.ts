"use client";

import { useQuery } from "@tanstack/react-query";
import { fetchClient, type Schemas } from "./api/client";

/** New messages and leads appear without a reload: lists that change under the user are
 * polled every 5 s while the tab is visible (TanStack Query pauses intervals in a hidden tab
 * and refetches when it is shown again). */
export const POLL_MS = 5_000;

const PAGE = 200;

/** Every page of a keyset-paged list, following `next_cursor` (a guard stops at 20 pages). */
async function allPages<T>(page: (cursor: string | null) => Promise<{ items: T[]; next_cursor: string | null }>): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | null = null;
  for (let i = 0; i < 20; i++) {
    const result = await page(cursor);
    items.push(...result.items);
    cursor = result.next_cursor;
    if (!cursor) break;
  }
  return items;
}

async function must<T>(promise: Promise<{ data?: T; error?: unknown }>): Promise<T> {
  const { data, error } = await promise;
  if (error !== undefined || data === undefined) throw error ?? new Error("no data");
  return data;
}

export const messagesKey = (leadId: string) => ["lead-messages", leadId] as const;

/** A lead's whole conversation, oldest first, polled. */
export function useLeadMessages(leadId: string) {
  return useQuery({
    queryKey: messagesKey(leadId),
    queryFn: () =>
      allPages((cursor) =>
        must(
          fetchClient.GET("/api/v1/leads/{lead_id}/messages", {
            params: { path: { lead_id: leadId }, query: { limit: PAGE, cursor } },
          }),
        ),
      ),
    refetchInterval: POLL_MS,
  });
}

export const leadBookingsKey = (leadId: string) => ["lead-bookings", leadId] as const;

/** A lead's bookings, soonest first (`GET /api/v1/bookings?lead_id=`). */
export function useLeadBookings(leadId: string) {
  return useQuery({
    queryKey: leadBookingsKey(leadId),
    queryFn: (): Promise<Schemas["BookingItem"][]> =>
      allPages((cursor) =>
        must(fetchClient.GET("/api/v1/bookings", { params: { query: { lead_id: leadId, limit: PAGE, cursor } } })),
      ),
    staleTime: 30_000,
  });
}
