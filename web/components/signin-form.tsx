"use client";

import { useSearchParams } from "next/navigation";
import { useState, type FormEvent } from "react";
import { errorMessage, fetchClient } from "@/lib/api/client";

/** Only a path on this origin may follow the sign-in (no open redirect). */
export function safeNext(next: string | null): string {
  if (!next || !next.startsWith("/") || next.startsWith("//") || next.startsWith("/\\")) return "/inbox/";
  if (next.startsWith("/signin")) return "/inbox/";
  return next;
}

export function SignInForm() {
  const params = useSearchParams();
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    setBusy(true);
    setError(null);
    try {
      const { error: failure, response } = await fetchClient.POST("/api/v1/auth/session", {
        body: { email: String(form.get("email") ?? ""), password: String(form.get("password") ?? "") },
      });
      if (response.ok) {
        window.location.assign(safeNext(params.get("next")));
        return;
      }
      if (response.status === 429) {
        const wait = Number(response.headers.get("Retry-After"));
        setError(
          wait > 0
            ? `Too many attempts. Try again in ${Math.ceil(wait / 60)} min.`
            : "Too many attempts. Try again later.",
        );
      } else {
        setError(errorMessage(failure, "Wrong email or password."));
      }
    } catch {
      setError("Lily cannot be reached. Check your connection.");
    }
    setBusy(false);
  }

  return (
    <form onSubmit={submit} className="card space-y-4 p-5" noValidate={false}>
      <div>
        <label htmlFor="email" className="label">
          Email
        </label>
        <input id="email" name="email" type="email" autoComplete="username" required className="input" autoFocus />
      </div>
      <div>
        <label htmlFor="password" className="label">
          Password
        </label>
        <input id="password" name="password" type="password" autoComplete="current-password" required className="input" />
      </div>
      {error ? (
        <p role="alert" className="text-sm text-red-700">
          {error}
        </p>
      ) : null}
      <button type="submit" className="btn-primary w-full" disabled={busy}>
        Sign in
      </button>
    </form>
  );
}
