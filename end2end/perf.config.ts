import { defineConfig } from '@playwright/test';
import base, { releaseServer } from './playwright.config';

// scripts/bench: the browser's per-tick cost on a page of 500 live countdowns,
// against a database the benchmark seeded (PERF_DB).
export default defineConfig({
  ...base,
  testDir: './perf',
  timeout: 120_000,
  // The measurement signs in by itself (the seeded database has no session).
  projects: [{ name: 'chromium' }],
  webServer: releaseServer({
    DATABASE_URL: `sqlite://${process.env.PERF_DB ?? '/tmp/jira-dashboard-perf.db'}`,
    // Nothing should refresh in the background while the page is measured.
    SCHEDULER_INTERVAL_SECS: '300',
    REFRESH_MARGIN_SECS: '0',
  }),
});
