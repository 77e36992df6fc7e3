import { expect, test as base, type Page } from "@playwright/test";

const CONTROL = `http://127.0.0.1:${process.env.E2E_CONTROL_PORT ?? "8312"}`;
export const EMAIL = "owner@acme.test";
export const PASSWORD = "correct horse battery staple";

/** The phone network and the Twilio stand-in, through e2e/server.py's control server. */
export const phone = {
  async call(from: string) {
    const response = await fetch(`${CONTROL}/call`, { method: "POST", body: JSON.stringify({ from }) });
    expect(response.ok).toBe(true);
  },
  async text(from: string, text: string, photos = 0) {
    const response = await fetch(`${CONTROL}/sms`, { method: "POST", body: JSON.stringify({ from, text, photos }) });
    expect(response.ok).toBe(true);
  },
  async book(phone: string, name: string, start: Date, hours = 2) {
    const end = new Date(start.getTime() + hours * 3_600_000);
    const body = JSON.stringify({ phone, name, start: start.toISOString(), end: end.toISOString() });
    const response = await fetch(`${CONTROL}/booking`, { method: "POST", body });
    expect(response.ok).toBe(true);
  },
  async sent(): Promise<{ to: string; from: string; body: string }[]> {
    return (await fetch(`${CONTROL}/messages`)).json();
  },
};

/** The browser logs every 4xx answer as a console error; the tests provoke some on purpose
 * (a 422 for a price-book mistake, billing's 404 while the billing API is missing), so those
 * lines are left out. Everything else the page logs as an error, every uncaught exception and
 * every 5xx answer fails the test. */
const CLIENT_ERROR = /^Failed to load resource: the server responded with a status of 4\d\d /;

export const test = base.extend<{ consoleErrors: string[]; signedIn: Page }>({
  consoleErrors: async ({ page }, use) => {
    const errors: string[] = [];
    page.on("console", (m) => {
      if (m.type() === "error" && !CLIENT_ERROR.test(m.text())) errors.push(m.text());
    });
    page.on("pageerror", (e) => errors.push(e.message));
    page.on("response", (r) => {
      if (r.status() >= 500) errors.push(`${r.status()} from ${r.request().method()} ${r.url()}`);
    });
    await use(errors);
    expect(errors, "console errors").toEqual([]);
  },
  signedIn: async ({ page, consoleErrors }, use) => {
    void consoleErrors;
    await signIn(page);
    await use(page);
  },
});

export async function signIn(page: Page) {
  await page.goto("/signin/");
  await page.getByLabel("Email").fill(EMAIL);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/inbox\/$/);
}

export { expect };
