"use client";

import { useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useEffect, useMemo, useRef, useState } from "react";
import { $api, errorMessage, type Schemas } from "@/lib/api/client";
import { formatDateTime, formatPhone } from "@/lib/format";
import { messagesKey, POLL_MS, useLeadBookings, useLeadMessages } from "@/lib/queries";
import { useTimeZone } from "@/lib/session";
import { BookingCard } from "../booking-card";
import { CopyButton } from "../copy-button";
import { ErrorNotice } from "../error-notice";
import { Phone } from "../phone";
import { QuoteCard } from "../quote-card";
import { LeadStatusSelect } from "../lead-status-select";
import { OptedOutBadge } from "../status-badge";
import { MessageBubble } from "./message-bubble";
import { ReplyBox } from "./reply-box";

type Item = { at: string; message?: Schemas["MessageItem"]; quote?: Schemas["QuoteItem"] };

/** One conversation: the lead, its bookings, the messages and quotes in time order, the
 * reply box. Opening it marks it read. */
export function Thread({ leadId }: { leadId: string }) {
  const timeZone = useTimeZone();
  const queryClient = useQueryClient();
  const leadInit = { params: { path: { lead_id: leadId } } };
  const lead = $api.useQuery("get", "/api/v1/leads/{lead_id}", leadInit, { refetchInterval: POLL_MS });
  const messages = useLeadMessages(leadId);
  const quotes = $api.useQuery("get", "/api/v1/quotes", { params: { query: { lead_id: leadId, limit: 50 } } }, { refetchInterval: POLL_MS });
  const bookings = useLeadBookings(leadId);
  const [sendError, setSendError] = useState<string | null>(null);

  const refreshLead = () => {
    void queryClient.invalidateQueries({ queryKey: ["get", "/api/v1/leads/{lead_id}"] });
    void queryClient.invalidateQueries({ queryKey: ["get", "/api/v1/leads"] });
  };
  const markRead = $api.useMutation("post", "/api/v1/leads/{lead_id}/read", { onSuccess: refreshLead });
  const update = $api.useMutation("patch", "/api/v1/leads/{lead_id}", { onSuccess: refreshLead });
  const reply = $api.useMutation("post", "/api/v1/leads/{lead_id}/messages");

  // Read when opened, and again when something new comes in while it is open.
  const unread = lead.data?.unread;
  const { mutate: markReadNow } = markRead;
  useEffect(() => {
    if (unread) markReadNow(leadInit);
    // eslint-disable-next-line react-hooks/exhaustive-deps -- leadInit is rebuilt each render
  }, [unread, leadId, markReadNow]);

  const timeline = useMemo<Item[]>(() => {
    const items: Item[] = [
      ...(messages.data ?? []).map((m) => ({ at: m.created_at, message: m })),
      ...(quotes.data?.items ?? []).map((q) => ({ at: q.created_at, quote: q })),
    ];
    return items.sort((a, b) => a.at.localeCompare(b.at));
  }, [messages.data, quotes.data]);

  const bottom = useRef<HTMLDivElement>(null);
  const count = timeline.length;
  useEffect(() => {
    bottom.current?.scrollIntoView({ block: "end" });
  }, [count, leadId]);

  async function send(body: string): Promise<boolean> {
    setSendError(null);
    const key = messagesKey(leadId);
    const pending: Schemas["MessageItem"] = {
      id: `pending-${Date.now()}`,
      direction: "outbound",
      channel: "sms",
      kind: "manual",
      body,
      media: [],
      status: "sending",
      error_code: null,
      created_at: new Date().toISOString(),
      sent_at: null,
    };
    await queryClient.cancelQueries({ queryKey: key });
    queryClient.setQueryData<Schemas["MessageItem"][]>(key, (old) => [...(old ?? []), pending]);
    try {
      await reply.mutateAsync({ ...leadInit, body: { body } });
      return true;
    } catch (error) {
      queryClient.setQueryData<Schemas["MessageItem"][]>(key, (old) => (old ?? []).filter((m) => m.id !== pending.id));
      setSendError(errorMessage(error, "The reply was not sent."));
      return false;
    } finally {
      void queryClient.invalidateQueries({ queryKey: key });
      refreshLead();
    }
  }

  if (lead.error) return <div className="p-4"><ErrorNotice error={lead.error} fallback="This conversation could not be opened." /></div>;
  if (!lead.data) return null;
  const l = lead.data;
  const paused = l.automations_paused;

  return (
    <section aria-label="Conversation" className="flex h-full min-h-0 flex-col">
      <header className="border-b border-slate-200 bg-white px-4 py-3">
        <Link href="/inbox/" className="mb-1 inline-block text-sm text-brand-700 md:hidden">
          ← Conversations
        </Link>
        <div className="flex flex-wrap items-center justify-between gap-2">
          <div className="min-w-0">
            <h2 className="truncate text-base font-semibold" title={l.name ? undefined : (l.phone ?? undefined)}>
              {l.name || formatPhone(l.phone) || "Unknown caller"}
            </h2>
            <div className="flex flex-wrap items-center gap-2 text-sm text-slate-600">
              {l.name ? <Phone value={l.phone} copy /> : l.phone ? <CopyButton text={l.phone} label="Copy phone number" /> : null}
              {l.zip ? <span>ZIP {l.zip}</span> : null}
              <LeadStatusSelect lead={l} />
              {l.opted_out ? <OptedOutBadge /> : null}
            </div>
          </div>
          <button
            type="button"
            className="btn-secondary"
            disabled={update.isPending}
            onClick={() => update.mutate({ ...leadInit, body: { automations_paused: !paused } })}
          >
            {paused ? "Resume automations" : "Pause automations"}
          </button>
        </div>
        {paused ? (
          <p role="status" className="mt-2 rounded bg-amber-50 px-2 py-1 text-sm text-amber-900">
            Automations are paused for this lead: Lily sends nothing on its own until you resume.
          </p>
        ) : null}
        {update.error ? <div className="mt-2"><ErrorNotice error={update.error} /></div> : null}
      </header>

      <div className="min-h-0 flex-1 overflow-y-auto bg-slate-50 px-3 py-4" aria-live="polite" aria-relevant="additions">
        {(bookings.data ?? []).map((b) => (
          <div key={b.id} className="mb-3">
            <BookingCard booking={b} timeZone={timeZone} />
          </div>
        ))}
        {messages.error ? <ErrorNotice error={messages.error} /> : null}
        <ol className="space-y-2" aria-label="Messages">
          {timeline.map((item) =>
            item.message ? (
              <MessageBubble key={item.message.id} message={item.message} timeZone={timeZone} />
            ) : item.quote ? (
              <li key={item.quote.id} className="mx-auto max-w-md">
                <QuoteCard quote={item.quote} timeZone={timeZone} />
              </li>
            ) : null,
          )}
        </ol>
        <div ref={bottom} />
      </div>

      {sendError ? <div className="bg-white px-3 pt-2"><ErrorNotice error={{ error: { message: sendError } }} /></div> : null}
      <ReplyBox
        disabled={l.opted_out}
        disabledReason={
          l.opted_out
            ? `This customer opted out${l.opted_out_at ? ` on ${formatDateTime(l.opted_out_at, timeZone)}` : ""}: no texts can be sent until they reply START.`
            : undefined
        }
        onSend={send}
      />
    </section>
  );
}
