import AxeBuilder from "@axe-core/playwright";
import type { Page } from "@playwright/test";
import { expect, phone, test } from "./fixtures";

/** WCAG 2.1 A and AA problems axe finds on the page, as "rule: selector" lines. */
async function accessibilityProblems(page: Page): Promise<string[]> {
  const { violations } = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]).analyze();
  return violations.flatMap((v) => v.nodes.map((n) => `${v.id}: ${n.target.join(" ")} (${v.help})`));
}

const PAGES = ["inbox", "leads", "bookings", "pricebook", "stats", "settings", "billing"];
const SIZES = [
  { name: "desktop", width: 1280, height: 800 },
  { name: "phone", width: 390, height: 844 },
];

// Runs after dashboard.spec.ts (alphabetical), so the pages have more on them.
test("screenshots of every page at desktop and phone widths, and no accessibility problems axe can find", async ({ signedIn: page }) => {
  test.setTimeout(150_000);
  const problems: string[] = [];
  await phone.call("+15125550166"); // at least one conversation, when run on its own
  for (const size of SIZES) {
    await page.setViewportSize({ width: size.width, height: size.height });
    for (const name of PAGES) {
      await page.goto(`/${name}/`);
      await expect(page.getByRole("heading", { level: 1 })).toBeVisible();
      await page.waitForLoadState("networkidle");
      await page.screenshot({ path: `test-results/screenshots/${name}-${size.name}.png`, fullPage: true });
      problems.push(...(await accessibilityProblems(page)).map((p) => `${name} at ${size.width}px: ${p}`));
    }
    // the inbox with a conversation open
    await page.goto("/inbox/");
    await page.getByRole("list", { name: "Conversations" }).getByRole("link").first().click();
    await expect(page.getByRole("textbox", { name: "Reply" })).toBeVisible();
    await page.screenshot({ path: `test-results/screenshots/conversation-${size.name}.png`, fullPage: true });
    problems.push(...(await accessibilityProblems(page)).map((p) => `conversation at ${size.width}px: ${p}`));
  }
  await page.context().clearCookies();
  await page.goto("/signin/");
  await page.screenshot({ path: "test-results/screenshots/signin-phone.png" });
  problems.push(...(await accessibilityProblems(page)).map((p) => `signin: ${p}`));
  expect(problems).toEqual([]);
});
