import { expect, test } from '@playwright/test';
import {
  acceptConsent,
  connect,
  openHydrated,
  resetSandboxAndIntegrations,
  sandboxSettings,
  secondsLeft,
  waitForHydration,
} from './helpers';
import { ADMIN_STATE } from './accounts';

test.beforeEach(async ({ request }) => {
  await resetSandboxAndIntegrations(request);
});

test('connect, then watch the countdown tick', async ({ page }) => {
  await connect(page);
  await expect(page.getByTestId('flash')).toContainText(/Connected|Reconnected/);
  const card = page.locator('li.integration');
  await expect(card).toHaveCount(1);
  await expect(card.getByRole('link', { name: 'acme', exact: true })).toBeVisible();
  await expect(card).toContainText('Ada Lovelace');
  await expect(card.getByTestId('status')).toHaveText('active');
  const countdown = card.getByTestId('countdown');
  await expect(countdown).toHaveText(/^expires in 59m \d+s$/);
  const before = await countdown.textContent();
  await expect(countdown).not.toHaveText(before ?? '', { timeout: 2_000 });
});

test('refresh successfully and see the expiry move forward', async ({ page }) => {
  await connect(page);
  const card = page.locator('li.integration');
  const countdown = card.getByTestId('countdown');
  await page.waitForTimeout(3_000);
  const before = secondsLeft(await countdown.textContent());
  await card.getByRole('button', { name: 'Refresh token' }).click();
  await expect(card.getByTestId('notice')).toHaveText('Token refreshed.');
  await expect.poll(async () => secondsLeft(await countdown.textContent())).toBeGreaterThan(before);
});

test('no refresh token: the modal, Not now, then Re-authenticate repairs the same integration', async ({ page, request }) => {
  await sandboxSettings(request, { withholdRefreshTokens: true });
  await connect(page, 'Grace Hopper');
  const card = page.locator('li.integration');
  const id = await card.getAttribute('data-integration-id');
  await expect(card.getByTestId('failures')).toHaveText('0');

  await card.getByRole('button', { name: 'Refresh token' }).click();
  const dialog = page.getByRole('dialog', { name: 'Re-authentication required' });
  await expect(dialog).toBeVisible();
  await expect(dialog).toContainText('offline_access');
  await dialog.getByRole('button', { name: 'Not now' }).click();
  await expect(dialog).toBeHidden();
  await expect(card.getByTestId('status')).toHaveText('needs re-auth');
  await expect(card.getByTestId('failures')).toHaveText('1');

  await card.getByRole('button', { name: 'Refresh token' }).click();
  await expect(dialog).toBeVisible();
  await expect(card.getByTestId('failures')).toHaveText('2');
  await sandboxSettings(request, { withholdRefreshTokens: false });
  await dialog.getByRole('link', { name: 'Re-authenticate' }).click();
  await acceptConsent(page, 'Grace Hopper');
  await expect(page.getByTestId('flash')).toContainText('Re-authenticated');
  await expect(page).toHaveURL(new RegExp(`integration=${id}$`));
  const repaired = page.locator(`li.integration[data-integration-id="${id}"]`);
  await expect(repaired.getByTestId('status')).toHaveText('active');
  await expect(page.locator('li.integration')).toHaveCount(1);
});

test('declined consent shows its flash and connects nothing', async ({ page }) => {
  await openHydrated(page, '/dashboard');
  await page.getByRole('link', { name: 'Start OAuth Flow' }).first().click();
  await page.getByRole('button', { name: 'Cancel' }).click();
  await expect(page).toHaveURL(/flash=declined/);
  await expect(page.getByTestId('flash')).toHaveText(/declined access/);
  await expect(page.getByRole('heading', { name: 'No Jira sites connected yet' })).toBeVisible();
});

test('a reload keeps everything', async ({ page }) => {
  await connect(page);
  await page.goto('/dashboard');
  await waitForHydration(page);
  await expect(page.locator('li.integration')).toHaveCount(1);
  await expect(page.locator('li.integration')).toContainText('Ada Lovelace');
});

test('disconnect asks in a dialog, then removes the integration', async ({ page }) => {
  await connect(page);
  const card = page.locator('li.integration');
  await card.getByRole('button', { name: 'Disconnect' }).click();
  const dialog = page.getByRole('dialog', { name: /Disconnect acme/ });
  await expect(dialog).toBeVisible();
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await expect(card).toHaveCount(1);
  await card.getByRole('button', { name: 'Disconnect' }).click();
  await dialog.getByRole('button', { name: 'Disconnect' }).click();
  await expect(page.locator('li.integration')).toHaveCount(0);
  await page.reload();
  await expect(page.getByRole('heading', { name: 'No Jira sites connected yet' })).toBeVisible();
});

test('a short-lived token counts down to expired without a reload', async ({ page, request }) => {
  // No refresh token: nothing can keep it alive (with one, the scheduler
  // would refresh it and the live page would show the new expiry).
  await sandboxSettings(request, { accessTokenLifetimeSecs: 8, withholdRefreshTokens: true });
  await connect(page);
  const card = page.locator('li.integration');
  await expect(card.getByTestId('countdown')).toHaveText(/expires in \ds/);
  await expect(card.getByTestId('countdown')).toHaveText('expired', { timeout: 12_000 });
  // Expired in the browser; once the scheduler flags it, the live page says so.
  await expect(card.getByTestId('status')).toHaveText(/^(expired|needs re-auth)$/);
});

