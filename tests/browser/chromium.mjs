// The headless Chromium the browser tests of the web page run (tests/test_browser.py and the tests beside it), and a
// desktop-sized page of the server with its scripts' errors collected.
import { chromium } from 'playwright-core';

export const launchChromium = () => chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
         '--disable-component-update', '--disable-sync'],
});

// `url` opened in a new context of `options` (default 1280 x 900; a phone's size, acceptDownloads, ...), once its
// prompt chips are drawn; `consoleErrors` collects the page's uncaught errors.
export async function openPage(browser, url, options = { viewport: { width: 1280, height: 900 } }) {
  const context = await browser.newContext(options);
  const page = await context.newPage();
  page.setDefaultTimeout(90000);  // a model answer on 2 busy cores can take longer than the 30 s default
  const consoleErrors = [];
  page.on('pageerror', e => consoleErrors.push(String(e)));
  await page.goto(url);
  await page.waitForSelector('#chips .chip');
  return { page, consoleErrors };
}
