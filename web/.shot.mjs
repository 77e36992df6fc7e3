import { chromium } from "@playwright/test";
const base = "http://127.0.0.1:8100";
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium" });
const page = await browser.newPage();
page.on("console", (m) => m.type() === "error" && console.log("console", m.text()));
page.on("pageerror", (e) => console.log("pageerror", e.message));
await page.goto(base + "/signin/");
await page.getByLabel("Email").fill("owner@acme.test");
await page.getByLabel("Password").fill("correct horse battery");
await page.getByRole("button", { name: "Sign in" }).click();
await page.waitForURL("**/inbox/");
for (const [path, ready] of [["/inbox/?lead=6dbac64416cd42c0a3e2f67afd00bcd2", () => page.getByRole("region", { name: "Quote" })], ["/leads/", () => page.getByRole("row").nth(1)], ["/stats/", () => page.getByRole("region", { name: "Funnel" })], ["/pricebook/", () => page.getByLabel("Service 1 Low")], ["/settings/", () => page.getByText("Webhook URLs")]]) {
  const t0 = Date.now();
  await page.goto(base + path);
  const html = Date.now() - t0;
  await ready().first().waitFor();
  console.log(path, "html+load", html, "ms; content", Date.now() - t0, "ms");
}
await browser.close();
