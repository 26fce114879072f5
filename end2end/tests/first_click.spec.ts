import { expect, request as api, test as base } from '@playwright/test';
import { connectFromHere, fillSignIn, openHydrated, resetSandboxAndIntegrations } from './helpers';
import { ADMIN_EMAIL, ADMIN_PASSWORD, ADMIN_STATE } from './accounts';

// Issues 12 and 13: a new user opens the address cargo-leptos prints,
// 127.0.0.1, while the redirect URI (and so the OAuth cookie) lives on
// localhost. Signing in happens on localhost (where the session must live),
// and the first click on "Start OAuth Flow" connects.
const test = base.extend({
  baseURL: async ({ baseURL }, use) => {
    await use(baseURL!.replace('://localhost', '://127.0.0.1'));
  },
});

test.beforeEach(async () => {
  // The administrator's session lives on localhost.
  const request = await api.newContext({ baseURL: base.info().project.use.baseURL, storageState: ADMIN_STATE });
  await resetSandboxAndIntegrations(request);
  await request.dispose();
});

test('opening 127.0.0.1, signing in and connecting works', async ({ browser, baseURL }) => {
  expect(baseURL).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  const context = await browser.newContext({ baseURL, storageState: undefined });
  const page = await context.newPage();
  await page.goto('/dashboard');
  // Sent to sign in on the redirect URI's host.
  await expect(page).toHaveURL(/^http:\/\/localhost:\d+\/login\?next=%2Fdashboard$/);
  await fillSignIn(page, ADMIN_EMAIL, ADMIN_PASSWORD);
  await expect(page).toHaveURL(/^http:\/\/localhost:\d+\/dashboard$/);
  await connectFromHere(page, 'Ada Lovelace');
  await expect(page).toHaveURL(/^http:\/\/localhost:\d+\/dashboard\?flash=(connected|reconnected)&integration=\d+$/);
  await expect(page.getByTestId('flash')).toContainText(/Connected|Reconnected/);
  const card = page.locator('li.integration');
  await expect(card).toHaveCount(1);
  await expect(card).toContainText('Ada Lovelace');
  await expect(card.getByTestId('status')).toHaveText('active');
  await context.close();
});

test('a session on 127.0.0.1 too: the first click hops to localhost and connects', async ({ browser, baseURL }) => {
  // A browser signed in on both names (its session cookie copied to 127.0.0.1).
  const context = await browser.newContext({ baseURL, storageState: ADMIN_STATE });
  const cookies = await context.cookies();
  await context.addCookies(cookies.map((c) => ({ ...c, domain: '127.0.0.1' })));
  const page = await context.newPage();
  await openHydrated(page, '/dashboard');
  await expect(page).toHaveURL(/^http:\/\/127\.0\.0\.1:\d+\/dashboard/);
  await connectFromHere(page, 'Ada Lovelace');
  await expect(page).toHaveURL(/^http:\/\/localhost:\d+\/dashboard\?flash=(connected|reconnected)&integration=\d+$/);
  await expect(page.locator('li.integration')).toHaveCount(1);
  await context.close();
});

test('a cross-site start that is not our hop gets the product page, not plain text', async ({ browser, baseURL }) => {
  const context = await browser.newContext({ baseURL, storageState: ADMIN_STATE });
  const cookies = await context.cookies();
  await context.addCookies(cookies.map((c) => ({ ...c, domain: '127.0.0.1' })));
  const page = await context.newPage();
  await openHydrated(page, '/dashboard');
  // A page on 127.0.0.1 sends the browser to localhost's start with no ticket:
  // to localhost that is another site, like an attacker's link.
  const target = baseURL!.replace('://127.0.0.1', '://localhost') + '/oauth/start';
  const answer = page.waitForResponse((r) => r.url() === target);
  await page.evaluate((url) => {
    window.location.href = url;
  }, target);
  expect((await answer).status()).toBe(403);
  await expect(page.getByRole('heading', { level: 1, name: 'Request refused' })).toBeVisible();
  await expect(page.getByRole('alert')).toContainText('another site');
  // Styled by the product's stylesheet.
  await expect(page.locator('link[rel="stylesheet"][href="/pkg/jira-dashboard.css"]')).toHaveCount(1);
  const sheets = await page.evaluate(() => Array.from(document.styleSheets, (s) => s.href ?? ''));
  expect(sheets.some((href) => href.endsWith('/pkg/jira-dashboard.css'))).toBeTruthy();
  await page.getByRole('link', { name: 'Back to the dashboard' }).click();
  await expect(page).toHaveURL(/\/dashboard$/);
  await expect(page.getByRole('link', { name: 'Start OAuth Flow' }).first()).toBeVisible();
  await context.close();
});
