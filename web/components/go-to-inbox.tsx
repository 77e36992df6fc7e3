"use client";

import Link from "next/link";
import { useRouter } from "next/navigation";
import { useEffect } from "react";

/** `/` of a static export cannot redirect on the server: the inbox is the home page. */
export function GoToInbox() {
  const router = useRouter();
  useEffect(() => {
    router.replace("/inbox/");
  }, [router]);
  return (
    <main className="p-6 text-sm">
      <Link href="/inbox/" className="text-brand-700 underline">
        Go to the inbox
      </Link>
    </main>
  );
}
