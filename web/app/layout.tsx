import type { Metadata, Viewport } from "next";
import type { ReactNode } from "react";
import { Providers } from "./providers";
import "./globals.css";

export const metadata: Metadata = {
  title: { default: "Lily", template: "%s · Lily" },
  description: "Missed-call text-back for pressure-washing businesses",
};

export const viewport: Viewport = { width: "device-width", initialScale: 1, themeColor: "#0f6fc2" };

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body className="min-h-dvh">
        <Providers>{children}</Providers>
      </body>
    </html>
  );
}
