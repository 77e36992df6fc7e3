import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import type { Schemas } from "@/lib/api/client";
import { renderSignedIn, stubApi } from "@/test/render";
import { ConversationList } from "./conversation-list";

function lead(n: number, changes: Partial<Schemas["LeadItem"]> = {}): Schemas["LeadItem"] {
  return {
    id: `l${n}`,
    name: null,
    phone: `+1512555${String(n).padStart(4, "0")}`,
    email: null,
    zip: null,
    status: "contacted",
    opted_out: false,
    created_at: "2026-06-01T15:00:00Z",
    last_activity_at: "2026-06-01T15:00:00Z",
    unread: false,
    ...changes,
  };
}

describe("ConversationList", () => {
  it("lists conversations, marking the unread and the opted out, and pages back", async () => {
    stubApi({
      "GET /api/v1/leads": (request) =>
        new URL(request.url).searchParams.get("cursor") === "next"
          ? { status: 200, body: { items: [lead(3)], next_cursor: null } }
          : {
              status: 200,
              body: { items: [lead(1, { unread: true, name: "Pat" }), lead(2, { opted_out: true })], next_cursor: "next" },
            },
    });
    renderSignedIn(<ConversationList selected="l2" />);
    const list = await screen.findByRole("list", { name: "Conversations" });
    const links = within(list).getAllByRole("link");
    expect(links[0]).toHaveAccessibleName("Pat, unread Jun 1 (512) 555-0001 contacted");
    expect(links[0]?.getAttribute("href")).toMatch(/^\/inbox\/?\?lead=l1$/); // Next adds the slash in the build
    expect(links[1]).toHaveAttribute("aria-current", "true");
    expect(within(links[1]!).getByText("Opted out")).toBeInTheDocument();

    await userEvent.click(screen.getByRole("button", { name: "Show older conversations" }));
    expect(await within(list).findByText("(512) 555-0003")).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "Show older conversations" })).toBeNull();
  });
});
