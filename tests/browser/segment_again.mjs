// Usage: node segment_again.mjs URL DIR CHECK
// tests/test_page_segment_again.py: Segment pressed again on several photos. DIR holds a.png, c.png, d.png (small) and
// big.png (over the server's --max-upload-mb). CHECK "again": the four chosen, Segment pressed with c.png's
// connection dropped and d.png answered 500 (failed, not refused), then the button's text as an option is changed
// and changed back, Segment again (only c.png and d.png sent, a.png's answer kept), Segment once more (nothing left:
// all again), a prompt removed and Segment (all again). CHECK "stopped": Stop pressed while a.png is on its way, then
// Segment: the three sent (a.png aborted on its way). CHECK "one": one photo, Segment twice: sent twice. Prints one JSON line.
import { readFile } from 'node:fs/promises';
import { launchChromium, openPage } from './chromium.mjs';
import { photoIn, tellFailure } from './page_helpers.mjs';

const [url, dir, check] = process.argv.slice(2);
const browser = await launchChromium();
const report = {};
const listed = (page) => page.$$eval('#queue li', lis => lis.map(li => ({
  state: li.dataset.state, name: li.querySelector('.q-name').textContent, said: li.querySelector('.q-state').textContent,
  button: !!li.querySelector('button.q-view'), color: getComputedStyle(li.querySelector('.q-state')).color })));
const idle = (page) => page.waitForFunction(() => !document.querySelector('#run').disabled);
let page = null, consoleErrors = [];
try {
  ({ page, consoleErrors } = await openPage(browser, url, { viewport: { width: 1024, height: 800 }, acceptDownloads: true }));
  await page.waitForFunction(() => state.maxUploadMb);
  const photo = photoIn(dir);
  const photos = await Promise.all(['a.png', 'big.png', 'c.png', 'd.png'].map(name => photo(name)));
  // each request's photo name and prompts; the first c.png's connection dropped, the first d.png answered 500
  const sent = []; const failOnce = new Set(check === 'again' ? ['c.png', 'd.png'] : []);
  let release = null; const held = new Promise(done => { release = done; });
  await page.route('**/v1/segment', async route => {
    const body = route.request().postDataBuffer().toString('latin1'), name = /filename="([^"]+)"/.exec(body)[1];
    sent.push(name);
    if (check === 'stopped' && name === 'a.png') await held;
    if (failOnce.delete(name)) {
      if (name === 'c.png') await route.abort('connectionreset');
      else await route.fulfill({ status: 500, contentType: 'text/plain', body: 'Internal Server Error' });
      return;
    }
    try { await route.fulfill({ response: await route.fetch() }); } catch (err) { /* aborted by the page (Stop) meanwhile */ }
  });
  const round = async () => {
    sent.length = 0;
    await page.click('#run'); await idle(page);
    return { sent: [...sent], list: await listed(page), said: await page.textContent('#queue-status'),
             button: await page.textContent('#run') };
  };
  if (check === 'again') {
    await page.setInputFiles('#image', photos);
    report.first = await round();
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#json-all')]);
    report.first.all = JSON.parse(await readFile(await download.path(), 'utf8')).photos.map(p => [p.name, p.state, p.reason || '']);
    await page.click('#options summary');  // the options opened
    await page.fill('#mm', '0.5'); report.changed = await page.textContent('#run');  // an option changed: all again
    await page.fill('#mm', ''); report.back = await page.textContent('#run');  // as sent: the two left
    await page.fill('#prompt-input', 'segment hole'); report.typed = await page.textContent('#run');  // a prompt typed
    await page.fill('#prompt-input', '');
    // the second round: while it runs, the button says which of the remaining
    const prefixes = [];
    await page.exposeFunction('seen', t => prefixes.push(t));
    await page.evaluate(() => new MutationObserver(() => window.seen(document.querySelector('#run').textContent))
      .observe(document.querySelector('#run'), { childList: true, subtree: true, characterData: true }));
    report.second = await round();
    report.second.prefixes = [...new Set(prefixes.map(t => t.split(' \u00b7 ')[0]))];
    report.third = await round();  // nothing left: all again, as before
    await page.click('#chips .chip button');  // a prompt removed
    report.fewer = { button: await page.textContent('#run') };
    Object.assign(report.fewer, await round());
  }
  if (check === 'stopped') {
    await page.setInputFiles('#image', [photos[0], photos[2], photos[3]]);
    await page.click('#run');
    await page.waitForFunction(() => document.querySelector('#queue li').dataset.state === 'sending');
    await page.click('#stop'); release(); await idle(page);
    report.stopped = { list: await listed(page), button: await page.textContent('#run') };
    report.again = await round();
  }
  if (check === 'one') {
    await page.setInputFiles('#image', photos[0]);
    report.first = await round(); report.second = await round();
    report.second.status = await page.textContent('#status');
  }
  report.consoleErrors = consoleErrors;
} catch (err) {
  await tellFailure(page, consoleErrors, listed);
  throw err;
} finally {
  await browser.close();
}
console.log(JSON.stringify(report));
