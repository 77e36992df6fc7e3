import { fireEvent, render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { Phone } from "./phone";

describe("Phone", () => {
  it("shows the number for people with E.164 on hover", () => {
    render(<Phone value="+15125550134" />);
    expect(screen.getByText("(512) 555-0134")).toHaveAttribute("title", "+15125550134");
  });

  it("copies E.164 with its button", async () => {
    const user = userEvent.setup();
    render(<Phone value="+15125550134" copy />);
    await user.click(screen.getByRole("button", { name: "Copy phone number" }));
    expect(await navigator.clipboard.readText()).toBe("+15125550134");
  });

  it("puts E.164 on the clipboard when the number is selected and copied", () => {
    render(<Phone value="+15125550134" />);
    const shown = screen.getByText("(512) 555-0134");
    vi.spyOn(window, "getSelection").mockReturnValue({ toString: () => "(512) 555-0134" } as Selection);
    const setData = vi.fn();
    fireEvent.copy(shown, { clipboardData: { setData } });
    expect(setData).toHaveBeenCalledWith("text/plain", "+15125550134");
  });
});
