// Usage: node upload_progress.mjs URL PHOTO CHECK
// The web page while a photo uploads (tests/test_page_upload_progress.py). CHECK "progress": the upload throttled
// (Chromium's network emulation, 100 KB/s: a site's slow link) while every text of the Segment button and of the
// status line is recorded, then the answer read as before; and what the page's send() answers (a fetch Response: its
// status, headers, body). CHECK "cut": the server's answer cut off mid-body (the test's server does so). Prints one
// JSON line.
import { launchChromium, openPage } from './chromium.mjs';

const [url, photo, check] = process.argv.slice(2);
const browser = await launchChromium();
const report = {};
try {
  const { page, consoleErrors } = await openPage(browser, url);
  await page.setInputFiles('#image', photo);
  await page.evaluate(() => {  // each text the button and the status line show, in order
    window.button = []; window.said = [];
    const seen = (list, sel) => () => { const t = document.querySelector(sel).textContent; if (list[list.length - 1] !== t) list.push(t); };
    new MutationObserver(seen(window.button, '#run')).observe(document.querySelector('#run'), { childList: true, characterData: true, subtree: true });
    new MutationObserver(seen(window.said, '#status')).observe(document.querySelector('#status'), { childList: true, characterData: true, subtree: true });
  });
  if (check === 'progress') {
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 100 * 1024 });
  }
  await page.click('#run');
  await page.waitForFunction(() => !document.querySelector('#run').disabled);
  Object.assign(report, await page.evaluate(() => ({
    button: window.button, said: window.said,
    error: document.querySelector('#error').hidden ? '' : document.querySelector('#error').textContent,
    shown: !document.querySelector('#result').hidden,
    rows: [...document.querySelectorAll('#measures tbody tr')].map(tr => tr.dataset.prompt),
    image: state.result && [state.result.image.width, state.result.image.height] })));
  if (check === 'progress') {
    // send() answers as fetch would: the status, the headers (a 429's Retry-After, read for the wait) and the body
    await page.route('**/v1/segment', route => route.fulfill({ status: 429, contentType: 'application/json',
      headers: { 'Retry-After': '3' }, body: JSON.stringify({ detail: 'the server is busy; retry shortly' }) }));
    report.send = await page.evaluate(async () => {
      const models = await send('/v1/models', {}), busy = await send('/v1/segment', { method: 'POST', body: new FormData() });
      return { models: [models.status, models.ok, models.headers.get('Content-Type'), typeof (await models.json()).version],
               busy: [busy.status, busy.ok, busy.headers.get('Retry-After'), (await busy.json()).detail] };
    });
    await page.unroute('**/v1/segment');
  }
  report.consoleErrors = consoleErrors;
  await page.context().close();
} finally {
  await browser.close();
}
console.log(JSON.stringify(report));
