// Usage: node page_stop.mjs URL DIR CHECK
// tests/test_page_stop.py: stopping a list of photos on its way, on the web page. DIR holds a.png, c.png and d.png.
// CHECK "stop": the three chosen, Segment; c.png's request held by a route and never answered (a connection that
// stays open, no answer); Stop pressed: whether c.png's request was aborted, what was sent, the list, its status line
// and the focus; then Segment: what it sends (c.png and d.png, not a.png), the list once all are in. CHECK "stall":
// the page told a request stalls after 1 s without progress (window.DRYWALLQA_STALL_S, set before it loads), a.png
// and c.png chosen, Segment, c.png never answered: the status line once it says so (no wait for a time: the page is
// waited for), whether the request was left alone (not aborted), then Stop. CHECK "one": a.png chosen alone (the
// stall after 1 s too), Segment, never answered: the status line once it says it stalls, Stop below Segment pressed,
// the page then (the focus, whether the request was aborted), Segment again. Prints one JSON line.
import { launchChromium } from './chromium.mjs';
import { photoIn, tellFailure } from './page_helpers.mjs';

const [url, dir, check] = process.argv.slice(2);
const browser = await launchChromium();
const report = {};
const listed = (page) => page.$$eval('#queue li', lis => lis.map(li => [li.querySelector('.q-name').textContent, li.dataset.state,
                                                                       li.querySelector('.q-state').textContent]));
let page = null, consoleErrors = [];
try {
  const context = await browser.newContext({ viewport: { width: 1024, height: 800 } });
  page = await context.newPage();
  page.setDefaultTimeout(90000);
  page.on('pageerror', e => consoleErrors.push(String(e)));
  if (check === 'stall' || check === 'one') await page.addInitScript(() => { window.DRYWALLQA_STALL_S = 1; });
  await page.goto(url);
  await page.waitForSelector('#chips .chip');
  await page.waitForFunction(() => state.maxUploadMb);
  const photo = photoIn(dir);
  const sent = [], failed = [];
  let release = null, arrived = null;
  const held = new Promise(done => { release = done; }), holding = new Promise(done => { arrived = done; });
  const name = (request) => /filename="([^"]+)"/.exec(request.postDataBuffer().toString('latin1'))[1];
  page.on('requestfailed', request => { if (request.url().endsWith('/v1/segment')) failed.push(name(request)); });
  await page.route('**/v1/segment', async route => {
    const photo = name(route.request());
    sent.push(photo);
    // the first time only: no answer
    if (check === 'one' ? sent.length === 1 : photo === 'c.png' && sent.length === 2) { arrived(); await held; }
    try { await route.fulfill({ response: await route.fetch() }); } catch (err) { /* aborted by the page meanwhile */ }
  });
  const idle = () => page.waitForFunction(() => !document.querySelector('#run').disabled);
  const read = async () => ({ list: await listed(page), status: await page.textContent('#queue-status'),
                              button: await page.textContent('#run'), stop: await page.isVisible('#stop'), sent: [...sent] });
  if (check === 'stop') {
    await page.setInputFiles('#image', [await photo('a.png'), await photo('c.png'), await photo('d.png')]);
    await page.click('#run');
    await holding;
    await page.waitForFunction(() => document.querySelector('#queue li:nth-child(2)').dataset.state === 'sending');
    report.during = { stop: await page.isVisible('#stop'), text: await page.textContent('#stop'),
                      size: await page.$eval('#stop', b => [b.offsetWidth, b.offsetHeight]) };
    await page.click('#stop');
    await idle();  // no answer came: Stop alone ended the run
    report.stopped = { ...(await read()), failed: [...failed], focused: await page.evaluate(() => document.activeElement.id) };
    release();
    await page.click('#run');
    await idle();
    report.again = await read();
  }
  if (check === 'stall') {
    await page.setInputFiles('#image', [await photo('a.png'), await photo('c.png')]);
    await page.click('#run');
    await holding;
    await page.waitForFunction(() => document.querySelector('#queue-status').textContent.includes('Stop, then Segment'));
    report.stalled = { ...(await read()), failed: [...failed], running: await page.isDisabled('#run'),
                       live: await page.getAttribute('#queue-status', 'aria-live') };
    await page.click('#stop');
    await idle();
    report.stopped = { ...(await read()), failed: [...failed] };
    release();
  }
  if (check === 'one') {
    await page.setInputFiles('#image', await photo('a.png'));
    await page.click('#run');
    await holding;
    await page.waitForFunction(() => document.querySelector('#status').textContent.includes('Stop, then Segment'));
    report.stalled = { status: await page.textContent('#status'), stop: await page.isVisible('#stop-one'), failed: [...failed],
                       size: await page.$eval('#stop-one', b => [b.offsetWidth, b.offsetHeight]),
                       run: await page.$eval('#run', b => b.offsetHeight), label: await page.textContent('#stop-one') };
    await page.focus('#stop-one');
    await page.keyboard.press('Enter');  // with the keyboard
    await idle();
    report.stopped = { status: await page.textContent('#status'), error: await page.textContent('#error'), failed: [...failed],
                       stop: await page.isVisible('#stop-one'), focused: await page.evaluate(() => document.activeElement.id),
                       button: await page.textContent('#run') };
    release();
    await page.click('#run');
    await page.waitForFunction(() => !document.querySelector('#run').disabled && document.querySelector('#status').textContent.startsWith('Done'));
    report.again = { sent: [...sent], stop: await page.isVisible('#stop-one'), result: await page.isVisible('#result') };
  }
  report.consoleErrors = consoleErrors;
} catch (err) {  // what the page showed when it failed, beside the error
  await tellFailure(page, consoleErrors, listed);
  throw err;
} finally {
  await browser.close();
}
console.log(JSON.stringify(report));
