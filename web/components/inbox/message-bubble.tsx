import type { Schemas } from "@/lib/api/client";
import { formatDateTime } from "@/lib/format";

const KIND_LABELS: Partial<Record<Schemas["MessageKind"], string>> = {
  missed_call: "Text-back",
  prompt: "Automatic prompt",
  quote: "Automatic quote",
  decline: "Out-of-area reply",
  help: "Help reply",
  confirmation: "Booking confirmation",
  review_request: "Review request",
  manual: "Your reply",
};

const STATUS_LABELS: Partial<Record<Schemas["MessageStatus"], string>> = {
  queued: "Queued",
  sending: "Sending…",
  sent: "Sent",
  delivered: "Delivered",
  undelivered: "Not delivered",
  failed: "Failed",
  sandbox: "Sandbox (not sent)",
  suppressed: "Not sent: opted out",
  held: "Held",
};

const PROBLEM: ReadonlySet<Schemas["MessageStatus"]> = new Set(["failed", "undelivered", "suppressed", "held"]);

/** The media link as the page may load it: a link to this origin's /api/v1/media is made
 * relative, so that it is same-origin under the dashboard's CSP whatever LILY_PUBLIC_URL says. */
export function mediaSrc(url: string): string {
  try {
    const parsed = new URL(url, "http://placeholder.invalid");
    if (parsed.pathname.startsWith("/api/v1/media/")) return parsed.pathname + parsed.search;
  } catch {
    /* leave it */
  }
  return url;
}

export function MessageBubble({ message, timeZone }: { message: Schemas["MessageItem"]; timeZone: string }) {
  const inbound = message.direction === "inbound";
  const label = inbound ? "Customer" : (KIND_LABELS[message.kind] ?? "Lily");
  const status = inbound ? null : STATUS_LABELS[message.status];
  const when = message.sent_at ?? message.created_at;
  return (
    <li className={`flex ${inbound ? "justify-start" : "justify-end"}`}>
      <article
        aria-label={`${label}, ${formatDateTime(when, timeZone)}`}
        className={`max-w-[85%] rounded-2xl px-3 py-2 text-sm shadow-xs sm:max-w-[70%] ${
          inbound ? "rounded-bl-sm border border-slate-200 bg-white" : "rounded-br-sm bg-brand-700 text-white"
        } ${message.status === "sending" ? "opacity-70" : ""}`}
      >
        {message.body ? <p className="whitespace-pre-wrap break-words">{message.body}</p> : null}
        {message.media.length > 0 ? (
          <div className="mt-2 flex flex-wrap gap-2">
            {message.media.map((m, i) =>
              m.url ? (
                <a key={i} href={mediaSrc(m.url)} target="_blank" rel="noreferrer" className="block">
                  {/* eslint-disable-next-line @next/next/no-img-element -- static export: no image optimiser */}
                  <img
                    src={mediaSrc(m.url)}
                    alt={`Photo ${i + 1} from the customer`}
                    loading="lazy"
                    className="h-32 w-32 rounded-lg object-cover"
                  />
                </a>
              ) : (
                <span key={i} className="flex h-32 w-32 items-center justify-center rounded-lg bg-slate-100 text-center text-xs text-slate-500">
                  Photo {i + 1} is being saved
                </span>
              ),
            )}
          </div>
        ) : null}
        <p className={`mt-1 text-[11px] ${inbound ? "text-slate-500" : "text-brand-100"}`}>
          {label} · <time dateTime={when}>{formatDateTime(when, timeZone)}</time>
          {status ? (
            <span className={PROBLEM.has(message.status) ? "font-semibold" : ""}>
              {" "}
              · {status}
              {message.error_code ? ` (${message.error_code})` : ""}
            </span>
          ) : null}
        </p>
      </article>
    </li>
  );
}
