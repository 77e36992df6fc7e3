import { defineConfig } from "@playwright/test";

const LILY_PORT = process.env.E2E_LILY_PORT ?? "8311";
const CONTROL_PORT = process.env.E2E_CONTROL_PORT ?? "8312";

// The browser tests run against a real `lily serve` with the Twilio stand-in (e2e/server.py),
// serving the dashboard built by `npm run build`, in Debian's Chromium (Playwright's own
// browser download is not needed): `npm run build && npm run e2e`.
export default defineConfig({
  testDir: "e2e",
  outputDir: "test-results/playwright",
  timeout: 45_000,
  expect: { timeout: 10_000 },
  workers: 1,
  fullyParallel: false,
  forbidOnly: !!process.env.CI,
  reporter: [["list"]],
  use: {
    baseURL: `http://127.0.0.1:${LILY_PORT}`,
    browserName: "chromium",
    launchOptions: { executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium" },
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
  },
  webServer: {
    command: "../.venv/bin/python e2e/server.py",
    url: `http://127.0.0.1:${CONTROL_PORT}/ready`,
    timeout: 180_000,
    reuseExistingServer: false,
    stdout: "pipe",
    stderr: "pipe",
    env: { E2E_LILY_PORT: LILY_PORT, E2E_CONTROL_PORT: CONTROL_PORT },
  },
});
