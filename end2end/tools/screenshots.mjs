// Takes the README's screenshots from a running dashboard in sandbox mode:
//   BASE_URL=http://localhost:3000 EMAIL=you@example.com PASSWORD=... node end2end/tools/screenshots.mjs docs/
// (EMAIL and PASSWORD: an administrator of that dashboard: the sandbox's
// controls, /sandbox/control/..., need an administrator's session.)
// It connects two accounts through the sandbox's consent page, then captures
// the dashboard (desktop and 375 px) and the re-authentication dialog.
import { chromium } from '@playwright/test';

const base = process.env.BASE_URL ?? 'http://localhost:3000';
const out = process.argv[2] ?? 'docs';
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
});

async function hydrated(page) {
  await page.waitForSelector('html[data-hydrated="true"]');
}

async function connect(page, account, sites) {
  await page.goto(`${base}/dashboard`);
  await hydrated(page);
  await page.getByRole('link', { name: 'Start OAuth Flow' }).first().click();
  await page.getByLabel(account).check();
  for (const site of ['acme', 'globex']) {
    const box = page.locator('label.choice', { hasText: `${site}.atlassian.net` }).locator('input');
    if (sites.includes(site)) await box.check();
    else await box.uncheck();
  }
  await page.getByRole('button', { name: 'Accept' }).click();
  await page.waitForURL(/flash=/);
  await hydrated(page);
}

// One signed-in browser context for every page.
const context = await browser.newContext();
// Through the signed-in context (its session cookie goes along).
const settings = async (body) => {
  const res = await context.request.post(`${base}/sandbox/control/settings`, { data: body });
  if (!res.ok()) throw new Error(`sandbox settings: ${res.status()} ${await res.text()}`);
};
const signIn = await context.newPage();
await signIn.goto(`${base}/login`);
await signIn.getByLabel('Email').fill(process.env.EMAIL ?? '');
await signIn.getByLabel('Password').fill(process.env.PASSWORD ?? '');
await signIn.getByRole('button', { name: 'Sign in' }).click();
await signIn.waitForURL(/\/dashboard/);
await signIn.close();

const desktop = await context.newPage();
await desktop.setViewportSize({ width: 1280, height: 720 });
await settings({ withholdRefreshTokens: false, accessTokenLifetimeSecs: 3600 });
await connect(desktop, 'Ada Lovelace', ['acme', 'globex']);
await settings({ withholdRefreshTokens: true });
await connect(desktop, 'Grace Hopper', ['globex']);
await settings({ withholdRefreshTokens: false });
await desktop.goto(`${base}/dashboard`);
await hydrated(desktop);
await desktop.waitForTimeout(1500);
await desktop.screenshot({ path: `${out}/dashboard.png` });

const grace = desktop.locator('li.integration', { hasText: 'Grace Hopper' });
await grace.getByRole('button', { name: 'Refresh token' }).click();
await desktop.getByRole('dialog').waitFor();
await desktop.screenshot({ path: `${out}/reauth-modal.png` });

const phoneContext = await browser.newContext({
  viewport: { width: 375, height: 812 },
  deviceScaleFactor: 2,
  storageState: await context.storageState(),
});
const phone = await phoneContext.newPage();
await phone.goto(`${base}/dashboard`);
await hydrated(phone);
await phone.waitForTimeout(1500);
await phone.screenshot({ path: `${out}/dashboard-375.png`, fullPage: true });

await browser.close();
console.log(`screenshots written to ${out}/`);
