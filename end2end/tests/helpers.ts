import { APIRequestContext, expect, Page } from '@playwright/test';
import { spawn, ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { ADMIN_EMAIL, ADMIN_PASSWORD } from './accounts';

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

/**
 * Changes the built-in sandbox's switches (withheld refresh tokens, token lifetime).
 * `/sandbox/control/...` needs an administrator's session: `request` must carry
 * one (the tests' `request` fixture does, from the administrator's saved state).
 */
export async function sandboxSettings(
  request: APIRequestContext,
  settings: { withholdRefreshTokens?: boolean; accessTokenLifetimeSecs?: number },
) {
  const res = await request.post('/sandbox/control/settings', { data: settings });
  expect(res.ok(), `sandbox settings: ${res.status()} ${await res.text()}`).toBeTruthy();
}

/**
 * Each test's start: the sandbox's usual tokens (refresh tokens, an hour's
 * access tokens) and no integration. `request` must carry the administrator's
 * session (see {@link sandboxSettings}).
 */
export async function resetSandboxAndIntegrations(request: APIRequestContext) {
  await sandboxSettings(request, { withholdRefreshTokens: false, accessTokenLifetimeSecs: 3600 });
  await resetIntegrations(request);
}

/** From the dashboard: Start OAuth Flow, pick the account, Accept; back on the dashboard. */
export async function connect(page: Page, account = 'Ada Lovelace') {
  await openHydrated(page, '/dashboard');
  await connectFromHere(page, account);
}

/** From the dashboard already shown (on any server): Start OAuth Flow, pick the account, Accept. */
export async function connectFromHere(page: Page, account = 'Ada Lovelace') {
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

/** Opens `target`, signs in on the page it is sent to, and lands on `target`. */
export async function signIn(page: Page, target: string, email = ADMIN_EMAIL, password = ADMIN_PASSWORD) {
  await page.goto(target);
  await expect(page).toHaveURL(/\/login\?next=/);
  await fillSignIn(page, email, password);
}

/** On the sign-in page: email, password, "Sign in". */
export async function fillSignIn(page: Page, email: string, password: string) {
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** A server of our own: its base URL, port and data folder, and the lines it printed. */
export interface OwnServer {
  base: string;
  port: number;
  dir: string;
  lines: string[];
  process: ChildProcess;
  stop: () => Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * Starts the release server on a free port with a fresh database and no
 * account (a first start), and waits for the line it prints saying what to open.
 * With `again`, it starts on that earlier server's port and database instead
 * (a restart).
 */
export async function startOwnServer(
  env: Record<string, string> = {},
  again?: { port: number; dir: string },
): Promise<OwnServer> {
  const port = again?.port ?? (await freePort());
  const dir = again?.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'jira-dashboard-first-start-'));
  const root = path.resolve(__dirname, '..', '..');
  const child = spawn('./target/release/server', [], {
    cwd: root,
    env: {
      PATH: process.env.PATH ?? '',
      LEPTOS_SITE_ADDR: `127.0.0.1:${port}`,
      LEPTOS_SITE_ROOT: 'target/site',
      LEPTOS_ENV: 'PROD',
      DATABASE_URL: `sqlite://${path.join(dir, 'first-start.db')}`,
      JIRA_REDIRECT_URI: `http://localhost:${port}/oauth/callback`,
      RUST_LOG: 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: string[] = [];
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "open" line: ${lines.join('\n')}`)), 30_000);
    let buffered = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const parts = buffered.split('\n');
      buffered = parts.pop() ?? '';
      lines.push(...parts);
      if (parts.some((l) => l.startsWith('open '))) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on('exit', (code) => reject(new Error(`server exited with ${code}: ${lines.join('\n')}`)));
  });
  return {
    base: `http://localhost:${port}`,
    port,
    dir,
    lines,
    process: child,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
