// Usage: node sending_states.mjs URL DIR CHECK [HOLD NAME]
// tests/test_page_sending_states.py: the states of the photos of the web page's list as they are sent in turn. DIR holds a.png,
// c.png, d.png (small) and big.png (over the server's --max-upload-mb). CHECK "between": a.png, big.png (refused),
// lost.png (a.png's bytes, its connection aborted: failed) and c.png chosen, Segment; the page's own HOLD
// ("render": the answer drawn below; "thumbnail": its line's picture) of the photo NAME held once its answer came (the
// page's function replaced, as the tests replace window.send), d.png taken (the camera input) then: the status line,
// the button and the list at once; released, then once all are in. CHECK "leave": a.png and c.png chosen, Segment,
// a.png held on its way; then (HOLD) "one": d.png chosen alone, or "list": c.png and d.png chosen: the page at once,
// whether a.png's request was aborted, then Segment pressed once the button is free. CHECK "prompts": a.png chosen
// alone and segmented with the first two prompts; "segment crack" removed, Segment again, d.png taken while a.png is
// held on its way: a.png's line once its answer came, the masks below, then its line chosen. CHECK "limit": the page
// told the upload limit is 0.02 MB as it loads (the server's before it restarted with a larger one), the server's
// answers after that as they are; (HOLD) "one": big.png chosen alone, or "list": a.png and big.png, Segment. CHECK
// "zip": a.png and c.png chosen, Segment, "Download all (ZIP)" clicked while c.png is held on its way (saved as
// DIR/flight.zip): the line beside it then, and once c.png is in. CHECK "single": a.png chosen alone, Segment, c.png
// and d.png chosen while it is held on its way: the status line and the list once its answer came. Prints one JSON
// line.
import { copyFile } from 'node:fs/promises';
import { launchChromium } from './chromium.mjs';
import { listed, photoIn, tellFailure } from './page_helpers.mjs';

