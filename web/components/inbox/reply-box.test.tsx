import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { ReplyBox } from "./reply-box";

describe("ReplyBox", () => {
  it("is labelled Reply, sends with Send and clears", async () => {
    const onSend = vi.fn(() => true);
    render(<ReplyBox onSend={onSend} />);
    const box = screen.getByRole("textbox", { name: "Reply" });
    const send = screen.getByRole("button", { name: "Send" });
    expect(send).toBeDisabled();
    await userEvent.type(box, "  On our way!  ");
    await userEvent.click(send);
    expect(onSend).toHaveBeenCalledWith("On our way!");
    expect(box).toHaveValue("");
  });

  it("sends with Ctrl+Enter", async () => {
    const onSend = vi.fn(() => true);
    render(<ReplyBox onSend={onSend} />);
    await userEvent.type(screen.getByRole("textbox", { name: "Reply" }), "Hi{Control>}{Enter}{/Control}");
    expect(onSend).toHaveBeenCalledWith("Hi");
  });

  it("gives the text back when sending failed", async () => {
    render(<ReplyBox onSend={() => false} />);
    const box = screen.getByRole("textbox", { name: "Reply" });
    await userEvent.type(box, "Hello");
    await userEvent.click(screen.getByRole("button", { name: "Send" }));
    expect(box).toHaveValue("Hello");
  });

  it("is disabled, saying why, for an opted-out customer", () => {
    render(<ReplyBox onSend={vi.fn()} disabled disabledReason="This customer opted out." />);
    const box = screen.getByRole("textbox", { name: "Reply" });
    expect(box).toBeDisabled();
    expect(box).toHaveAccessibleDescription("This customer opted out.");
    expect(screen.getByRole("button", { name: "Send" })).toBeDisabled();
  });
});
