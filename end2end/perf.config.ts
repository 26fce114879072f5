import { defineConfig } from '@playwright/test';
import base from './playwright.config';

// scripts/bench: the browser's per-tick cost on a page of 500 live countdowns,
// against a database the benchmark seeded (PERF_DB).
export default defineConfig({
  ...base,
  testDir: './perf',
  timeout: 120_000,
  webServer: {
    ...(base.webServer as object),
    env: {
      ...((base.webServer as { env: Record<string, string> }).env),
      DATABASE_URL: `sqlite://${process.env.PERF_DB ?? '/tmp/jira-dashboard-perf.db'}`,
      // Nothing should refresh in the background while the page is measured.
      SCHEDULER_INTERVAL_SECS: '100000',
      REFRESH_MARGIN_SECS: '0',
    },
  },
});
