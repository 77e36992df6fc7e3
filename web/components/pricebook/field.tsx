"use client";

import { useId, type InputHTMLAttributes, type ReactNode } from "react";
import type { FieldError } from "react-hook-form";

/** A labelled input with its inline error (aria-invalid + aria-describedby). */
export function Field({
  label,
  error,
  hint,
  className,
  srOnlyLabel,
  ...input
}: InputHTMLAttributes<HTMLInputElement> & { label: ReactNode; error?: FieldError; hint?: string; srOnlyLabel?: boolean }) {
  const id = useId();
  const described = [error ? `${id}-error` : null, hint ? `${id}-hint` : null].filter(Boolean).join(" ") || undefined;
  return (
    <div className={className}>
      <label htmlFor={id} className={srOnlyLabel ? "sr-only" : "label"}>
        {label}
      </label>
      <input id={id} className="input" aria-invalid={error ? true : undefined} aria-describedby={described} {...input} />
      {hint ? (
        <p id={`${id}-hint`} className="mt-1 text-xs text-slate-500">
          {hint}
        </p>
      ) : null}
      {error ? (
        <p id={`${id}-error`} className="field-error">
          {error.message}
        </p>
      ) : null}
    </div>
  );
}
