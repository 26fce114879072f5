// Webhooks: an administrator adds an endpoint in Settings (a loopback address
// needs the private-address setting first), sees its secret once, sends a
// test event, and sees the delivery; the receiver is a real HTTP server here
// and checks the Standard Webhooks signature with the secret it was shown.
import { createHmac } from 'node:crypto';
import { createServer, IncomingHttpHeaders, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { expect, test } from '@playwright/test';

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

let server: Server;
let hookUrl = '';
const received: Received[] = [];

test.beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  hookUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
});

test.afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

function signature(secret: string, id: string, timestamp: string, body: string): string {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  return 'v1,' + createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64');
}

test('an admin adds a webhook endpoint, sends a test event and sees the delivery', async ({ page }) => {
  await page.goto('/settings');
  const hooks = page.getByRole('region', { name: 'Webhooks' });
  const addressSetting = hooks.getByLabel(/Allow endpoints on loopback and private addresses/);
  if (await addressSetting.isChecked()) {
    await addressSetting.uncheck();
    await hooks.getByRole('button', { name: 'Save' }).click();
  }

  // A loopback address is refused until an administrator allows it.
  await hooks.getByLabel('URL (https://...)').fill(hookUrl);
  await hooks.getByRole('button', { name: 'Add endpoint' }).click();
  await expect(page.getByTestId('webhook-error')).toContainText('loopback, private or otherwise internal address');
  await page.getByRole('region', { name: 'Webhooks' }).getByLabel(/Allow endpoints on loopback/).check();
  await page.getByRole('region', { name: 'Webhooks' }).getByRole('button', { name: 'Save' }).click();
  await expect(page.getByTestId('settings-notice')).toHaveText('Webhook settings saved.');

  await page.getByLabel('URL (https://...)').fill(hookUrl);
  await page.getByRole('button', { name: 'Add endpoint' }).click();
  const shown = page.getByTestId('new-webhook-secret');
  await expect(shown).toHaveText(/^whsec_[A-Za-z0-9+/=]{32}$/);
  const secret = (await shown.textContent()) ?? '';

  const endpoint = page.getByTestId('webhook-endpoint').filter({ hasText: hookUrl });
  await expect(endpoint).toContainText('enabled');
  await endpoint.getByRole('button', { name: 'Send test event' }).click();
  await expect(page.getByTestId('settings-notice')).toContainText('Test event queued');

  // The worker delivers within a second or two; the page shows the attempt.
  await expect
    .poll(async () => {
      await page.goto('/settings');
      const row = page.getByTestId('webhook-endpoint').filter({ hasText: hookUrl }).getByTestId('webhook-delivery').first();
      return (await row.count()) ? row.getAttribute('data-state') : null;
    }, { timeout: 15_000 })
    .toBe('delivered');
  const delivery = page.getByTestId('webhook-endpoint').filter({ hasText: hookUrl }).getByTestId('webhook-delivery').first();
  await expect(delivery).toContainText('webhook.test');
  await expect(delivery.getByTestId('webhook-attempt')).toContainText('HTTP 204');
  // Shown once: the secret is not on the page any more.
  await expect(page.getByTestId('new-webhook-secret')).toHaveCount(0);
  await expect(page.locator('body')).not.toContainText(secret);

  // The receiver got it, signed with the secret it was shown.
  const test = received.find((r) => JSON.parse(r.body).type === 'webhook.test');
  expect(test).toBeTruthy();
  const id = String(test!.headers['webhook-id']);
  const timestamp = String(test!.headers['webhook-timestamp']);
  await expect(delivery).toContainText(id);
  expect(test!.headers['webhook-signature']).toBe(signature(secret, id, timestamp, test!.body));
  expect(test!.headers['webhook-signature']).not.toBe(signature('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', id, timestamp, test!.body));

  // Tidy up for the other journeys: delete the endpoint, forbid private addresses.
  const again = page.getByTestId('webhook-endpoint').filter({ hasText: hookUrl });
  await again.getByText('Delete…').click();
  await again.getByRole('button', { name: 'Delete endpoint' }).click();
  await expect(page.getByTestId('settings-notice')).toHaveText('Webhook endpoint deleted, with its delivery log.');
  await page.getByRole('region', { name: 'Webhooks' }).getByLabel(/Allow endpoints on loopback/).uncheck();
  await page.getByRole('region', { name: 'Webhooks' }).getByRole('button', { name: 'Save' }).click();
});
