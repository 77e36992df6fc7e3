"use client";

import type { ClipboardEvent } from "react";
import { formatPhone } from "@/lib/format";
import { CopyButton } from "./copy-button";

/** A phone number for people, "(512) 555-0134", with its E.164 form on hover and on copy
 * (selecting it and copying gives "+15125550134"). */
export function Phone({ value, copy = false }: { value: string | null | undefined; copy?: boolean }) {
  if (!value) return null;
  function onCopy(event: ClipboardEvent<HTMLSpanElement>) {
    const selected = window.getSelection()?.toString() ?? "";
    if (selected && formatPhone(value).includes(selected.trim())) {
      event.clipboardData.setData("text/plain", value!);
      event.preventDefault();
    }
  }
  return (
    <span className="inline-flex items-center gap-1.5">
      <span title={value} onCopy={onCopy} className="tabular-nums">
        {formatPhone(value)}
      </span>
      {copy ? <CopyButton text={value} label="Copy phone number" /> : null}
    </span>
  );
}
