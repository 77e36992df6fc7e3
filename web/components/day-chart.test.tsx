import { render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { DayChart, niceTicks } from "./day-chart";

describe("DayChart", () => {
  it("draws a bar per figure and lists the figures for screen readers", () => {
    const { container } = render(
      <DayChart
        days={[
          { date: "2026-06-01", leads: 3, quotes: 2, bookings: 1 },
          { date: "2026-06-02", leads: 0, quotes: 0, bookings: 0 },
        ]}
      />,
    );
    expect(screen.getByRole("img", { name: "Leads, quotes and bookings by day" })).toBeInTheDocument();
    expect(container.querySelectorAll("rect")).toHaveLength(3);
    expect(screen.getByRole("rowheader", { name: "Monday, June 1" })).toBeInTheDocument();
  });

  it("steps its axis in whole round numbers", () => {
    expect(niceTicks(1)).toEqual([0, 1]);
    expect(niceTicks(3)).toEqual([0, 1, 2, 3]);
    expect(niceTicks(17)).toEqual([0, 5, 10, 15, 20]);
    expect(niceTicks(230)).toEqual([0, 100, 200, 300]);
  });
});
