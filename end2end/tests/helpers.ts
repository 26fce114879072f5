import { APIRequestContext, expect, Page } from '@playwright/test';

/** Opens `url` and waits until the WebAssembly has hydrated the page. */
export async function openHydrated(page: Page, url: string) {
  await page.goto(url);
  await waitForHydration(page);
}

export async function waitForHydration(page: Page) {
  await expect(page.locator('html[data-hydrated="true"]')).toHaveCount(1, { timeout: 15_000 });
}

/** Disconnects every integration, so each test starts from an empty dashboard. */
export async function resetIntegrations(request: APIRequestContext) {
  const res = await request.post('/api/list_integrations', {
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
  expect(res.ok()).toBeTruthy();
  for (const integration of await res.json()) {
    const done = await request.post('/api/disconnect_integration', { form: { id: String(integration.id) } });
    expect(done.ok()).toBeTruthy();
  }
}

/** Changes the built-in sandbox's switches (withheld refresh tokens, token lifetime). */
export async function sandboxSettings(
  request: APIRequestContext,
  settings: { withholdRefreshTokens?: boolean; accessTokenLifetimeSecs?: number },
) {
  const res = await request.post('/sandbox/control/settings', { data: settings });
  expect(res.ok()).toBeTruthy();
}

/** From the dashboard: Start OAuth Flow, pick the account, Accept; back on the dashboard. */
export async function connect(page: Page, account = 'Ada Lovelace') {
  await openHydrated(page, '/dashboard');
  await page.getByRole('link', { name: 'Start OAuth Flow' }).first().click();
  await acceptConsent(page, account);
}

/** On the sandbox's consent page: choose the account and Accept. */
export async function acceptConsent(page: Page, account = 'Ada Lovelace') {
  await expect(page.getByRole('heading', { name: /wants to access your Atlassian account/ })).toBeVisible();
  await page.getByLabel(account).check();
  await page.getByRole('button', { name: 'Accept' }).click();
  await expect(page).toHaveURL(/\/dashboard\?flash=/);
  await waitForHydration(page);
}

/** Seconds left in a countdown text such as `expires in 1h 36m 12s`. */
export function secondsLeft(text: string | null): number {
  if (!text || text.includes('expired')) return 0;
  let total = 0;
  for (const [, n, unit] of text.matchAll(/(\d+)([dhms])/g)) {
    total += Number(n) * { d: 86400, h: 3600, m: 60, s: 1 }[unit as 'd' | 'h' | 'm' | 's'];
  }
  return total;
}
