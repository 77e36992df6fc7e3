// Formatting for people: phone numbers, money, times in the tenant's timezone.

/** "+15125550134" -> "(512) 555-0134"; other countries' numbers as "+44 20 7946 0958"-ish
 * groups are not guessed: anything not a +1 NANP number is shown as given. */
export function formatPhone(e164: string | null | undefined): string {
  if (!e164) return "";
  const nanp = /^\+1(\d{3})(\d{3})(\d{4})$/.exec(e164);
  if (nanp) return `(${nanp[1]}) ${nanp[2]}-${nanp[3]}`;
  return e164;
}

/** Integer cents -> "$1,250" (whole amounts) or "$1,250.50". */
export function formatMoney(cents: number, currency = "USD"): string {
  const whole = cents % 100 === 0;
  return new Intl.NumberFormat("en-US", {
    style: "currency",
    currency,
    minimumFractionDigits: whole ? 0 : 2,
    maximumFractionDigits: whole ? 0 : 2,
  }).format(cents / 100);
}

/** "$270–$590" as the SMS shows a range. */
export function formatRange(low: number, high: number, currency = "USD"): string {
  return low === high ? formatMoney(low, currency) : `${formatMoney(low, currency)}–${formatMoney(high, currency)}`;
}

function parts(iso: string | Date, timeZone: string, options: Intl.DateTimeFormatOptions): string {
  const date = typeof iso === "string" ? new Date(iso) : iso;
  return new Intl.DateTimeFormat("en-US", { timeZone, ...options }).format(date);
}

/** "3:05 PM" */
export function formatTime(iso: string, timeZone: string): string {
  return parts(iso, timeZone, { hour: "numeric", minute: "2-digit" });
}

/** "Mon, Jun 1, 3:05 PM" */
export function formatDateTime(iso: string, timeZone: string): string {
  return parts(iso, timeZone, { weekday: "short", month: "short", day: "numeric", hour: "numeric", minute: "2-digit" });
}

/** The local calendar day of an instant in `timeZone`, as "YYYY-MM-DD" (for grouping). */
export function localDay(iso: string | Date, timeZone: string): string {
  const date = typeof iso === "string" ? new Date(iso) : iso;
  // en-CA formats dates as YYYY-MM-DD
  return new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" }).format(date);
}

/** "Monday, June 1" for a "YYYY-MM-DD" local day. */
export function formatDay(day: string): string {
  const [y, m, d] = day.split("-").map(Number);
  const noonUtc = new Date(Date.UTC(y ?? 1970, (m ?? 1) - 1, d ?? 1, 12));
  return new Intl.DateTimeFormat("en-US", { timeZone: "UTC", weekday: "long", month: "long", day: "numeric" }).format(noonUtc);
}

/** Short relative-ish stamp for lists: the time today, the weekday this week, else the date. */
export function formatStamp(iso: string, timeZone: string, now: Date = new Date()): string {
  const today = localDay(now, timeZone);
  const day = localDay(iso, timeZone);
  if (day === today) return formatTime(iso, timeZone);
  const ageDays = (now.getTime() - new Date(iso).getTime()) / 86_400_000;
  if (ageDays < 6) return parts(iso, timeZone, { weekday: "short" });
  return parts(iso, timeZone, { month: "short", day: "numeric" });
}

/** 42 -> "42 s", 150 -> "2 min 30 s", 7260 -> "2 h 1 min". */
export function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) {
    const rest = s % 60;
    return rest ? `${Math.floor(s / 60)} min ${rest} s` : `${s / 60} min`;
  }
  const minutes = Math.round((s % 3600) / 60);
  return minutes ? `${Math.floor(s / 3600)} h ${minutes} min` : `${Math.floor(s / 3600)} h`;
}

export function formatPercent(rate: number): string {
  return `${Math.round(rate * 1000) / 10}%`;
}
