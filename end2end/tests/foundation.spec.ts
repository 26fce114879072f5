import { expect, test } from '@playwright/test';
import { openHydrated, resetIntegrations } from './helpers';

test('/ redirects to the dashboard', async ({ page }) => {
  await page.goto('/');
  await expect(page).toHaveURL(/\/dashboard$/);
  await expect(page.getByRole('heading', { level: 1, name: 'Jira Integrations' })).toBeVisible();
});

test('the dashboard hydrates and its clock ticks in the browser', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  await openHydrated(page, '/dashboard');
  await expect(page.getByTestId('mode-badge')).toHaveText('Sandbox');
  const clock = page.getByTestId('page-clock');
  await expect(clock).toHaveText(/^\d\d:\d\d:\d\d UTC$/);
  const first = await clock.textContent();
  // Only the WebAssembly's one-second interval can change this text.
  await expect(clock).not.toHaveText(first ?? '', { timeout: 2_500 });
  expect(errors).toEqual([]);
});

test('a new user is told how to start', async ({ page, request }) => {
  await resetIntegrations(request);
  await page.goto('/dashboard');
  await expect(page.getByRole('heading', { name: 'No Jira sites connected yet' })).toBeVisible();
  await expect(page.getByRole('link', { name: 'Start OAuth Flow' }).first()).toHaveAttribute('href', '/oauth/start');
});
