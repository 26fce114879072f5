// Connect links: a service makes a link for one of its customers; a browser
// with no dashboard session opens it, consents at the sandbox and lands on
// the service's return URL; the integration shows its end user and tags on
// the dashboard. And a `reconnectUrl` from an `integration.needs_reauth`
// webhook repairs the same integration without anyone signing in here.
import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { APIRequestContext, Browser, expect, Page, test } from '@playwright/test';
import { resetSandboxAndIntegrations } from './helpers';

test.beforeEach(async ({ request }) => {
  await resetSandboxAndIntegrations(request);
});

/** In Settings: a key named `name` with `scopes`, confined to `tags`; the key. */
async function createKey(page: Page, name: string, scopes: RegExp[], tags: string): Promise<string> {
  await page.goto('/settings');
  const keys = page.getByRole('region', { name: 'API keys' });
  await keys.getByLabel('Name (the service that will use it)').fill(name);
  for (const scope of scopes) await keys.getByLabel(scope).check();
  await keys.getByLabel(/Confine to tags/).fill(tags);
  await keys.getByRole('button', { name: 'Create key' }).click();
  const shown = page.getByTestId('new-api-key');
  await expect(shown).toHaveText(/^jdk_/);
  return (await shown.textContent()) ?? '';
}

/** A browser of its own: no cookie, no session. */
async function stranger(browser: Browser): Promise<Page> {
  const context = await browser.newContext({ storageState: { cookies: [], origins: [] } });
  return context.newPage();
}

/** On the link's page: Continue, then Ada's consent at the sandbox. */
async function consentThroughLink(customer: Page, url: string) {
  await customer.goto(url);
  await customer.getByRole('button', { name: 'Continue to Atlassian' }).click();
  await expect(customer.getByRole('heading', { name: /wants to access your Atlassian account/ })).toBeVisible();
  await customer.getByLabel('Ada Lovelace').check();
  await customer.getByRole('button', { name: 'Accept' }).click();
}

async function makeLink(program: APIRequestContext, key: string, body: object): Promise<string> {
  const res = await program.post('/v1/connect-sessions', {
    headers: { authorization: `Bearer ${key}` },
    data: body,
  });
  expect(res.status(), await res.text()).toBe(201);
  return (await res.json()).url;
}

test('a customer with no account connects through a link and lands on the return URL', async ({
  page,
  browser,
  playwright,
  baseURL,
}) => {
  const key = await createKey(page, 'customer portal', [/^connect/, /integrations:read/], 'tenant=acme');
  await expect(page.getByTestId('api-key').filter({ hasText: 'customer portal' })).toContainText('only tenant=acme');
  const program = await playwright.request.newContext({ baseURL, storageState: { cookies: [], origins: [] } });
  const back = baseURL!.replace('localhost', '127.0.0.1');
  const url = await makeLink(program, key, {
    endUserId: 'customer-42',
    displayName: 'Initech',
    tags: { plan: 'pro' },
    returnUrl: `${back}/healthz?from=portal`,
  });

  const customer = await stranger(browser);
  await customer.goto(url);
  await expect(customer.getByRole('heading', { name: 'Connect Jira to Acme Reports' })).toBeVisible();
  await expect(customer.getByText('For Initech.')).toBeVisible();
  await expect(customer.getByText('Read your Jira projects, issues and comments')).toBeVisible();
  await expect(customer.getByRole('link', { name: /dashboard/i })).toHaveCount(0);
  await consentThroughLink(customer, url);
  await expect(customer).toHaveURL(/\/healthz\?from=portal&connectSessionId=\d+&integrationId=\d+&result=connected$/);
  const id = new URL(customer.url()).searchParams.get('integrationId');

  // The link is spent.
  await customer.goto(url);
  await expect(customer.getByText(/already used/)).toBeVisible();
  await customer.context().close();

  // The dashboard shows whose it is; the integration page lists the link.
  await page.goto('/dashboard');
  const card = page.locator(`[data-integration-id="${id}"]`);
  await expect(card.getByTestId('end-user')).toHaveText('For Initech (customer-42) · plan=pro, tenant=acme');
  await page.goto(`/integrations/${id}`);
  await expect(page.getByTestId('end-user')).toContainText('For Initech (customer-42)');
  await expect(page.getByTestId('connect-link').first()).toContainText('connected');
  await expect(page.getByTestId('connect-link').first()).toContainText('API key "customer portal"');

  // The service sees it with its end user and tags.
  const listed = await program.get('/v1/integrations?endUserId=customer-42', {
    headers: { authorization: `Bearer ${key}` },
  });
  const body = await listed.json();
  expect(body.items.map((i: { id: number }) => String(i.id))).toEqual([id]);
  expect(body.items[0].tags).toEqual({ plan: 'pro', tenant: 'acme' });
  await program.dispose();
});

test('a reconnectUrl from a needs_reauth webhook repairs the same integration', async ({ page, browser, playwright, baseURL }) => {
  const messages: { type: string; data: { reconnectUrl?: string; integration?: { id: number } } }[] = [];
  const receiver: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      messages.push(JSON.parse(body));
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  try {
    const allow = await page.request.post('/settings/webhooks/settings', { form: { allow_private: 'on' } });
    expect(allow.ok()).toBeTruthy();
    const added = await page.request.post('/settings/webhooks', {
      form: { url: hookUrl, 'integration.needs_reauth': 'on' },
    });
    expect(added.ok()).toBeTruthy();

    const key = await createKey(page, 'support tool', [/^connect/], '');
    const program = await playwright.request.newContext({ baseURL, storageState: { cookies: [], origins: [] } });
    const url = await makeLink(program, key, { endUserId: 'customer-7', displayName: 'Globex' });
    await program.dispose();
    const customer = await stranger(browser);
    await consentThroughLink(customer, url);
    await expect(customer.getByRole('heading', { name: 'Jira is connected' })).toBeVisible();

    // Atlassian rejects the refresh token; the next refresh deactivates it.
    const listed = await page.request.post('/api/list_integrations', {
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    const [integration] = await listed.json();
    const id = String(integration.id);
    const revoked = await page.request.post(`/sandbox/control/grants/${encodeURIComponent(integration.accountId)}/revoke`);
    expect(revoked.ok()).toBeTruthy();
    await page.request.post('/api/refresh_integration', { form: { id } });
    await expect
      .poll(() => messages.find((m) => m.type === 'integration.needs_reauth')?.data.reconnectUrl, { timeout: 15_000 })
      .toBeTruthy();
    const message = messages.find((m) => m.type === 'integration.needs_reauth')!;
    expect(String(message.data.integration?.id)).toBe(id);

    // The customer opens it (no account here) and repairs the same integration.
    await customer.goto(message.data.reconnectUrl!);
    await expect(customer.getByRole('heading', { name: 'Reconnect Jira to Acme Reports' })).toBeVisible();
    await consentThroughLink(customer, message.data.reconnectUrl!);
    await expect(customer.getByRole('heading', { name: 'Jira is reconnected' })).toBeVisible();
    await customer.context().close();

    await page.goto(`/integrations/${id}`);
    await expect(page.locator('.badge.status')).toHaveText(/active/i);
    await expect(page.getByTestId('end-user')).toContainText('For Globex (customer-7)');
  } finally {
    await new Promise((resolve) => receiver.close(resolve));
  }
});
