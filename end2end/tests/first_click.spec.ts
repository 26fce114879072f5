import { expect, test as base } from '@playwright/test';
import { acceptConsent, openHydrated, resetIntegrations, sandboxSettings } from './helpers';

// Issue 12: a new user opens the address cargo-leptos prints, 127.0.0.1, while
// the redirect URI (and so the OAuth cookie) lives on localhost. The first
// click must still connect: /oauth/start hops to localhost with a one-time
// ticket, and Chromium's `Sec-Fetch-Site: cross-site` on that hop is accepted.
const test = base.extend({
  baseURL: async ({ baseURL }, use) => {
    await use(baseURL!.replace('://localhost', '://127.0.0.1'));
  },
});

test.beforeEach(async ({ request }) => {
  await sandboxSettings(request, { withholdRefreshTokens: false, accessTokenLifetimeSecs: 3600 });
  await resetIntegrations(request);
});

test('the first click on 127.0.0.1 connects through the hop to localhost', async ({ page, baseURL }) => {
  expect(baseURL).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  await openHydrated(page, '/dashboard');
  await expect(page).toHaveURL(/^http:\/\/127\.0\.0\.1:\d+\/dashboard/);
  await page.getByRole('link', { name: 'Start OAuth Flow' }).first().click();
  await acceptConsent(page, 'Ada Lovelace');
  // The flow ends on the redirect URI's host, with the new integration.
  await expect(page).toHaveURL(/^http:\/\/localhost:\d+\/dashboard\?flash=(connected|reconnected)&integration=\d+$/);
  await expect(page.getByTestId('flash')).toContainText(/Connected|Reconnected/);
  const card = page.locator('li.integration');
  await expect(card).toHaveCount(1);
  await expect(card).toContainText('Ada Lovelace');
  await expect(card.getByTestId('status')).toHaveText('active');
});

test('a cross-site start that is not our hop gets the product page, not plain text', async ({ page, baseURL }) => {
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
});
