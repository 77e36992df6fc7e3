"use client";

import { useSearchParams } from "next/navigation";
import { ConversationList } from "./conversation-list";
import { Thread } from "./thread";

/** Two panes on a wide screen; on a phone, the list or (with ?lead=) the conversation. */
export function Inbox() {
  const selected = useSearchParams().get("lead");
  return (
    <div className="flex h-[calc(100dvh-7.5rem)] min-h-0 md:h-dvh">
      <div className={`${selected ? "hidden md:block" : "block"} w-full overflow-y-auto border-r border-slate-200 bg-white md:w-80 md:shrink-0`}>
        <h1 className="border-b border-slate-200 px-4 py-3 text-lg font-semibold">Inbox</h1>
        <ConversationList selected={selected} />
      </div>
      <div className={`${selected ? "flex" : "hidden md:flex"} min-w-0 flex-1 flex-col`}>
        {selected ? (
          <Thread key={selected} leadId={selected} />
        ) : (
          <p className="m-auto p-6 text-sm text-slate-500">Choose a conversation.</p>
        )}
      </div>
    </div>
  );
}
