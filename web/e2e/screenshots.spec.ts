import { expect, test } from "./fixtures";

const PAGES = ["inbox", "leads", "bookings", "pricebook", "stats", "settings", "billing"];
const SIZES = [
  { name: "desktop", width: 1280, height: 800 },
  { name: "phone", width: 390, height: 844 },
];

// Runs after dashboard.spec.ts (alphabetical), so the pages have something on them.
test("screenshots of every page at desktop and phone widths", async ({ signedIn: page }) => {
  for (const size of SIZES) {
    await page.setViewportSize({ width: size.width, height: size.height });
    for (const name of PAGES) {
      await page.goto(`/${name}/`);
      await expect(page.getByRole("heading", { level: 1 })).toBeVisible();
      await page.waitForLoadState("networkidle");
      await page.screenshot({ path: `test-results/screenshots/${name}-${size.name}.png`, fullPage: true });
    }
    // the inbox with a conversation open
    await page.goto("/inbox/");
    await page.getByRole("list", { name: "Conversations" }).getByRole("link").first().click();
    await expect(page.getByRole("textbox", { name: "Reply" })).toBeVisible();
    await page.screenshot({ path: `test-results/screenshots/conversation-${size.name}.png`, fullPage: true });
  }
  await page.context().clearCookies();
  await page.goto("/signin/");
  await page.screenshot({ path: "test-results/screenshots/signin-phone.png" });
});
