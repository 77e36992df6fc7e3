import type { Schemas } from "@/lib/api/client";
import { formatDateTime, formatTime } from "@/lib/format";

export function BookingCard({ booking, timeZone }: { booking: Schemas["BookingItem"]; timeZone: string }) {
  const cancelled = booking.status === "cancelled";
  return (
    <section aria-label="Booking" className="card p-3 text-sm">
      <div className="flex items-baseline justify-between gap-2">
        <h3 className="font-semibold">Booking</h3>
        <span className={`rounded-full px-2 py-0.5 text-xs font-medium capitalize ${cancelled ? "bg-slate-200 text-slate-700" : "bg-emerald-100 text-emerald-800"}`}>
          {booking.status}
        </span>
      </div>
      <p className={`mt-1 ${cancelled ? "line-through" : ""}`}>
        {booking.title}: {formatDateTime(booking.start_at, timeZone)}–{formatTime(booking.end_at, timeZone)}
      </p>
      {booking.address ? <p className="text-slate-600">{booking.address}</p> : null}
    </section>
  );
}
