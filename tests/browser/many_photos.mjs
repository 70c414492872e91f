// Usage: node many_photos.mjs URL DIR CHECK
// tests/test_page_many_photos.py: several photos at once on the web page. DIR holds a.png, c.png, d.png (small) and
// big.png (over the server's --max-upload-mb). CHECK "list": the four chosen at once, Segment pressed: the requests
// (one at a time, in turn; big.png never sent, d.png answered 422 by a route), the list while c.png is held on its
// way (done, refused, sending, waiting), then once all are in; a photo of the list selected with the keyboard; all
// the answers downloaded; then one photo chosen: the page as it was for one. CHECK "stop": Stop pressed while the
// first photo is on its way: the others not sent. CHECK "drop": three files dropped on a phone (one a text file, one
// of a long one-word name). CHECK "screenshot" (DIR: where to write it): the first four sample photos, one over the
// server's limit and one whose connection is lost (failed) sent, the page saved as DIR/page_many.png
// (docs/page_many.jpg: against drywallqa serve, the shipped model). Prints one JSON line.
import { readFile } from 'node:fs/promises';
import { launchChromium, openPage } from './chromium.mjs';
import { photoIn, tellFailure } from './page_helpers.mjs';

const [url, dir, check] = process.argv.slice(2);
const browser = await launchChromium();
const report = {};
const listed = (page) => page.$$eval('#queue li', lis => lis.map(li => ({
  state: li.dataset.state, name: li.querySelector('.q-name').textContent, said: li.querySelector('.q-state').textContent,
  button: !!li.querySelector('button.q-view'), pressed: li.querySelector('button.q-view')?.getAttribute('aria-pressed') ?? null,
  thumb: (li.querySelector('img.q-thumb').getAttribute('src') || '').slice(0, 22),
  progress: li.querySelector('progress') ? { label: li.querySelector('progress').getAttribute('aria-label'),
                                            value: li.querySelector('progress').hasAttribute('value') } : null })));
