// Usage: node page.mjs URL OUT_DIR UNKNOWN_PROMPT TIFF_PHOTO TURNED_WEBP SCALED_PHOTO
// Drives the drywallqa web page at a phone size (390x844) and a desktop size (1280x900): picks the first sample
// photo, adds a prompt, segments, reads the measures table, toggles a mask (the overlay must change), draws a
// taped joint on it, downloads
// the JSON, reads the warnings, the progress shown while it waits, whether the results came into view (and the
// focus to them), whether the measures fit the width; then submits a bad tile size and reads the error, then a TIFF
// photo (which a browser cannot draw) and reads the message, then a request that never reaches the server and one
// a proxy answers with an HTML 502. Every request to another host
// is recorded (and blocked). Then, with the page's canvas limit lowered (iOS Safari's is 4096 x 4096 pixels), a photo
// over it: drawn scaled down, its mask where it lies on the photo. Prints one JSON line; screenshots go to OUT_DIR/page_{phone,desktop}.png.
import { launchChromium } from './chromium.mjs';
import { readFile } from 'node:fs/promises';

const [url, outDir, unknown = 'segment the window', tiffPath, webpPath, scaledPath, flippedPath] = process.argv.slice(2);
const origin = new URL(url).origin;
const browser = await launchChromium();
const report = { foreign: [], sizes: {} };
const overlayHash = (page) => page.$eval('#overlay', c => {
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let h = 0;
  for (let i = 0; i < d.length; i += 97) h = (h * 31 + d[i]) % 1000000007; return h;
});
// a page of the server in ``context``: anything fetched from elsewhere is refused and listed (report.foreign), the
// page's uncaught errors collected; ready once its prompt chips are
async function openPage(context) {
  const page = await context.newPage();
  page.setDefaultTimeout(90000);  // a model answer on 2 busy cores can take longer than the 30 s default
  await page.route('**/*', route => {
    const u = route.request().url();
    if (u.startsWith(origin) || u.startsWith('data:') || u.startsWith('blob:')) return route.continue();
    report.foreign.push(u); return route.abort();
  });
  const consoleErrors = [];
  page.on('pageerror', e => consoleErrors.push(String(e)));
  await page.goto(url);
  await page.waitForSelector('#chips .chip');
  return { page, consoleErrors };
}
try {
  for (const [name, viewport] of [['phone', { width: 390, height: 844 }], ['desktop', { width: 1280, height: 900 }]]) {
    const context = await browser.newContext({ viewport, acceptDownloads: true, isMobile: name === 'phone' });
    const { page, consoleErrors } = await openPage(context);
    await page.waitForSelector('#gallery button');
    await page.click('#gallery button >> nth=0');
    await page.waitForSelector('#preview:not([hidden])');
    await page.fill('#prompt-input', unknown);
    await page.keyboard.press('Enter');
    const chips = await page.$$eval('#chips .chip', cs => cs.map(c => c.dataset.prompt));
    // the first request held back a moment (before it leaves the page: the photo still to upload): what shows while it runs
    let release; const held = new Promise(r => { release = r; });
    await page.route('**/v1/segment', async route => { await held; await route.continue(); });
    await page.click('#run');
    await page.waitForTimeout(1300);
    const progress = await page.evaluate(() => ({
      button: document.querySelector('#run').textContent, spinner: !!document.querySelector('#run .spinner'),
      busy: document.querySelector('#results-title').closest('section').getAttribute('aria-busy') }));
    release();
    await page.waitForSelector('#result:not([hidden])', { timeout: 60000 });
    await page.unroute('**/v1/segment');
    const afterRun = await page.evaluate(() => ({
      button: document.querySelector('#run').textContent, busy: document.querySelector('#results-title').closest('section').getAttribute('aria-busy'),
      titleTop: document.querySelector('#results-title').getBoundingClientRect().top, innerHeight,
      focused: document.activeElement.id,
      tableFits: (w => w.scrollWidth <= w.clientWidth + 1 || [w.scrollWidth, w.clientWidth])(document.querySelector(".table-wrap")),
      labels: [...document.querySelectorAll('#measures tbody td')].every(td => td.dataset.label),
      help: document.querySelector('#measures-help').textContent.replace(/\s+/g, ' '),
      overlayLabel: document.querySelector('#overlay').getAttribute('aria-label'),
      warningSwatches: [...document.querySelectorAll('#warnings .msg')].map(w => !!w.querySelector('.swatch')) }));
    const rows = await page.$$eval('#measures tbody tr', trs => trs.map(tr => [...tr.querySelectorAll('td')].map(td => td.textContent)));
    const before = await overlayHash(page);
    await page.click('#toggles input >> nth=0');
    const after = await overlayHash(page);
    await page.click('#toggles input >> nth=0');
    const restored = await overlayHash(page);
    // a taped joint in the result is drawn on the overlay (white along its line), and hidden with its mask
    const jointPixels = await page.evaluate(async () => {
      const c = document.querySelector('#overlay'), w = c.width, h = c.height, i = 1, saved = state.result.results[i].joints;
      state.result.results[i].joints = [{ start_xy: [0.1 * w, 0.5 * h], end_xy: [0.9 * w, 0.5 * h], length_px: 0.8 * w,
                                          mean_width_px: 3, coverage: 1, angle_deg: 0 }];
      const at = () => [...c.getContext('2d').getImageData(Math.round(0.6 * w), Math.round(0.5 * h), 1, 1).data.slice(0, 3)];
      draw(); const shown = at();
      state.shown[i] = false; draw(); const hidden = at();
      state.shown[i] = true; state.result.results[i].joints = saved; draw();
      return { shown, hidden };
    });
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#json')]);
    const json = JSON.parse(await readFile(await download.path(), 'utf8'));
    const jsonName = download.suggestedFilename();
    // the overlay PNG is encoded when it is downloaded, not on every redraw (a 12 MP photo: ~0.5 s a slider step)
    const overlayHref = await page.getAttribute('#download-overlay', 'href');
    const [overlayDownload] = await Promise.all([page.waitForEvent('download'), page.click('#download-overlay')]);
    const overlay = { href: overlayHref, name: overlayDownload.suggestedFilename(),
                      png: (await readFile(await overlayDownload.path())).subarray(1, 4).toString() };
    const maskNames = await page.$$eval('#measures tbody tr', trs => Object.fromEntries(trs.map(tr => [tr.dataset.prompt, tr.querySelector('.mask-link').download])));
    const warnings = await page.$$eval('#warnings .msg', ws => ws.map(w => w.textContent));
    const status = await page.textContent('#status');
    const curl = await page.textContent('#curl');
    await page.screenshot({ path: `${outDir}/page_${name}.png`, fullPage: true });
    // a 4xx gets a clear message
    await page.click('#options summary');
    await page.fill('#tile', '8');
    await page.click('#run');
    await page.waitForSelector('#error:not([hidden])');
    const error = await page.textContent('#error');
    // a TIFF photo: the server answers, the browser cannot draw it; the message must say so (not "server unreachable")
    // a number typed with a decimal comma is read as one; text that is no number is named, not dropped
    await page.fill('#tile', '64e');
    await page.click('#run');
    await page.waitForFunction(() => !document.querySelector('#error').hidden && !document.querySelector('#run').disabled);
    const badNumber = await page.textContent('#error');
    await page.fill('#tile', '');
    await page.fill('#mm', '0,5');
    await page.click('#run');
    await page.waitForFunction(() => !document.querySelector('#run').disabled && !document.querySelector('#result').hidden);
    const commaCurl = await page.textContent('#curl');
    const commaUnits = await page.textContent('#units-help');
    const commaAreas = await page.$$eval('#measures tbody td.area', tds => tds.map(td => td.textContent));
    await page.fill('#mm', '');
    await page.setInputFiles('#image', tiffPath);
    await page.click('#run');
    await page.waitForFunction(() => !document.querySelector('#result').hidden && !document.querySelector('#run').disabled);
    const tiffNote = await page.textContent('#warnings');  // a note beside the results, not an error: it was segmented
    const tiffErrorShown = await page.$eval('#error', e => !e.hidden);
    const tiffShown = {  // the results of a photo the browser cannot draw: on grey, with their measures
      rows: await page.$$eval('#measures tbody tr', trs => trs.length),
      resultHidden: await page.$eval('#result', e => e.hidden),
      photoName: await page.textContent('#photo-name'),
      drawnOn: await page.evaluate(() => state.image.src.slice(0, 23)),  // the server's reading of it (preview)
    };
    // a WebP whose EXIF orientation turns it (Chrome draws it as stored, the server upright): drawn as the server read
    // it, not with its masks sideways on it; and where the server's reading is not in the answer, on grey
    const turned = {};
    await page.setInputFiles('#image', webpPath);
    for (const strip of [false, true]) {
      if (strip) await page.evaluate(() => {  // the answer without the server's reading of the photo
        window.realSend = window.send;
        window.send = async (...args) => {
          const answer = await window.realSend(...args), json = await answer.json();
          delete json.image.jpeg_base64; return new Response(JSON.stringify(json), { status: answer.status });
        };
      });
      await page.$eval('#run', b => b.click());
      await page.waitForFunction(() => !document.querySelector('#result').hidden && !document.querySelector('#run').disabled);
      turned[strip ? 'grey' : 'server'] = await page.evaluate(() => ({
        drawn: [state.image.naturalWidth, state.image.naturalHeight], read: [state.result.image.width, state.result.image.height],
        note: document.querySelector('#warnings').textContent }));
      if (strip) await page.evaluate(() => { window.send = window.realSend; });
    }
    // a WebP turned upside down (EXIF orientation 3) keeps its size: drawn as the server read it all the same
    await page.setInputFiles('#image', flippedPath);
    await page.$eval('#run', b => b.click());
    await page.waitForFunction(() => !document.querySelector('#result').hidden && !document.querySelector('#run').disabled);
    const flipped = await page.evaluate(() => ({ drawnOn: state.image.src.slice(0, 23),
                                                 note: document.querySelector('#warnings').textContent }));
    // the server gone (the connection reset), and a proxy's HTML error page: a message that says what to do
    await page.click('#gallery button >> nth=0');
    await page.waitForFunction(() => !document.querySelector('#error').textContent || document.querySelector('#error').hidden);
    await page.route('**/v1/segment', route => route.abort('connectionreset'));
    await page.click('#run');
    await page.waitForFunction(() => !document.querySelector('#error').hidden && !document.querySelector('#run').disabled);
    const gone = { error: await page.textContent('#error'), button: await page.textContent('#run') };
    await page.unroute('**/v1/segment');
    await page.route('**/v1/segment', route => route.fulfill({ status: 502, contentType: 'text/html', body: '<html>Bad Gateway</html>' }));
    await page.click('#run');
    await page.waitForFunction(() => !document.querySelector('#error').hidden && !document.querySelector('#run').disabled);
    const badGateway = await page.textContent('#error');
    await page.unroute('**/v1/segment');
    // a 200 that is no drywallqa answer (a network's login page): not "the photo was segmented"
    await page.route('**/v1/segment', route => route.fulfill({ status: 200, contentType: 'text/html', body: '<html>Sign in to Wi-Fi</html>' }));
    await page.click('#run');
    await page.waitForFunction(() => !document.querySelector('#error').hidden && !document.querySelector('#run').disabled);
    const portal = await page.textContent('#error');
    await page.unroute('**/v1/segment');
    // a 413: the server's says what to do (said once), a proxy's does not (the page says it)
    const tooLarge = {};
    for (const [who, answer] of [['server', { status: 413, contentType: 'application/json',
                                              body: JSON.stringify({ detail: 'upload larger than 20 MB: send a smaller photo (resize it)' }) }],
                                 ['proxy', { status: 413, contentType: 'text/html', body: '<html>Request Entity Too Large</html>' }]]) {
      await page.route('**/v1/segment', route => route.fulfill(answer));
      await page.click('#run');
      await page.waitForFunction(() => !document.querySelector('#error').hidden && !document.querySelector('#run').disabled);
      tooLarge[who] = await page.textContent('#error');
      await page.unroute('**/v1/segment');
    }
    // a 429 (every slot busy) is tried again after its Retry-After: two refusals, then the server's answer
    let refusals = 0;
    await page.route('**/v1/segment', route => (refusals += 1) <= 2
      ? route.fulfill({ status: 429, contentType: 'application/json', headers: { 'Retry-After': '1' },
                        body: JSON.stringify({ detail: 'the server is busy; retry shortly' }) })
      : route.continue());
    await page.click('#run');
    await page.waitForFunction(() => /trying again, 1 of/.test(document.querySelector('#status').textContent));
    const busyStatus = await page.textContent('#status');
    await page.waitForFunction(() => !document.querySelector('#run').disabled, null, { timeout: 60000 });
    const busy = { status: busyStatus, tries: refusals, result: await page.$eval('#result', e => !e.hidden),
                   error: await page.$eval('#error', e => e.hidden ? '' : e.textContent) };
    await page.unroute('**/v1/segment');
    await page.route('**/v1/segment', route => route.fulfill({ status: 429, contentType: 'application/json',
      headers: { 'Retry-After': '1' }, body: JSON.stringify({ detail: 'the server is busy; retry shortly' }) }));
    await page.click('#run');
    await page.waitForFunction(() => !document.querySelector('#error').hidden && !document.querySelector('#run').disabled,
                               null, { timeout: 60000 });
    busy.stayed = await page.textContent('#error');
    await page.unroute('**/v1/segment');
    // a 503 a proxy wrote (the server behind it down) is no "took too long"; the server's own 503s say which they are
    const unavailable = {};
    for (const [who, answer] of [['proxy', { status: 503, contentType: 'text/html', body: '<html>Service Unavailable</html>' }],
                                 ['gateway', { status: 504, contentType: 'text/html', body: '<html>504 Gateway Time-out</html>' }],
                                 ['connections', { status: 503, contentType: 'application/json',
                                   body: JSON.stringify({ detail: 'the server holds as many connections as it serves (serve --max-connections); try again in a moment' }) }]]) {
      await page.route('**/v1/segment', route => route.fulfill(answer));
      await page.click('#run');
      await page.waitForFunction(() => !document.querySelector('#error').hidden && !document.querySelector('#run').disabled);
      unavailable[who] = await page.textContent('#error');
      await page.unroute('**/v1/segment');
    }
    // pressed twice at once (a double tap), then another photo chosen while the request runs: one request, and its
    // results drawn on the photo sent and named after it, not after the one chosen since
    let releaseRace, raced = 0; const heldRace = new Promise(r => { releaseRace = r; });
    await page.route('**/v1/segment', async route => { raced += 1; await heldRace; await route.continue(); });
    await page.evaluate(() => { const b = document.querySelector('#run'); b.click(); b.click(); });
    await page.waitForFunction(() => document.querySelector('#run').disabled);
    await page.click('#gallery button >> nth=1');
    await page.waitForFunction(() => state.fileName !== 'cracks_2363_jpg.jpg');
    releaseRace();
    await page.waitForFunction(() => !document.querySelector('#run').disabled && !document.querySelector('#result').hidden);
    await page.unroute('**/v1/segment');
    const race = await page.evaluate(async () => {
      const hash = (c) => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let h = 0;
                            for (let i = 0; i < d.length; i += 97) h = (h * 31 + d[i]) % 1000000007; return h; };
      state.shown = state.shown.map(() => false); draw();  // the photo alone
      const drawn = hash(document.querySelector('#overlay'));
      const sample = new Image(); sample.src = document.querySelector('#gallery img').src; await sample.decode();
      const c = document.createElement('canvas'); c.width = sample.naturalWidth; c.height = sample.naturalHeight;
      c.getContext('2d').drawImage(sample, 0, 0);
      state.shown = state.shown.map(() => true); draw();
      return { onSent: drawn === hash(c), json: document.querySelector('#json').download,
               label: document.querySelector('#overlay').getAttribute('aria-label'), status: document.querySelector('#status').textContent };
    });
    race.requests = raced;
    // a prompt removed, a suggestion added with the keyboard: the focus stays in that list, not lost to the page
    await page.focus('#chips .chip button >> nth=0'); await page.keyboard.press('Enter');
    const focusAfterRemove = await page.evaluate(() => document.activeElement.getAttribute('aria-label') || document.activeElement.id);
    await page.focus('#suggestions button >> nth=0'); await page.keyboard.press('Enter');
    const focusAfterAdd = await page.evaluate(() => document.activeElement.getAttribute('aria-label') || document.activeElement.id);
    await page.evaluate(() => { state.prompts = ['segment crack', 'segment taping area']; renderPrompts(); });
    // prompt length is counted in characters as the server counts them: 200 emoji (400 UTF-16 units) are 200
    const longPrompts = {};
    for (const [key, text] of [['emoji', '\u{1F9F1}'.repeat(200)], ['over', 'x'.repeat(301)]]) {
      await page.fill('#prompt-input', text);
      await page.keyboard.press('Enter');
      longPrompts[key] = { chip: await page.$$eval('#chips .chip', (cs, t) => cs.some(c => c.dataset.prompt === t), text),
                           error: await page.evaluate(() => document.querySelector('#error').hidden ? '' : document.querySelector('#error').textContent),
                           left: await page.inputValue('#prompt-input') };  // a prompt refused stays to be shortened
    }
    let asked = 0;  // Segment pressed with the refused prompt still typed: no request without it, the text kept
    await page.route('**/v1/segment', route => { asked += 1; return route.continue(); });
    await page.click('#run');
    await page.waitForTimeout(300);
    longPrompts.submitted = { asked, left: await page.inputValue('#prompt-input'), error: await page.textContent('#error') };
    await page.unroute('**/v1/segment');
    // several photos dropped at once: listed, each to be sent in turn (tests/test_page_many_photos.py); the file that
    // is no photo named as left out
    const dropped = await page.evaluate(async () => {
      const bytes = await (await fetch(document.querySelector('#gallery img').src)).blob(), dt = new DataTransfer();
      for (const n of ['north.jpg', 'notes.txt', 'south.jpg', 'east.jpg'])
        dt.items.add(new File([bytes], n, { type: n.endsWith('.txt') ? 'text/plain' : 'image/jpeg' }));
      document.querySelector('#drop').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
      return { listed: [...document.querySelectorAll('#queue .q-name')].map(e => e.textContent),
               said: document.querySelector('#photo-name').textContent };
    });
    // a file name and a prompt of one long word (a messenger's file name; the 200 emoji above): wrapped where they
    // show (the photo's name, the status line, the mask toggles), not a page to scroll sideways
    await page.fill('#prompt-input', '');
    const longName = 'IMG-20240512-WA0012_' + 'north_wall_after_the_second_coat_'.repeat(4) + '.tif';
    await page.setInputFiles('#image', { name: longName, mimeType: 'image/tiff', buffer: await readFile(tiffPath) });
    await page.$eval('#run', b => b.click());
    await page.waitForFunction(() => !document.querySelector('#run').disabled && !document.querySelector('#result').hidden);
    const longStatus = await page.textContent('#status');
    const scrollWidth = await page.evaluate(() => document.documentElement.scrollWidth);
    const modelLine = await page.textContent('#model-line');
    report.sizes[name] = { chips, modelLine, rows, jointPixels, toggled: before !== after && before === restored, json_prompts: json.results.map(r => r.prompt),
                           warnings, status, curl, error, badNumber, commaCurl, tiffNote, tiffErrorShown, tiffShown, scrollWidth, viewportWidth: viewport.width, consoleErrors,
                           progress, afterRun, jsonName, commaUnits, gone, badGateway, portal, tooLarge, longPrompts,
                           overlay, maskNames, unavailable, busy, race, focusAfterRemove, focusAfterAdd, longStatus, dropped, commaAreas, turned,
                           flipped };
    await context.close();
  }
  // a photo of more pixels than a canvas may hold (iOS Safari: 4096 x 4096; here the limit lowered to 1200 and the
  // photo 80 x 60): drawn at 40 x 30, said so, its mask (the answer's first, made the photo's top-left quarter) and a
  // taped joint scaled with it, the downloaded mask full size
  {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    await context.addInitScript(() => { window.DRYWALLQA_MAX_CANVAS_PIXELS = 1200; });
    const { page, consoleErrors } = await openPage(context);
    await page.setInputFiles('#image', scaledPath);
    await page.evaluate(() => {
      const realSend = window.send;
      window.send = async (...args) => {
        const answer = await realSend(...args);
        if (!String(args[0]).includes('/v1/segment') || !answer.ok) return answer;
        const json = await answer.json(), w = json.image.width, h = json.image.height;
        const c = document.createElement('canvas'); c.width = w; c.height = h;
        const g = c.getContext('2d'); g.fillStyle = '#000'; g.fillRect(0, 0, w, h); g.fillStyle = '#fff'; g.fillRect(0, 0, w / 4, h / 2);
        json.results = json.results.slice(0, 1); json.results[0].mask.base64 = c.toDataURL('image/png').split(',')[1];
        json.results[0].joints = [{ start_xy: [w / 2, 0.8 * h], end_xy: [w, 0.8 * h], length_px: w / 2, mean_width_px: 3, coverage: 1, angle_deg: 0 }];
        return new Response(JSON.stringify(json), { status: answer.status, headers: { 'Content-Type': 'application/json' } });
      };
    });
    await page.click('#run');
    await page.waitForFunction(() => !document.querySelector('#result').hidden && !document.querySelector('#run').disabled);
    report.scaled = await page.evaluate(async () => {
      const c = document.querySelector('#overlay'), g = c.getContext('2d');
      const at = (x, y) => [...g.getImageData(x, y, 1, 1).data.slice(0, 3)];
      const mask = new Image(); mask.src = document.querySelector('.mask-link').href; await mask.decode();
      return { canvas: [c.width, c.height], read: [state.result.image.width, state.result.image.height],
               masked: [at(1, 1), at(9, 14)], unmasked: [at(10, 1), at(1, 15), at(35, 5)], joint: at(32, 24),
               note: [...document.querySelectorAll('#result .note')].filter(n => !n.hidden).map(n => n.textContent).join(' '),
               overlayName: document.querySelector('#download-overlay').download,
               maskDownload: [mask.naturalWidth, mask.naturalHeight] };
    });
    report.scaled.consoleErrors = consoleErrors;
    await context.close();
  }
  // a prompt typed before /v1/models answers (a slow link): kept, not replaced by the model's suggested prompts,
  // which are offered beside it once they come
  {
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true });
    const page = await context.newPage();
    page.setDefaultTimeout(90000);  // a model answer on 2 busy cores can take longer than the 30 s default
    await page.route('**/*', route => {
      const u = route.request().url();
      if (u.startsWith(origin) || u.startsWith('data:') || u.startsWith('blob:')) return route.continue();
      report.foreign.push(u); return route.abort();
    });
    let releaseModels; const heldModels = new Promise(r => { releaseModels = r; });
    await page.route('**/v1/models', async route => { await heldModels; await route.continue(); });
    const consoleErrors = [];
    page.on('pageerror', e => consoleErrors.push(String(e)));
    await page.goto(url);
    await page.fill('#prompt-input', 'segment drywall seam');
    await page.keyboard.press('Enter');
    const typed = await page.$$eval('#chips .chip', cs => cs.map(c => c.dataset.prompt));
    releaseModels();
    await page.waitForFunction(() => document.querySelector('#model-line').textContent);
    await page.waitForSelector('#suggestions button');
    report.slowModels = { typed, consoleErrors, chips: await page.$$eval('#chips .chip', cs => cs.map(c => c.dataset.prompt)),
                          suggestions: await page.$$eval('#suggestions button', bs => bs.map(b => b.textContent)) };
    await context.close();
  }
  console.log(JSON.stringify(report));
} finally {
  await browser.close();
}
