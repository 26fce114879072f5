import { defineConfig, devices } from '@playwright/test';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ADMIN_EMAIL, ADMIN_PASSWORD, ADMIN_STATE } from './tests/accounts';

// scripts/test picks a free port and passes it in; a bare `npx playwright test`
// falls back to a random high port.
const port = Number(process.env.E2E_PORT ?? 20000 + Math.floor(Math.random() * 20000));
const baseURL = `http://localhost:${port}`;
// A throw-away database for this run.
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jira-dashboard-e2e-'));
const root = path.resolve(__dirname, '..');

/** The release server, on `port`, with `env` added to its environment. */
export function releaseServer(env: Record<string, string> = {}) {
  return {
    // The release server that `cargo leptos build --release` produced.
    command: './target/release/server',
    cwd: root,
    url: `http://127.0.0.1:${port}/healthz`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: 'pipe' as const,
    stderr: 'pipe' as const,
    env: {
      LEPTOS_SITE_ADDR: `127.0.0.1:${port}`,
      LEPTOS_SITE_ROOT: 'target/site',
      LEPTOS_ENV: 'PROD',
      DATABASE_URL: `sqlite://${path.join(dataDir, 'e2e.db')}`,
      JIRA_REDIRECT_URI: `${baseURL}/oauth/callback`,
      RUST_LOG: 'warn',
      ADMIN_EMAIL,
      ADMIN_PASSWORD,
      // Connect links (connect_links.spec.ts): the company's product's name,
      // and the origin a link may return to (this server under another name).
      PRODUCT_NAME: 'Acme Reports',
      CONNECT_RETURN_ORIGINS: `http://127.0.0.1:${port}`,
      ...env,
    },
  };
}

export default defineConfig({
  testDir: './tests',
  timeout: 30_000,
  expect: { timeout: 5_000 },
  fullyParallel: false,
  workers: 1,
  forbidOnly: !!process.env.CI,
  retries: 0,
  reporter: [['list']],
  use: {
    ...devices['Desktop Chrome'],
    baseURL,
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
    launchOptions: {
      // Debian's Chromium: Playwright never downloads a browser here.
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    },
  },
  projects: [
    // Signs the administrator in once; the tests start from that state.
    { name: 'setup', testMatch: /auth\.setup\.ts/ },
    {
      name: 'chromium',
      dependencies: ['setup'],
      use: { storageState: ADMIN_STATE },
    },
  ],
  webServer: releaseServer(),
});