let page = null, consoleErrors = [];
try {
  ({ page, consoleErrors } = await openPage(browser, url, { viewport: { width: 1024, height: 800 }, acceptDownloads: true }));
  await page.waitForFunction(() => state.maxUploadMb);  // the server's limit read
  const photo = photoIn(dir);
  const photos = check === 'screenshot' ? [] : await Promise.all(['a.png', 'big.png', 'c.png', 'd.png'].map(name => photo(name)));
  // each request: the photo's name, how many were on their way at once; c.png held until released, d.png refused
  const sent = []; let inFlight = 0, most = 0, release = null;
  const held = new Promise(done => { release = done; });
  await page.route('**/v1/segment', async route => {
    const name = /filename="([^"]+)"/.exec(route.request().postDataBuffer().toString('latin1'))[1];
    sent.push(name); inFlight += 1; most = Math.max(most, inFlight);
    try {
      if (check === 'list' && name === 'c.png') await held;
      if (check === 'stop' && name === 'a.png') await held;
      if (check === 'screenshot' && name === 'IMG_0415.jpg') { await route.abort('connectionreset'); return; }  // failed
      if (name === 'd.png') {
        await route.fulfill({ status: 422, contentType: 'application/json',
                              body: JSON.stringify({ detail: [{ loc: ['body', 'tile'], msg: 'the tile is too small' }] }) });
        return;
      }
      try { await route.fulfill({ response: await route.fetch() }); } catch (err) { /* aborted by the page (Stop) meanwhile */ }
    } finally { inFlight -= 1; }
  });
  if (check === 'list') {
    await page.setInputFiles('#image', photos);
    report.chosen = { said: await page.textContent('#photo-name'), list: await listed(page),
                      shown: await page.isVisible('#queue-wrap'), preview: await page.$eval('#preview', e => !e.hidden) };
    await page.focus('#run'); await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.querySelector('#queue li:nth-child(3)').dataset.state === 'sending');
    await page.waitForTimeout(300);
    report.during = { list: await listed(page), button: await page.textContent('#run'), disabled: await page.isDisabled('#run'),
                      said: await page.textContent('#queue-status'), focused: await page.evaluate(() => document.activeElement.id),
                      shownName: await page.getAttribute('#json', 'download'), stop: await page.isVisible('#stop') };
    release();
    await page.waitForFunction(() => !document.querySelector('#run').disabled);
    await page.waitForFunction(() => !document.querySelector('#result').hidden);
    report.after = { list: await listed(page), sent: [...sent], most, said: await page.textContent('#queue-status'),
                     button: await page.textContent('#run'), stop: await page.isVisible('#stop'),
                     shownName: await page.getAttribute('#json', 'download'), status: await page.textContent('#status'),
                     error: await page.isVisible('#error') };
    // the third photo's line chosen with the keyboard: shown as one photo is, the focus kept on the list
    await page.focus('#queue li:nth-child(3) button.q-view'); await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.querySelector('#json').download === 'c__result.json');
    report.selected = { list: await listed(page), status: await page.textContent('#status'),
                        overlay: await page.getAttribute('#overlay', 'aria-label'),
                        rows: await page.$$eval('#measures tbody tr', trs => trs.map(tr => tr.dataset.prompt)),
                        focused: await page.evaluate(() => document.activeElement.closest('li') &&
                                                           document.activeElement.closest('li').querySelector('.q-name').textContent) };
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#json-all')]);
    const all = JSON.parse(await readFile(await download.path(), 'utf8'));
    report.all = { name: download.suggestedFilename(), photos: all.photos.map(p => ({ name: p.name, state: p.state, reason: p.reason || '',
      prompts: p.result ? p.result.results.map(r => r.prompt) : null, mask: p.result ? p.result.results[0].mask.base64.slice(0, 8) : null })) };
    // one photo chosen again: no list, the page as for one photo (the results in view, the focus on them)
    await page.setInputFiles('#image', photos[0]);
    report.one = { list: await page.isVisible('#queue-wrap'), said: await page.textContent('#photo-name'),
                   preview: await page.$eval('#preview', e => !e.hidden) };
    sent.length = 0;
    await page.click('#run');
    await page.waitForFunction(() => !document.querySelector('#run').disabled && document.querySelector('#status').textContent.startsWith('Done'));
    Object.assign(report.one, { sent: [...sent], status: await page.textContent('#status'), json: await page.getAttribute('#json', 'download'),
                                focused: await page.evaluate(() => document.activeElement.id) });
  }
  if (check === 'stop') {
    await page.setInputFiles('#image', [photos[0], photos[2], photos[3]]);
    await page.click('#run');
    await page.waitForFunction(() => document.querySelector('#queue li').dataset.state === 'sending');
    await page.click('#stop');
    report.stopping = { text: await page.textContent('#stop'), disabled: await page.isDisabled('#stop') };
    release();
    await page.waitForFunction(() => !document.querySelector('#run').disabled);
    report.after = { list: await listed(page), sent, said: await page.textContent('#queue-status'), stop: await page.isVisible('#stop') };
  }
  if (check === 'drop') {
    const bytes = [...photos[0].buffer];
    await page.setViewportSize({ width: 390, height: 844 });  // a phone: a long name wraps in the list
    report.dropped = await page.evaluate(async (bytes) => {
      const dt = new DataTransfer();
      for (const n of ['north.png', 'notes.txt', 'IMG-20240512-WA0012_' + 'north_wall_after_the_second_coat_'.repeat(4) + '.png'])
        dt.items.add(new File([new Uint8Array(bytes)], n, { type: n.endsWith('.txt') ? 'text/plain' : 'image/png' }));
      document.querySelector('#results-title').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
      return { said: document.querySelector('#photo-name').textContent,
               names: [...document.querySelectorAll('#queue .q-name')].map(e => e.textContent),
               scrollWidth: document.documentElement.scrollWidth };
    }, bytes);
  }
  if (check === 'screenshot') {  // docs/page_many.jpg: four sample photos, one over the server's limit, one failed
    const samples = (await (await page.request.get(new URL('/v1/examples', url).href)).json()).examples.slice(0, 4);
    const files = [];
    for (const ex of samples)
      files.push({ name: ex.name, mimeType: 'image/jpeg', buffer: await (await page.request.get(new URL(ex.url, url).href)).body() });
    const over = await page.evaluate(() => Math.ceil(state.maxUploadMb + 1));
    await page.setViewportSize({ width: 1024, height: 1080 });  // the list of six whole (it scrolls past half the height)
    files.splice(2, 0, { name: 'IMG_0412.jpg', mimeType: 'image/jpeg', buffer: Buffer.alloc(over * 1048576) });
    files.splice(4, 0, { ...files[3], name: 'IMG_0415.jpg' });  // its connection lost on the way (the route above)
    await page.setInputFiles('#image', files);
    await page.click('#run');
    await page.waitForFunction(() => !document.querySelector('#run').disabled);
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: `${dir}/page_many.png` });  // the list, and the top of the photo shown
  }
  report.consoleErrors = consoleErrors;
} catch (err) {  // what the page showed when it failed, beside the error
  await tellFailure(page, consoleErrors, listed);
  throw err;
} finally {
  await browser.close();
}
console.log(JSON.stringify(report));
