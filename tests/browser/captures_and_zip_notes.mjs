// Usage: node captures_and_zip_notes.mjs URL DIR CHECK
// tests/test_page_captures_and_zip_notes.py: several photos on the web page. DIR holds a.png, c.png, d.png (small) and big.png (over the
// server's --max-upload-mb). CHECK "camera-all": a.png and c.png chosen, Segment, d.png taken (the camera input) while
// a.png is held on its way: the status line and the button at once, then once all are in. CHECK "camera-rest": a.png
// taken and segmented, c.png taken, Segment (c.png only), d.png taken while c.png is held: the same. CHECK "zip-note":
// a.png, big.png (refused) and lost.png (its connection aborted: failed) segmented: the line beside "Download all
// (ZIP)", the ZIP clicked; then a.png and c.png (all done). CHECK "nfd": a.png's bytes under the names of
// DIR/names.json, segmented, the ZIP saved as DIR/all.zip. Prints one JSON line.
import { readFile, copyFile } from 'node:fs/promises';
import { launchChromium, openPage } from './chromium.mjs';
import { listed, photoIn, tellFailure } from './page_helpers.mjs';

const [url, dir, check] = process.argv.slice(2);
const browser = await launchChromium();
const report = {};
let page = null, consoleErrors = [];
try {
  ({ page, consoleErrors } = await openPage(browser, url, { viewport: { width: 1024, height: 800 }, acceptDownloads: true }));
  await page.waitForFunction(() => state.maxUploadMb);
  const photo = photoIn(dir);
  const sent = []; let release = null, arrived = null, hold = '';
  const held = new Promise(done => { release = done; }), holding = new Promise(done => { arrived = done; });
  await page.route('**/v1/segment', async route => {
    const name = /filename="([^"]+)"/.exec(route.request().postDataBuffer().toString('latin1'))[1];
    sent.push(name);
    if (name === 'lost.png') { await route.abort('connectionreset'); return; }
    if (name === hold) { arrived(); await held; }
    try { await route.fulfill({ response: await route.fetch() }); } catch (err) { /* aborted by the page meanwhile */ }
  });
  const segment = async () => { await page.click('#run'); await page.waitForFunction(() => !document.querySelector('#run').disabled); };
  const note = () => page.evaluate(() => {  // (a page without it: said null, no 90 s wait for it)
    const said = document.querySelector('#zip-note');
    return { shown: !!said && !said.hidden && said.offsetParent !== null, said: said && said.textContent,
             describedBy: document.querySelector('#zip-all').getAttribute('aria-describedby') };
  });
  if (check === 'camera-all' || check === 'camera-rest') {  // a capture while a photo of the list is on its way
    if (check === 'camera-all') {
      await page.setInputFiles('#image', [await photo('a.png'), await photo('c.png')]);
      hold = 'a.png';
    } else {
      await page.setInputFiles('#camera', await photo('a.png'));
      await segment();
      await page.setInputFiles('#camera', await photo('c.png'));
      hold = 'c.png';
    }
    sent.length = 0;
    await page.click('#run');
    await holding;
    report.before = { status: await page.textContent('#queue-status'), button: await page.textContent('#run') };
    await page.setInputFiles('#camera', await photo('d.png'));
    // read at once: no wait for the page's next second
    report.during = { status: await page.textContent('#queue-status'), button: await page.textContent('#run'), list: await listed(page) };
    release();
    await page.waitForFunction(() => !document.querySelector('#run').disabled);
    report.after = { status: await page.textContent('#queue-status'), list: await listed(page), sent: [...sent] };
  }
  if (check === 'zip-note') {
    await page.setInputFiles('#image', [await photo('a.png'), await photo('big.png'), await photo('a.png', 'lost.png')]);
    report.chosen = await note();
    await segment();
    report.list = await listed(page);
    report.sent = await note();
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#zip-all')]);
    report.zipName = download.suggestedFilename();
    report.clicked = await note();
    await page.setInputFiles('#image', [await photo('a.png'), await photo('c.png')]);
    await segment();
    report.allDone = { list: await listed(page), zip: await page.isVisible('#zip-all'), ...(await note()) };
  }
  if (check === 'nfd') {
    const names = JSON.parse(await readFile(`${dir}/names.json`, 'utf8'));
    await page.setInputFiles('#image', await Promise.all(names.map(n => photo('a.png', n))));
    await segment();
    report.list = await listed(page);
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#zip-all')]);
    await copyFile(await download.path(), `${dir}/all.zip`);
    report.error = await page.textContent('#error');
  }
  report.consoleErrors = consoleErrors;
} catch (err) {  // what the page showed when it failed, beside the error
  await tellFailure(page, consoleErrors, listed);
  throw err;
} finally {
  await browser.close();
}
console.log(JSON.stringify(report));
