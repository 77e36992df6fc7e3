import type { Metadata } from "next";
import { Suspense } from "react";
import { SignInForm } from "@/components/signin-form";

export const metadata: Metadata = { title: "Sign in" };

export default function SignInPage() {
  return (
    <main className="flex min-h-dvh items-center justify-center px-4 py-10">
      <div className="w-full max-w-sm">
        <h1 className="mb-1 text-2xl font-semibold text-brand-700">Lily</h1>
        <p className="mb-6 text-sm text-slate-600">Sign in to your dashboard.</p>
        <Suspense>
          <SignInForm />
        </Suspense>
      </div>
    </main>
  );
}
