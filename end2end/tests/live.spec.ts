// Live updates: every open page shows what the server knows, without a reload.
import { Browser, expect, Page, test } from '@playwright/test';
import { ADMIN_EMAIL, ADMIN_PASSWORD } from './accounts';
import {
  connect,
  connectFromHere,
  fillSignIn,
  openHydrated,
  OwnServer,
  resetSandboxAndIntegrations,
  sandboxSettings,
  secondsLeft,
  startOwnServer,
  waitForHydration,
} from './helpers';

test.beforeEach(async ({ request }) => {
  await resetSandboxAndIntegrations(request);
});

/** Marks the page, so a test can tell that it was never reloaded. */
async function mark(page: Page) {
  await page.evaluate(() => ((window as unknown as { liveMark: number }).liveMark = 42));
}

async function stillMarked(page: Page) {
  expect(await page.evaluate(() => (window as unknown as { liveMark?: number }).liveMark)).toBe(42);
}

/** A signed-in page on a server of our own, Ada connected, live, and marked. */
async function connectedLivePage(browser: Browser, server: OwnServer): Promise<Page> {
  const page = await signedInPage(browser, server);
  await connectFromHere(page);
  await expect(page.getByTestId('live')).toHaveText('Live');
  await mark(page);
  return page;
}

/** A signed-in page on a server of our own. */
async function signedInPage(browser: Browser, server: OwnServer): Promise<Page> {
  const context = await browser.newContext({ baseURL: server.base, storageState: undefined });
  const page = await context.newPage();
  await page.goto('/dashboard');
  await fillSignIn(page, ADMIN_EMAIL, ADMIN_PASSWORD);
  await expect(page).toHaveURL(/\/dashboard/);
  await waitForHydration(page);
  return page;
}

test('a dashboard left open never shows Expired for an integration the scheduler refreshed', async ({ browser }) => {
  test.setTimeout(60_000);
  // 20-second tokens, refreshed by a fast scheduler 12 seconds before they expire.
  const server = await startOwnServer({
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    SANDBOX_ACCESS_TOKEN_SECS: '20',
    REFRESH_MARGIN_SECS: '12',
    SCHEDULER_INTERVAL_SECS: '1',
  });
  try {
    const page = await connectedLivePage(browser, server);
    const card = page.locator('li.integration');
    const countdown = card.getByTestId('countdown');
    // For 30 seconds (more than a token's whole life): never expired, and the
    // countdown jumps back up each time the scheduler refreshes.
    const seen: string[] = [];
    let jumps = 0;
    let last = secondsLeft(await countdown.textContent());
    const until = Date.now() + 30_000;
    while (Date.now() < until) {
      const text = (await countdown.textContent()) ?? '';
      const status = (await card.getByTestId('status').textContent()) ?? '';
      seen.push(`${status}: ${text}`);
      expect(text, seen.join('\n')).not.toContain('expired');
      expect(status, seen.join('\n')).not.toMatch(/expired|needs re-auth/);
      const left = secondsLeft(text);
      if (left > last + 3) jumps += 1;
      last = left;
      await page.waitForTimeout(250);
    }
    expect(jumps, seen.join('\n')).toBeGreaterThanOrEqual(2);
    await expect(card.locator('dd').nth(1)).not.toHaveText('never');
    await stillMarked(page);
  } finally {
    await server.stop();
  }
});

test('a disconnect made in a second tab removes the card from the first without a reload', async ({ page, context }) => {
  await connect(page);
  await connect(page, 'Grace Hopper');
  await expect(page.locator('li.integration')).toHaveCount(2);
  await expect(page.getByTestId('summary-all')).toContainText('2');
  await expect(page.getByTestId('live')).toHaveText('Live');
  await mark(page);

  const second = await context.newPage();
  await openHydrated(second, '/dashboard');
  const grace = second.locator('li.integration', { hasText: 'Grace Hopper' });
  await grace.getByRole('button', { name: 'Disconnect' }).click();
  await second.getByRole('dialog').getByRole('button', { name: 'Disconnect' }).click();
  await expect(second.locator('li.integration')).toHaveCount(1);

  await expect(page.locator('li.integration')).toHaveCount(1);
  await expect(page.locator('li.integration')).toContainText('Ada Lovelace');
  await expect(page.getByTestId('summary-all')).toContainText('1');
  await stillMarked(page);
});

