import { EMAIL, expect, phone, signIn, test } from "./fixtures";

// Lily's state is shared by the tests of one run (one server): each uses its own caller.
const CALLER = "+15125550134";
const STOPPER = "+15125550177";

test("signing in: a wrong password is refused, the right one opens the inbox", async ({ page, consoleErrors }) => {
  void consoleErrors; // signed out, the API answers 401s: the browser's lines for them are left out
  await page.goto("/leads/");
  await expect(page).toHaveURL(/\/signin\/\?next=%2Fleads%2F/);
  await page.getByLabel("Email").fill(EMAIL);
  await page.getByLabel("Password").fill("not the password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("alert")).toBeVisible();
  await signIn(page);
  await page.getByRole("button", { name: "Sign out" }).filter({ visible: true }).click();
  await expect(page).toHaveURL(/\/signin\/$/);
  await page.goto("/inbox/");
  await expect(page).toHaveURL(/\/signin\/\?next=/);
  await signIn(page);
  for (const name of ["Inbox", "Leads", "Bookings", "Price book", "Stats", "Settings", "Billing"]) {
    await expect(page.getByRole("navigation", { name: "Main" }).getByRole("link", { name, exact: true })).toBeVisible();
  }
});

test("a missed call appears in the inbox; the owner reads the text-back and replies", async ({ signedIn: page }) => {
  await phone.call(CALLER);
  // no reload: the inbox polls
  const conversation = page.getByRole("list", { name: "Conversations" }).getByRole("link", { name: /\(512\) 555-0134/ });
  await expect(conversation).toBeVisible();
  await expect(conversation).toHaveAccessibleName(/\bunread\b/); // a new caller is unread

  // the customer answers the text-back with photos and a ZIP: marked unread, no reload
  await expect.poll(async () => (await phone.sent()).filter((m) => m.to === CALLER).length, { timeout: 15_000 }).toBe(1);
  await phone.text(CALLER, "Two story house please, 78704", 2);
  await expect(conversation).toHaveAccessibleName(/\bunread\b/);
  await conversation.click();
  await expect(page).toHaveURL(/\/inbox\/\?lead=/);
  await expect(conversation).not.toHaveAccessibleName(/\bunread\b/);

  const thread = page.getByRole("list", { name: "Messages" });
  await expect(thread.getByText(/Sorry we missed your call!/)).toBeVisible();
  await expect(thread.getByText("Two story house please, 78704")).toBeVisible();
  await expect(thread.getByRole("img", { name: "Photo 2 from the customer" })).toBeVisible({ timeout: 15_000 });
  await expect(thread.getByRole("region", { name: "Quote" })).toContainText("$315–$565");

  await page.getByRole("textbox", { name: "Reply" }).fill("Thanks! We can come Wednesday morning.");
  await page.getByRole("button", { name: "Send" }).click();
  await expect(thread.getByText("Thanks! We can come Wednesday morning.")).toBeVisible();
  await expect
    .poll(async () => (await phone.sent()).filter((m) => m.to === CALLER).map((m) => m.body), { timeout: 15_000 })
    .toContain("Thanks! We can come Wednesday morning.");
});

test("a booking shows on the bookings page under its day, and in the conversation", async ({ signedIn: page }) => {
  const BOOKER = "+15125550155";
  await phone.call(BOOKER);
  // the day after tomorrow, 14:00 UTC = 9:00 in Austin (CDT) or 8:00 (CST)
  const start = new Date();
  start.setUTCDate(start.getUTCDate() + 2);
  start.setUTCHours(15, 0, 0, 0);
  await phone.book(BOOKER, "Pat Booker", start);
  const day = new Intl.DateTimeFormat("en-US", { timeZone: "America/Chicago", weekday: "long", month: "long", day: "numeric" }).format(start);
  const time = new Intl.DateTimeFormat("en-US", { timeZone: "America/Chicago", hour: "numeric", minute: "2-digit" }).format(start);

  await page.getByRole("link", { name: "Bookings", exact: true }).click();
  const section = page.getByRole("region", { name: day });
  await expect(section).toContainText("House wash estimate · Pat Booker");
  await expect(section).toContainText(time);
  await section.getByRole("link", { name: "Conversation" }).first().click();
  await expect(page.getByRole("region", { name: "Booking" })).toContainText("1200 Barton Springs Rd");
});

test("an opted-out customer is marked and cannot be texted", async ({ signedIn: page }) => {
  await phone.call(STOPPER);
  await phone.text(STOPPER, "STOP");
  await page.getByRole("list", { name: "Conversations" }).getByRole("link", { name: /\(512\) 555-0177/ }).click();
  await expect(page.getByRole("region", { name: "Conversation" }).getByText("Opted out", { exact: true })).toBeVisible();
  await expect(page.getByRole("textbox", { name: "Reply" })).toBeDisabled();
  await expect(page.getByRole("button", { name: "Send" })).toBeDisabled();
});

test("leads: filter by status, search, change a status", async ({ signedIn: page }) => {
  await phone.call("+15125550188");
  await page.getByRole("link", { name: "Leads", exact: true }).click();
  await page.getByLabel("Search").fill("0188");
  const row = page.getByRole("row", { name: /\(512\) 555-0188/ });
  await expect(row).toBeVisible();
  await expect(page.getByRole("row")).toHaveCount(2); // the header and the one lead
  await row.getByRole("combobox").selectOption("lost");
  await page.getByLabel("Search").fill("");
  await page.getByLabel("Status", { exact: true }).selectOption("lost");
  await expect(page.getByRole("row", { name: /\(512\) 555-0188/ })).toBeVisible();
  await expect(page.getByRole("row")).toHaveCount(2);
});

test("price book: a mistake is shown on its field; the fix makes a new version and changes the preview", async ({ signedIn: page }) => {
  await page.getByRole("link", { name: "Price book", exact: true }).click();
  await page.getByLabel("ZIP", { exact: true }).fill("78704");
  await page.getByLabel("Customer's message").fill("wash my house");
  const preview = page.getByRole("region", { name: "Preview", exact: true });
  await expect(preview).toContainText("$250–$450");

  const low = page.getByLabel("Service 1 Low");
  await low.fill("900");
  await page.getByRole("button", { name: "Save price book" }).click();
  await expect(page.getByText("low (900) is greater than high (450)")).toBeVisible();
  await expect(low).toHaveAttribute("aria-invalid", "true");

  await low.fill("300");
  await page.getByRole("button", { name: "Save price book" }).click();
  await expect(page.getByText("Saved as version 2.")).toBeVisible();
  await expect(preview).toContainText("$300–$450");
  await expect(preview).toContainText("price book v2");
});

test("stats and billing show what the API says", async ({ signedIn: page }) => {
  const CALLER_3 = "+15125550123";
  await phone.call(CALLER_3); // a missed call and its text-back, when run on its own
  await expect.poll(async () => (await phone.sent()).some((m) => m.to === CALLER_3), { timeout: 15_000 }).toBe(true);
  await page.getByRole("link", { name: "Stats", exact: true }).click();
  const funnel = page.getByRole("region", { name: "Funnel" });
  await expect(funnel).toBeVisible();
  const missed = Number(await funnel.locator("dt:text-is('Missed calls') ~ dd").last().textContent());
  expect(missed).toBeGreaterThanOrEqual(1);
  await expect(page.getByRole("region", { name: "Speed to lead" })).toContainText(/\d+ (s|min)/);
  await expect(page.getByRole("img", { name: "Leads, quotes and bookings by day" })).toBeVisible();

  // billing on (the Stripe stand-in): the trial, this month's automated texts, checkout
  await page.getByRole("link", { name: "Billing", exact: true }).click();
  const plan = page.getByRole("region", { name: "Plan" });
  await expect(plan).toContainText("trialing");
  await expect(plan).toContainText("Trial ends");
  const meter = page.getByRole("meter", { name: "Automated texts used this month" });
  await expect(meter).toHaveAttribute("aria-valuemax", "500");
  expect(Number(await meter.getAttribute("aria-valuenow"))).toBeGreaterThanOrEqual(1);
  // Stripe's page is not on this network: the test stands in for it
  await page.route("https://checkout.stripe.com/**", (route) => route.fulfill({ body: "<title>Stripe Checkout</title>", contentType: "text/html" }));
  await page.getByRole("button", { name: "Choose Pro" }).click();
  await expect(page).toHaveURL(/^https:\/\/checkout\.stripe\.com\/c\/pay\/cs_test_/);
});

test("settings: the webhook URLs to paste with copy buttons, an inline error, an API key", async ({ signedIn: page }) => {
  await page.getByRole("link", { name: "Settings", exact: true }).click();
  await expect(page.getByText(/\/webhooks\/twilio\/voice$/)).toBeVisible();
  for (const name of ["Twilio voice", "Twilio messaging", "Cal.com", "Chatwoot"]) {
    await expect(page.getByRole("button", { name: `Copy the ${name} webhook URL` })).toBeVisible();
  }
  const forward = page.getByLabel("Forwarding number");
  await expect(forward).toHaveValue("(512) 555-0199");

  // a mistake is shown on its field; the fix is saved
  await forward.fill("555");
  await page.getByRole("button", { name: "Save business" }).click();
  await expect(forward).toHaveAttribute("aria-invalid", "true");
  await expect(forward).toHaveAccessibleDescription(/not a valid phone number/);
  await forward.fill("(512) 555-0142");
  await page.getByRole("button", { name: "Save business" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Saved." })).toBeVisible();
  await page.reload();
  await expect(page.getByLabel("Forwarding number")).toHaveValue("(512) 555-0142");

  // an API key: shown once, then revoked
  await page.getByLabel("New key name").fill("Zapier");
  await page.getByRole("button", { name: "Create API key" }).click();
  await expect(page.getByText("Key “Zapier” created. Copy it now: it is not shown again.")).toBeVisible();
  page.once("dialog", (dialog) => void dialog.accept());
  await page.getByRole("button", { name: "Revoke Zapier" }).click();
  await expect(page.getByRole("button", { name: "Revoke Zapier" })).toHaveCount(0);
});

test("settings: the owner's alerts go to the numbers set there, seconds after the text-back; their STOP shows", async ({ signedIn: page }) => {
  const OWNER_CELL = "+15125550146";
  const CALLER_4 = "+15125550145"; // new to this run: a repeat caller gets no text-back
  await page.getByRole("link", { name: "Settings", exact: true }).click();
  const alerts = page.getByRole("region", { name: "Owner alerts" });
  await alerts.getByLabel("Alert numbers").fill("(512) 555-0146");
  await alerts.getByLabel("Replies Lily can't answer").uncheck();
  // the earlier tests' alerts count toward the hourly limit (10): raise it
  await alerts.getByLabel("At most this many alert texts an hour").fill("50");
  await alerts.getByRole("button", { name: "Save owner alerts" }).click();
  await expect(alerts.getByRole("status").filter({ hasText: "Saved." })).toBeVisible();
  await expect(alerts.getByText("Alerts go to: (512) 555-0146")).toBeVisible();
  await page.reload();
  await expect(alerts.getByLabel("Alert numbers")).toHaveValue("(512) 555-0146");
  await expect(alerts.getByLabel("Replies Lily can't answer")).not.toBeChecked();
  await expect(alerts.getByLabel("At most this many alert texts an hour")).toHaveValue("50");

  // a missed call: the caller is texted back, and the owner's phone hears of it a few seconds
  // later (the batch closes 5 s after the text-back), with the conversation's link
  await phone.call(CALLER_4);
  await expect.poll(async () => (await phone.sent()).some((m) => m.to === CALLER_4), { timeout: 15_000 }).toBe(true);
  const alerted = async () => (await phone.sent()).filter((m) => m.to === OWNER_CELL && m.body.includes("Missed call from (512) 555-0145"));
  await expect.poll(async () => (await alerted()).length, { timeout: 15_000 }).toBe(1);
  const [alert] = await alerted();
  expect(alert?.from).toBe("+15125550100");
  expect(alert?.body).toMatch(/\/inbox\/\?lead=\w+/);

  // the owner replies STOP from that phone: the page says so, and no one is alerted
  await phone.text(OWNER_CELL, "STOP");
  await page.reload();
  await expect(alerts.getByText(/\(512\) 555-0146 replied STOP on .*: no alerts go there/)).toBeVisible();
  await expect(alerts.getByText("Alerts go to: no one (set a number below)")).toBeVisible();
  await expect(alerts.getByText(/Alert texts this month: [1-9]\d* \(not counted/)).toBeVisible();
});