const [url, dir, check, hold, holdName] = process.argv.slice(2);
const browser = await launchChromium();
const report = {};
let page = null, consoleErrors = [];
try {
  // as openPage, the server's first answer of its limits changed where CHECK is "limit" (a route set before the page loads)
  const context = await browser.newContext({ viewport: { width: 1024, height: 800 }, acceptDownloads: true });
  let models = 0;
  await context.route('**/v1/models', async route => {
    const response = await route.fetch(), data = await response.json();
    if ((models += 1) === 1 && check === 'limit') data.limits.max_upload_mb = 0.02;
    await route.fulfill({ response, json: data });
  });
  page = await context.newPage();
  page.setDefaultTimeout(90000);
  page.on('pageerror', e => consoleErrors.push(String(e)));
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
    if (photo === 'lost.png') { await route.abort('connectionreset'); return; }
    if (check === 'leave' && photo === 'a.png' && sent.length === 1) { arrived(); await held; }
    if (check === 'prompts' && photo === 'a.png' && sent.length === 2) { arrived(); await held; }
    if (check === 'zip' && photo === 'c.png') { arrived(); await held; }
    if (check === 'single' && photo === 'a.png') { arrived(); await held; }
    try { await route.fulfill({ response: await route.fetch() }); } catch (err) { /* aborted by the page meanwhile */ }
  });
  const read = async () => ({ status: await page.textContent('#queue-status'), button: await page.textContent('#run'),
                              list: await listed(page) });
  if (check === 'between') {
    // the page's function `hold` waits, for the photo `name`, until window.release() (window.holding once it waits)
    await page.evaluate(([hold, name]) => {
      const real = window[hold], let_go = new Promise(done => { window.release = done; });
      window[hold] = async (...args) => {
        const photo = hold === 'render' ? args[2] : args[0];
        if (photo.name === name && !window.holding) { window.holding = true; await let_go; }
        return real(...args);
      };
    }, [hold, holdName]);
    await page.setInputFiles('#image', [await photo('a.png'), await photo('big.png'), await photo('a.png', 'lost.png'),
                                        await photo('c.png')]);
    await page.click('#run');
    await page.waitForFunction(() => window.holding);
    await page.setInputFiles('#camera', await photo('d.png'));
    report.during = await read();  // at once: no wait for the page's next second
    await page.evaluate(() => window.release());
    await page.waitForFunction(() => !document.querySelector('#run').disabled);
    report.after = { ...(await read()), sent: [...sent] };
  }
  if (check === 'leave') {
    await page.setInputFiles('#image', [await photo('a.png'), await photo('c.png')]);
    await page.click('#run');
    await holding;
    if (hold === 'one') await page.setInputFiles('#image', await photo('d.png'));
    else await page.setInputFiles('#image', [await photo('c.png'), await photo('d.png')]);
    report.left = { button: await page.textContent('#run'), disabled: await page.isDisabled('#run'), list: await listed(page) };
    release();
    await page.waitForFunction(() => !document.querySelector('#run').disabled);
    report.failed = [...failed];
    await page.click('#run');
    await page.waitForFunction(() => !document.querySelector('#run').disabled);
    report.after = { list: await listed(page), status: await page.textContent('#status'), sent: [...sent],
                     error: await page.textContent('#error') };
  }
  if (check === 'prompts') {
    const rows = () => page.$$eval('#measures tbody tr', trs => trs.map(tr => tr.dataset.prompt));
    const line = () => page.$$eval('#queue li', lis => lis.map(li => li.querySelector('.q-state').textContent));
    await page.setInputFiles('#image', await photo('a.png'));
    await page.click('#run');
    await page.waitForFunction(() => !document.querySelector('#run').disabled);
    report.first = await rows();
    await page.click('#chips .chip[data-prompt="segment crack"] button');
    await page.click('#run');
    await holding;
    await page.setInputFiles('#camera', await photo('d.png'));
    release();
    await page.waitForFunction(() => document.querySelector('#queue li').dataset.state === 'done' && !document.querySelector('#run').disabled);
    report.answered = { list: await listed(page), said: await line(), rows: await rows(), button: await page.textContent('#run') };
    await page.click('#queue li:first-child button.q-view');
    await page.waitForFunction(() => document.querySelector('#status').textContent.includes('a.png'));
    report.chosen = { rows: await rows(), curl: await page.textContent('#curl') };
  }
  if (check === 'limit') {
    await page.setInputFiles('#image', hold === 'one' ? await photo('big.png') : [await photo('a.png'), await photo('big.png')]);
    await page.click('#run');
    await page.waitForFunction(() => !document.querySelector('#run').disabled);
    report.after = { list: await listed(page), status: await page.textContent('#status'), sent: [...sent],
                     error: await page.textContent('#error'), models };
  }
  if (check === 'zip') {
    await page.setInputFiles('#image', [await photo('a.png'), await photo('c.png')]);
    await page.click('#run');
    await holding;
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#zip-all')]);
    await copyFile(await download.path(), `${dir}/flight.zip`);
    report.during = { note: await page.textContent('#zip-note'), list: await listed(page) };
    release();
    await page.waitForFunction(() => !document.querySelector('#run').disabled);
    report.after = { note: await page.textContent('#zip-note'), hidden: await page.isHidden('#zip-note') };
  }
  if (check === 'single') {
    await page.setInputFiles('#image', await photo('a.png'));
    await page.click('#run');
    await holding;
    await page.setInputFiles('#image', [await photo('c.png'), await photo('d.png')]);
    release();
    await page.waitForFunction(() => !document.querySelector('#run').disabled);
    report.after = { status: await page.textContent('#status'), list: await listed(page), result: await page.isVisible('#result') };
  }
  report.consoleErrors = consoleErrors;
} catch (err) {  // what the page showed when it failed, beside the error
  await tellFailure(page, consoleErrors, listed);
  throw err;
} finally {
  await browser.close();
}
console.log(JSON.stringify(report));