test('a refresh made through the server function in another context moves the first page countdown', async ({ page, browser, request }) => {
  await sandboxSettings(request, { accessTokenLifetimeSecs: 600 });
  await connect(page);
  const card = page.locator('li.integration');
  const countdown = card.getByTestId('countdown');
  await expect(countdown).toHaveText(/^expires in (9m|10m)/);
  await expect(page.getByTestId('live')).toHaveText('Live');
  await mark(page);
  const id = await card.getAttribute('data-integration-id');

  // Another person's session (a context of its own) refreshes through the server function.
  await sandboxSettings(request, { accessTokenLifetimeSecs: 3600 });
  const other = await browser.newContext({ storageState: undefined });
  const otherPage = await other.newPage();
  await otherPage.goto('/dashboard');
  await fillSignIn(otherPage, ADMIN_EMAIL, ADMIN_PASSWORD);
  const res = await otherPage.request.post('/api/refresh_integration', { form: { id: id ?? '' } });
  expect(res.ok()).toBeTruthy();
  await other.close();

  await expect.poll(async () => secondsLeft(await countdown.textContent())).toBeGreaterThan(3_000);
  await expect(card.locator('dd').nth(1)).not.toHaveText('never');
  await stillMarked(page);
});

test('the indicator says Reconnecting... while the server is down, and Live after, with what was missed', async ({ browser }) => {
  test.setTimeout(60_000);
  const env = { ADMIN_EMAIL, ADMIN_PASSWORD };
  let server = await startOwnServer(env);
  try {
    const page = await connectedLivePage(browser, server);

    await server.stop();
    await expect(page.getByTestId('live')).toHaveText('Reconnecting...');

    server = await startOwnServer(env, server);
    // While it was away nothing was heard; the change made now, before the
    // page is back, is caught up by the re-read when it reconnects.
    const other = await browser.newContext({ baseURL: server.base, storageState: undefined });
    const otherPage = await other.newPage();
    await otherPage.goto('/dashboard');
    await fillSignIn(otherPage, ADMIN_EMAIL, ADMIN_PASSWORD);
    await connectFromHere(otherPage, 'Grace Hopper');
    await other.close();

    await expect(page.getByTestId('live')).toHaveText('Live', { timeout: 15_000 });
    await expect(page.locator('li.integration')).toHaveCount(2);
    await stillMarked(page);
  } finally {
    await server.stop();
  }
});

test('the summary counts the fleet and links to each filter; the table sorts by expiry', async ({ page, request }) => {
  await sandboxSettings(request, { accessTokenLifetimeSecs: 3600 });
  await connect(page);
  await sandboxSettings(request, { accessTokenLifetimeSecs: 120 });
  await connect(page, 'Grace Hopper');
  // The default margin is 5 minutes: Grace's 2-minute token is expiring.
  await expect(page.getByTestId('summary-active')).toContainText('1');
  await expect(page.getByTestId('summary-expiring')).toContainText('1');
  await page.getByTestId('summary-expiring').click();
  await expect(page).toHaveURL(/status=expiring/);
  await expect(page.locator('li.integration')).toHaveCount(1);
  await expect(page.locator('li.integration')).toContainText('Grace Hopper');

  await openHydrated(page, '/dashboard');
  await page.getByRole('link', { name: 'Table' }).click();
  await expect(page).toHaveURL(/view=table/);
  await expect(page.locator('ul.integrations.compact li.integration')).toHaveCount(2);
  await page.getByTestId('sort-expiry').click();
  await expect(page).toHaveURL(/view=table&sort=expiry/);
  await expect(page.locator('li.integration').first()).toContainText('Grace Hopper');
  await page.getByTestId('sort-expiry').click();
  await expect(page).toHaveURL(/\/dashboard\?view=table$/);
  await expect(page.locator('li.integration').first()).toContainText('Ada Lovelace');
});