test('the re-authentication modal works by keyboard alone', async ({ page, request }) => {
  await sandboxSettings(request, { withholdRefreshTokens: true });
  await connect(page);
  const card = page.locator('li.integration');
  await card.getByRole('button', { name: 'Refresh token' }).focus();
  await page.keyboard.press('Enter');
  const dialog = page.getByRole('dialog', { name: 'Re-authentication required' });
  await expect(dialog).toBeVisible();
  await expect(dialog.getByRole('button', { name: 'Not now' })).toBeFocused();
  for (let i = 0; i < 5; i++) {
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => !!document.activeElement?.closest('[role="dialog"]'))).toBe(true);
  }
  await page.keyboard.press('Escape');
  await expect(dialog).toBeHidden();

  await card.getByRole('button', { name: 'Refresh token' }).focus();
  await page.keyboard.press('Enter');
  await expect(dialog.getByRole('button', { name: 'Not now' })).toBeFocused();
  await page.keyboard.press('Tab');
  await expect(dialog.getByRole('link', { name: 'Re-authenticate' })).toBeFocused();
  await sandboxSettings(request, { withholdRefreshTokens: false });
  await page.keyboard.press('Enter');
  await expect(page.getByRole('heading', { name: /wants to access your Atlassian account/ })).toBeVisible();
});

test('the integration page shows deadlines, the event log and a connection test', async ({ page }) => {
  await connect(page);
  await page.locator('li.integration').getByRole('link', { name: 'acme', exact: true }).click();
  await expect(page).toHaveURL(/\/integrations\/\d+$/);
  await waitForHydration(page);
  await expect(page.getByTestId('idle-deadline')).toHaveText(/\d{4}-\d\d-\d\d/);
  await expect(page.getByTestId('absolute-deadline')).toHaveText(/\d{4}-\d\d-\d\d/);
  await expect(page.locator('table.events')).toContainText(/connect|reauth/);
  // The curl examples scroll sideways: each is a named region in the tab
  // order, so a keyboard reaches and scrolls it (axe scrollable-region-focusable).
  for (const name of ['Example: a fresh access token with curl', 'Example: a Jira call through the proxy with curl']) {
    const example = page.getByRole('region', { name });
    await expect(example).toHaveAttribute('tabindex', '0');
    await example.focus();
    await expect(example).toBeFocused();
  }
  await page.getByRole('button', { name: 'Test connection' }).click();
  await expect(page.getByTestId('notice')).toHaveText('Connected to acme as Ada Lovelace.');
});

test('reading the dashboard and starting a flow work without JavaScript', async ({ browser, page }) => {
  await connect(page);
  const context = await browser.newContext({ baseURL: test.info().project.use.baseURL,
    storageState: ADMIN_STATE, javaScriptEnabled: false });
  const noJs = await context.newPage();
  await noJs.goto('/dashboard');
  await expect(noJs.locator('li.integration')).toContainText('Ada Lovelace');
  await expect(noJs.locator('li.integration').getByTestId('countdown')).toHaveText(/expires in/);
  await noJs.getByRole('link', { name: 'Start OAuth Flow' }).first().click();
  await expect(noJs.getByRole('heading', { name: /wants to access your Atlassian account/ })).toBeVisible();
  await context.close();
});

test('readable at 375 px wide', async ({ browser }) => {
  const context = await browser.newContext({
    baseURL: test.info().project.use.baseURL,
    storageState: ADMIN_STATE,
    viewport: { width: 375, height: 740 },
  });
  const page = await context.newPage();
  await connect(page);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  await expect(page.locator('li.integration').getByRole('button', { name: 'Refresh token' })).toBeInViewport();
  await context.close();
});

test('a card below the fold catches up the moment it scrolls into view', async ({ browser }) => {
  // Off-screen cards skip their per-second rewrite (content-visibility: auto);
  // they must never show a stale countdown once visible.
  const context = await browser.newContext({
    baseURL: test.info().project.use.baseURL,
    storageState: ADMIN_STATE,
    viewport: { width: 375, height: 320 },
  });
  const page = await context.newPage();
  await connect(page, 'Ada Lovelace');
  await connect(page, 'Grace Hopper');
  const cards = page.locator('li.integration');
  await expect(cards).toHaveCount(2);
  await page.evaluate(() => window.scrollTo(0, 0));
  const below = cards.last().getByTestId('countdown');
  await expect(below).not.toBeInViewport();
  const stale = secondsLeft(await below.textContent());
  await page.waitForTimeout(2_500);
  // Shown as soon as the browser renders it again: read within two frames of scrolling.
  const shown = await page.evaluate(async () => {
    const cards = document.querySelectorAll('li.integration');
    const last = cards[cards.length - 1];
    last.scrollIntoView();
    await new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));
    return last.querySelector('[data-testid="countdown"]')?.textContent ?? null;
  });
  expect(secondsLeft(shown)).toBeLessThanOrEqual(stale - 2);
  await expect(cards.last().getByTestId('status')).toHaveText('active');
  await context.close();
});
