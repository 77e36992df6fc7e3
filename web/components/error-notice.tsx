import { errorMessage } from "@/lib/api/client";

export function ErrorNotice({ error, fallback }: { error: unknown; fallback?: string }) {
  const text = error instanceof TypeError ? "Lily cannot be reached. Check your connection." : errorMessage(error, fallback);
  return (
    <p role="alert" className="rounded-md border border-red-200 bg-red-50 px-3 py-2 text-sm text-red-800">
      {text}
    </p>
  );
}
