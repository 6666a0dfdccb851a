// Chromium in the tests. Other test files add and remove network devices (veths, bridges, namespaces)
// while a page loads; Chromium sees the host's interfaces change and fails the navigation with
// net::ERR_NETWORK_CHANGED (a CI run's console test did). A user reloads; so does `goto` here.
import type { Page, Response } from 'playwright-core';

const ATTEMPTS = 5;

/** page.goto, again when Chromium dropped the load because the host's interfaces changed. */
export async function gotoSteady(page: Page, url: string): Promise<Response | null> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await page.goto(url);
    } catch (err) {
      if (attempt === ATTEMPTS || !/net::ERR_NETWORK_CHANGED/.test((err as Error).message)) throw err;
    }
  }
}
