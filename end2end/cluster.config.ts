import { defineConfig } from '@playwright/test';
import * as path from 'node:path';
import base from './playwright.config';
import { ADMIN_EMAIL, ADMIN_PASSWORD } from './tests/accounts';

// scripts/test: the journey through a load balancer in front of three server
// processes on PostgreSQL (scripts/cluster, with the binaries already built).
const port = Number(process.env.E2E_PORT ?? 20000 + Math.floor(Math.random() * 20000));

export default defineConfig({
  ...base,
  testDir: './cluster',
  timeout: 90_000,
  projects: [{ name: 'chromium' }],
  use: { ...base.use, baseURL: `http://localhost:${port}`, storageState: undefined },
  webServer: {
    command: 'scripts/cluster --no-build',
    cwd: path.resolve(__dirname, '..'),
    // HAProxy answers once every server is up.
    url: `http://127.0.0.1:${port}/healthz`,
    reuseExistingServer: false,
    timeout: 180_000,
    stdout: 'pipe',
    stderr: 'pipe',
    // scripts/cluster stops what it started (PostgreSQL too) on SIGTERM.
    gracefulShutdown: { signal: 'SIGTERM', timeout: 30_000 },
    env: {
      CLUSTER_PORT: String(port),
      ADMIN_EMAIL,
      ADMIN_PASSWORD,
      RUST_LOG: 'warn',
    },
  },
});
