// Chromium in the tests. Other test files add and remove network devices (veths, bridges, namespaces)
// while a page loads; Chromium sees the host's interfaces change and fails the navigation with
// net::ERR_NETWORK_CHANGED (a CI run's console test did). A user reloads; so does `goto` here.
// Chromium does not always say so in goto's error: when the failure comes after the request has
// started, it commits its error page as a new document and Playwright reports the navigation as
// "interrupted by another navigation to chrome-error://chromewebdata/" (CI on 848f1a9). The navigation
// request's own failure, seen on `requestfailed`, then says why; a load is tried again only when that
// reason is the network change (or Chromium gave none), and an error that is not retried names it. Chromium
// may also restart the navigation itself after such a failure: Playwright then says it was "interrupted by
// another navigation to" the very URL asked for (ci71 on c96f5c8); nothing of the test navigates twice, so
// that is Chromium's own retry, and goto waits for it by loading again.
import type { Page, Request, Response } from 'playwright-core';

const ATTEMPTS = 5;
const CHANGED = /net::ERR_NETWORK_CHANGED/;
const TO_ERROR_PAGE = /interrupted by another navigation to "chrome-error:/;

/** page.goto, again when Chromium dropped the load because the host's interfaces changed. */
export async function gotoSteady(page: Page, url: string): Promise<Response | null> {
  for (let attempt = 1; ; attempt++) {
    const failures: string[] = [];
    const onFailed = (request: Request): void => {
      if (request.isNavigationRequest()) failures.push(request.failure()?.errorText ?? 'no reason');
    };
    page.on('requestfailed', onFailed);
    try {
      return await page.goto(url);
    } catch (err) {
      const message = (err as Error).message;
      const interrupted =
        TO_ERROR_PAGE.test(message) || message.includes(`interrupted by another navigation to "${url}"`);
      const changed =
        CHANGED.test(message) || (interrupted && failures.every((reason) => CHANGED.test(reason)));
      if (attempt < ATTEMPTS && changed) continue;
      if (failures.length > 0)
        (err as Error).message += `\n(the navigation request failed: ${failures.join(', ')})`;
      throw err;
    } finally {
      page.off('requestfailed', onFailed);
    }
  }
}
