"use client";

import { useId, useState, type FormEvent, type KeyboardEvent } from "react";

/** The reply box: labelled "Reply", its button "Send"; Ctrl/⌘+Enter sends too. */
export function ReplyBox({
  disabled,
  disabledReason,
  onSend,
}: {
  disabled?: boolean;
  disabledReason?: string;
  onSend: (body: string) => Promise<boolean> | boolean;
}) {
  const [body, setBody] = useState("");
  const hint = useId();
  const canSend = !disabled && body.trim().length > 0;

  async function send(event?: FormEvent) {
    event?.preventDefault();
    if (!canSend) return;
    const text = body.trim();
    setBody("");
    const ok = await onSend(text);
    if (!ok) setBody((current) => current || text); // give the text back to retry
  }

  function onKeyDown(event: KeyboardEvent<HTMLTextAreaElement>) {
    if (event.key === "Enter" && (event.metaKey || event.ctrlKey)) void send(event);
  }

  return (
    <form onSubmit={send} className="border-t border-slate-200 bg-white p-3">
      {disabled && disabledReason ? (
        <p id={hint} className="mb-2 text-sm text-red-800">
          {disabledReason}
        </p>
      ) : (
        <p id={hint} className="sr-only">
          Control or Command plus Enter sends.
        </p>
      )}
      <div className="flex items-end gap-2">
        <label htmlFor="reply" className="sr-only">
          Reply
        </label>
        <textarea
          id="reply"
          name="reply"
          rows={2}
          value={body}
          disabled={disabled}
          aria-describedby={hint}
          maxLength={1600}
          onChange={(e) => setBody(e.target.value)}
          onKeyDown={onKeyDown}
          placeholder={disabled ? "" : "Write a reply…"}
          className="input min-h-[2.75rem] flex-1 resize-y"
        />
        <button type="submit" className="btn-primary" disabled={!canSend}>
          Send
        </button>
      </div>
    </form>
  );
}
