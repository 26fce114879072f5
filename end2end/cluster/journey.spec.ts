// Through the load balancer of scripts/cluster: three server processes on one
// PostgreSQL database, the sandbox as its own process. Each browser is pinned
// to a process by HAProxy's `replica` cookie, so the change one makes on
// process 1 must reach the other's page on process 2 through the database.
import { Browser, expect, Page, test } from '@playwright/test';
import { ADMIN_EMAIL, ADMIN_PASSWORD } from '../tests/accounts';
import { acceptConsent, fillSignIn, waitForHydration } from '../tests/helpers';

/** A browser of its own, pinned to `replica` (s1, s2, s3), signed in on the dashboard. */
async function signedInOn(browser: Browser, baseURL: string, replica: string): Promise<Page> {
  const context = await browser.newContext({ baseURL, storageState: undefined });
  await context.addCookies([{ name: 'replica', value: replica, url: baseURL }]);
  const page = await context.newPage();
  const served = await page.request.get('/healthz');
  expect(served.headers()['x-served-by']).toBe(replica);
  await page.goto('/dashboard');
  await expect(page).toHaveURL(/\/login\?next=/);
  await fillSignIn(page, ADMIN_EMAIL, ADMIN_PASSWORD);
  await expect(page).toHaveURL(/\/dashboard/);
  await waitForHydration(page);
  await expect(page.getByTestId('live')).toHaveText('Live');
  return page;
}

test('sign in, connect and refresh through the load balancer; a browser on another process sees each change live', async ({ browser, baseURL }) => {
  const first = await signedInOn(browser, baseURL ?? '', 's1');
  const second = await signedInOn(browser, baseURL ?? '', 's2');
  await expect(second.locator('li.integration')).toHaveCount(0);

  // Connect on process 1: the consent page is the sandbox's own server.
  await first.getByRole('link', { name: 'Start OAuth Flow' }).first().click();
  await acceptConsent(first);
  await expect(first.locator('li.integration')).toHaveCount(1);

  // Process 2's page hears of it without a reload.
  const card = second.locator('li.integration');
  await expect(card).toHaveCount(1);
  await expect(card).toContainText('Ada Lovelace');
  await expect(card.locator('dd').nth(1)).toHaveText('never');

  // Refresh on process 1; process 2's page shows the refresh.
  await first.locator('li.integration').getByRole('button', { name: 'Refresh' }).click();
  await expect(first.locator('li.integration dd').nth(1)).not.toHaveText('never');
  await expect(card.locator('dd').nth(1)).not.toHaveText('never');
  await expect(second.getByTestId('live')).toHaveText('Live');
});
