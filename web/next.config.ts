import type { NextConfig } from "next";
import { PHASE_DEVELOPMENT_SERVER } from "next/constants";

// A static export (web/out), served by `lily serve` at `/` on the API's own origin: every
// page is a client of /api/v1 at run time. `next dev` proxies /api to a local Lily instead
// (LILY_API_URL, default http://127.0.0.1:8100), since rewrites do not exist in an export.
export default function config(phase: string): NextConfig {
  const base: NextConfig = {
    trailingSlash: true, // every page is <page>/index.html
    images: { unoptimized: true },
    poweredByHeader: false,
    reactStrictMode: true,
    productionBrowserSourceMaps: false,
  };
  if (phase === PHASE_DEVELOPMENT_SERVER) {
    const api = process.env.LILY_API_URL ?? "http://127.0.0.1:8100";
    return {
      ...base,
      async rewrites() {
        return [{ source: "/api/:path*", destination: `${api}/api/:path*` }];
      },
    };
  }
  return { ...base, output: "export" };
}
