import { describe, expect, it } from "vitest";
import { formatDay, formatDuration, formatMoney, formatPhone, formatRange, formatStamp, formatTime, localDay } from "./format";

describe("formatPhone", () => {
  it("formats US numbers for people", () => {
    expect(formatPhone("+15125550134")).toBe("(512) 555-0134");
  });
  it("leaves other numbers as given, and nothing as nothing", () => {
    expect(formatPhone("+442079460958")).toBe("+442079460958");
    expect(formatPhone(null)).toBe("");
  });
});

describe("money", () => {
  it("shows whole amounts without cents and others with", () => {
    expect(formatMoney(27000)).toBe("$270");
    expect(formatMoney(8750)).toBe("$87.50");
    expect(formatMoney(125000)).toBe("$1,250");
  });
  it("shows a range as the SMS does", () => {
    expect(formatRange(27000, 59000)).toBe("$270–$590");
    expect(formatRange(15000, 15000)).toBe("$150");
  });
});

describe("times in the tenant's timezone", () => {
  const instant = "2026-06-02T03:30:00Z"; // 22:30 on June 1 in Chicago (CDT)
  it("puts an instant on the tenant's local day", () => {
    expect(localDay(instant, "America/Chicago")).toBe("2026-06-01");
    expect(localDay(instant, "UTC")).toBe("2026-06-02");
  });
  it("shows the local time", () => {
    expect(formatTime(instant, "America/Chicago")).toBe("10:30 PM");
  });
  it("names a local day", () => {
    expect(formatDay("2026-06-01")).toBe("Monday, June 1");
  });
  it("stamps today's items with their time, older ones with a weekday or date", () => {
    const now = new Date("2026-06-02T04:00:00Z");
    expect(formatStamp(instant, "America/Chicago", now)).toBe("10:30 PM");
    expect(formatStamp("2026-05-30T15:00:00Z", "America/Chicago", now)).toBe("Sat");
    expect(formatStamp("2026-04-01T15:00:00Z", "America/Chicago", now)).toBe("Apr 1");
  });
});

describe("formatDuration", () => {
  it("reads as people say it", () => {
    expect(formatDuration(42)).toBe("42 s");
    expect(formatDuration(150)).toBe("2 min 30 s");
    expect(formatDuration(120)).toBe("2 min");
    expect(formatDuration(7260)).toBe("2 h 1 min");
  });
});
