import { expect, test } from '@playwright/test';
import { signIn } from '../tests/helpers';

// Budget 4: a page of 500 live countdowns costs at most 2 ms of scripting per
// tick, and exactly one interval timer runs.
test('500 live countdowns: scripting per tick and interval timers', async ({ page }) => {
  await page.addInitScript(() => {
    const w = window as unknown as { __intervals: number; __ticks: number };
    w.__intervals = 0;
    w.__ticks = 0;
    const original = window.setInterval.bind(window);
    window.setInterval = ((handler: TimerHandler, ms?: number, ...rest: unknown[]) => {
      w.__intervals += 1;
      const wrapped = (...args: unknown[]) => {
        w.__ticks += 1;
        if (typeof handler === 'function') handler(...args);
      };
      return original(wrapped, ms, ...rest);
    }) as typeof window.setInterval;
  });
  await signIn(page, '/dashboard?size=500');
  await expect(page.locator('html[data-hydrated="true"]')).toHaveCount(1, { timeout: 30_000 });
  await expect(page.locator('[data-testid="countdown"]')).toHaveCount(500);
  await page.waitForTimeout(2_000);

  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable');
  const metric = async (name: string) =>
    ((await cdp.send('Performance.getMetrics')).metrics.find((m) => m.name === name)?.value ?? 0);
  const ticks = () => page.evaluate(() => (window as unknown as { __ticks: number }).__ticks);

  const perTick: number[] = [];
  for (let run = 0; run < 5; run++) {
    const [s0, t0] = [await metric('ScriptDuration'), await ticks()];
    await page.waitForTimeout(5_000);
    const [s1, t1] = [await metric('ScriptDuration'), await ticks()];
    perTick.push(((s1 - s0) * 1000) / Math.max(1, t1 - t0));
  }
  perTick.sort((a, b) => a - b);
  const median = perTick[Math.floor(perTick.length / 2)];
  const intervals = await page.evaluate(() => (window as unknown as { __intervals: number }).__intervals);
  console.log(`scripting per tick with 500 countdowns: median ${median.toFixed(3)} ms over 5 runs of 5 s (budget <= 2): ${median <= 2 ? 'within budget' : 'OVER BUDGET'}`);
  console.log(`interval timers started: ${intervals} (budget: exactly 1): ${intervals === 1 ? 'within budget' : 'OVER BUDGET'}`);
  expect(intervals).toBe(1);
});
