// The service API's keys: an administrator creates one in Settings, sees it
// once, uses it, and revokes it.
import { expect, test } from '@playwright/test';
import { connect, resetSandboxAndIntegrations } from './helpers';

test.beforeEach(async ({ request }) => {
  await resetSandboxAndIntegrations(request);
});

test('an admin creates an API key, sees it once, and revokes it', async ({ page, playwright, baseURL }) => {
  await connect(page);
  await page.goto('/settings');
  const keys = page.getByRole('region', { name: 'API keys' });
  await keys.getByLabel('Name (the service that will use it)').fill('e2e reporting');
  await keys.getByLabel(/tokens:read/).check();
  await keys.getByRole('button', { name: 'Create key' }).click();

  const shown = page.getByTestId('new-api-key');
  await expect(shown).toHaveText(/^jdk_[A-Za-z0-9_-]{43}$/);
  const key = (await shown.textContent()) ?? '';
  await expect(page.getByText('Copy it now: it is shown this once')).toBeVisible();

  // A program uses it (no session: only the key).
  const program = await playwright.request.newContext({ baseURL, storageState: undefined });
  const list = await program.get('/v1/integrations', { headers: { authorization: `Bearer ${key}` } });
  expect(list.status()).toBe(403); // not its scope
  const integrations = await page.request.post('/api/list_integrations', {
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
  const [first] = await integrations.json();
  expect(first?.id).toBeTruthy();
  const handed = await program.post(`/v1/integrations/${first.id}/access-token`, {
    headers: { authorization: `Bearer ${key}` },
  });
  expect(handed.status()).toBe(200);
  expect((await handed.json()).tokenType).toBe('Bearer');

  // Shown once: a reload lists it by name and prefix only.
  await page.goto('/settings');
  await expect(page.getByTestId('new-api-key')).toHaveCount(0);
  const row = page.getByTestId('api-key').filter({ hasText: 'e2e reporting' });
  await expect(row).toContainText(key.slice(0, 12));
  await expect(row).not.toContainText(key);
  await expect(row).toContainText('tokens:read');

  await row.getByRole('button', { name: 'Revoke' }).click();
  await expect(page.getByTestId('settings-notice')).toHaveText('API key revoked. Its next request is refused.');
  await expect(row).toContainText('revoked');
  const refused = await program.post(`/v1/integrations/${first.id}/access-token`, {
    headers: { authorization: `Bearer ${key}` },
  });
  expect(refused.status()).toBe(401);
  await program.dispose();
});

test("an admin gives a key its share of Jira's quota, and the dashboard shows what it spent", async ({ page, playwright, baseURL }) => {
  await connect(page);
  await page.goto('/settings');
  const keys = page.getByRole('region', { name: 'API keys' });
  await keys.getByLabel('Name (the service that will use it)').fill('e2e sync');
  await keys.getByLabel(/^proxy/).check();
  await keys.getByRole('button', { name: 'Create key' }).click();
  const key = (await page.getByTestId('new-api-key').textContent()) ?? '';
  expect(key).toMatch(/^jdk_/);

  // Its share: weight 2, at most 5000 points an hour.
  await page.goto('/settings');
  const row = page.getByTestId('api-key').filter({ hasText: 'e2e sync' });
  await row.getByLabel('Weight').fill('2');
  await row.getByLabel('Points an hour').fill('5000');
  await row.getByRole('button', { name: 'Save' }).click();
  await expect(page.getByTestId('settings-notice')).toContainText("share of Jira's quota is saved");
  await expect(row.getByLabel('Weight')).toHaveValue('2');
  await expect(row.getByLabel('Points an hour')).toHaveValue('5000');
  // Out of range: a sentence, nothing changed.
  await row.getByLabel('Weight').evaluate((input: HTMLInputElement) => { input.removeAttribute('max'); input.value = '500'; });
  await row.getByRole('button', { name: 'Save' }).click();
  await expect(page.getByTestId('settings-notice')).toContainText('whole number from 1 to 100');
  await expect(row.getByLabel('Weight')).toHaveValue('2');

  // A service calls Jira through the proxy with it.
  const integrations = await page.request.post('/api/list_integrations', {
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
  const [first] = await integrations.json();
  const cloudId = first.sites[0].cloudId;
  const program = await playwright.request.newContext({ baseURL, storageState: undefined });
  for (let n = 0; n < 3; n++) {
    const answer = await program.get(`/v1/integrations/${first.id}/proxy/ex/jira/${cloudId}/rest/api/3/myself`, {
      headers: { authorization: `Bearer ${key}` },
    });
    expect(answer.status()).toBe(200);
  }
  await program.dispose();

  // The dashboard's panel shows the app's pool and the key with its share.
  await page.goto('/dashboard');
  const panel = page.getByTestId('jira-quota');
  await expect(panel.getByRole('heading', { name: 'Jira quota' })).toBeVisible();
  await expect(panel.getByTestId('quota-pool').first()).toContainText("points left in the app's pool");
  await expect(panel.getByTestId('quota-pool').first()).toContainText('resets at');
  const spender = panel.getByTestId('quota-key').filter({ hasText: 'e2e sync' });
  await expect(spender).toContainText('weight 2, 5,000 an hour');
  await expect(panel.getByTestId('no-holds')).toBeVisible();
});
