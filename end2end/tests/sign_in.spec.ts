import { expect, test } from '@playwright/test';
import {
  connect,
  connectFromHere,
  fillSignIn,
  resetSandboxAndIntegrations,
  startOwnServer,
  waitForHydration,
} from './helpers';
import { ADMIN_EMAIL } from './accounts';

test.beforeEach(async ({ request }) => {
  await resetSandboxAndIntegrations(request);
});

test('first start: the setup link, sign in, connect, sign out', async ({ browser }) => {
  const server = await startOwnServer();
  try {
    const open = server.lines.find((l) => l.startsWith('open '))!;
    const link = open.replace(/^open /, '');
    expect(link).toMatch(/^http:\/\/localhost:\d+\/setup\?token=[0-9a-f]{64}$/);
    const context = await browser.newContext({ storageState: undefined });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    // Before setup, the dashboard sends a stranger to sign in, which says what to do.
    await page.goto(`${server.base}/dashboard`);
    await expect(page.getByRole('status')).toContainText('No account exists yet');

    await page.goto(link);
    await expect(page.getByRole('heading', { name: 'Create the first administrator' })).toBeVisible();
    await page.getByLabel('Email').fill('founder@example.com');
    await page.getByLabel('Password (at least 10 characters)').fill('founder-password');
    await page.getByLabel('Password again').fill('founder-password');
    await page.getByRole('button', { name: 'Create administrator' }).click();
    await expect(page).toHaveURL(/\/dashboard$/);
    await waitForHydration(page);
    await expect(page.getByTestId('signed-in-as')).toContainText('founder@example.com');
    await expect(page.getByTestId('signed-in-as')).toContainText('admin');

    // Sign out, and back in.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await expect(page).toHaveURL(/\/login$/);
    await page.goto(`${server.base}/dashboard`);
    await fillSignIn(page, 'founder@example.com', 'founder-password');
    await expect(page).toHaveURL(/\/dashboard$/);
    await waitForHydration(page);

    // Connect a site.
    await connectFromHere(page, 'Ada Lovelace');
    await expect(page.getByTestId('flash')).toContainText('Connected');
    await expect(page.locator('li.integration')).toHaveCount(1);

    // Sign out: the dashboard is closed again.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await expect(page).toHaveURL(/\/login$/);
    await page.goto(`${server.base}/dashboard`);
    await expect(page).toHaveURL(/\/login\?next=%2Fdashboard$/);
    // The setup link was spent.
    const again = await page.goto(link);
    expect(again?.status()).toBe(404);
    expect(errors.filter((e) => /Content Security Policy|Refused to/.test(e)), 'no CSP violation').toEqual([]);
    await context.close();
  } finally {
    await server.stop();
  }
});

test('a viewer sees no action buttons and the server refuses them with 403', async ({ browser, page }) => {
  await connect(page);
  // The administrator adds a viewer in Settings.
  await page.goto('/settings');
  await page.getByLabel('Email', { exact: true }).fill('vera@example.com');
  await page.getByLabel(/First password/).fill('viewer-password');
  await page.getByLabel('Role', { exact: true }).selectOption('viewer');
  await page.getByRole('button', { name: 'Add user' }).click();
  await expect(page.getByTestId('settings-notice')).toContainText('User added');
  await expect(page.locator('tr[data-user="vera@example.com"]')).toBeVisible();

  const context = await browser.newContext({ baseURL: test.info().project.use.baseURL, storageState: undefined });
  const viewer = await context.newPage();
  await viewer.goto('/dashboard');
  await fillSignIn(viewer, 'vera@example.com', 'viewer-password');
  await expect(viewer).toHaveURL(/\/dashboard$/);
  await waitForHydration(viewer);
  const card = viewer.locator('li.integration');
  await expect(card).toHaveCount(1);
  await expect(card).toContainText('Ada Lovelace');
  await expect(viewer.getByTestId('signed-in-as')).toContainText('viewer');
  for (const name of ['Refresh token', 'Test connection', 'Disconnect']) {
    await expect(viewer.getByRole('button', { name })).toHaveCount(0);
  }
  await expect(viewer.getByRole('link', { name: 'Start OAuth Flow' })).toHaveCount(0);
  // Hidden is not enough: the server function itself refuses.
  const id = await card.getAttribute('data-integration-id');
  const refused = await viewer.request.post('/api/refresh_integration', { form: { id: id! } });
  expect(refused.status()).toBe(403);
  expect((await refused.json()).error).toBe('forbidden');
  const start = await viewer.goto('/oauth/start');
  expect(start?.status()).toBe(403);
  await context.close();

  // The administrator removes the viewer again (the second click confirms).
  await page.goto('/settings');
  const row = page.locator('tr[data-user="vera@example.com"]');
  await row.getByText('Remove…').click();
  await row.getByRole('button', { name: 'Remove vera@example.com' }).click();
  await expect(page.getByTestId('settings-notice')).toContainText('User removed');
  await expect(page.locator('tr[data-user="vera@example.com"]')).toHaveCount(0);
  await expect(page.locator('.account-log')).toContainText(`Removed vera@example.com`);
  await expect(page.locator('.account-log')).toContainText(ADMIN_EMAIL);
});

test('the event log names who acted', async ({ page }) => {
  await connect(page);
  await page.locator('li.integration').getByRole('button', { name: 'Refresh token' }).click();
  await expect(page.locator('li.integration').getByTestId('notice')).toContainText(/refresh/i);
  await page.locator('li.integration').getByRole('link').first().click();
  await waitForHydration(page);
  const rows = page.locator('table.events tbody tr');
  await expect(rows.first()).toContainText('refresh');
  await expect(rows.first()).toContainText(ADMIN_EMAIL);
});
