// Usage: node odd_uses.mjs URL PHOTO
// The web page used as a site engineer may (tests/test_browser.py, test_odd_uses): the same file chosen again after
// a sample photo, a photo dropped beside the drop zone, the measures of a hairline crack at a fine scale, an
// answer cut off on its way. Prints one JSON line.
import { launchChromium, openPage } from './chromium.mjs';

const [url, photo] = process.argv.slice(2);
const browser = await launchChromium();
const report = {};
try {
  const { page, consoleErrors } = await openPage(browser, url);
  await page.waitForSelector('#gallery button');
  // a file chosen, then a sample photo, then the same file again: a browser fires no change for a file input whose
  // file is chosen again unless the input was emptied (Playwright fires it whatever): the input must be empty
  await page.setInputFiles('#image', photo);
  const chosen = { name: await page.evaluate(() => state.fileName), value: await page.inputValue('#image') };
  report.sameFile = chosen;
  // a server with --max-prompts above the palette's 8: each prompt its own colour, each a #rrggbb the masks take
  report.colors = await page.evaluate(() => [...Array(20).keys()].map(colorOf));
  // an empty file (0 bytes: a cloud file not downloaded yet) is said to be empty; the photo chosen before is kept
  await page.setInputFiles('#image', { name: 'empty.jpg', mimeType: 'image/jpeg', buffer: Buffer.alloc(0) });
  report.emptyFile = { error: await page.textContent('#error'), name: await page.evaluate(() => state.fileName) };
  // a photo dropped beside the drop zone (on the results): taken, not left to the browser, which opens it in the tab
  // (the page gone); a drag of text onto the prompt box is left to the browser
  report.droppedBeside = await page.evaluate(async () => {
    const bytes = await (await fetch(document.querySelector('#gallery img').src)).blob(), files = new DataTransfer();
    files.items.add(new File([bytes], 'beside.jpg', { type: 'image/jpeg' }));
    const fire = (where, type, dataTransfer) => {
      const ev = new DragEvent(type, { dataTransfer, bubbles: true, cancelable: true });
      document.querySelector(where).dispatchEvent(ev); return ev.defaultPrevented;
    };
    const words = new DataTransfer(); words.setData('text/plain', 'segment crack');
    return { over: fire('#empty', 'dragover', files), drop: fire('#empty', 'drop', files), name: state.fileName,
             text: fire('#prompt-input', 'dragover', words) };
  });
  // a fine scale (a close-up: 50 px a mm) and a hairline crack (the answer's measures replaced): its widths and area
  // in mm to 2 significant digits, not rounded to 0 (as an empty mask reads), larger values as they were
  await page.click('#options summary');
  await page.fill('#mm', '0.02');
  await page.route('**/v1/segment', async route => {
    const answer = await route.fetch(), json = await answer.json();
    json.results[0].measures = { components: 1, area_px: 80, area_fraction: 0.008, length_px: 61728, mean_width_px: 1.6,
      max_width_px: 2, mm_per_px: 0.02, area_mm2: 0.032, length_mm: 1234.56, mean_width_mm: 0.032, max_width_mm: 0.04 };
    json.results[0].confidence = 0.2996;  // shown as 0.30: not marked as below 0.30
    await route.fulfill({ response: answer, json });
  });
  await page.click('#run');
  await page.waitForFunction(() => !document.querySelector('#run').disabled && !document.querySelector('#result').hidden);
  await page.unroute('**/v1/segment');
  report.hairline = await page.$eval('#measures tbody tr[data-prompt="segment crack"]',
                                     tr => [...tr.querySelectorAll('td')].slice(3, 7).map(td => td.textContent));
  report.roundedConfidence = await page.$eval('#measures tbody tr[data-prompt="segment crack"] td.confidence',
                                              td => [td.textContent, td.classList.contains('low')]);
  await page.fill('#mm', '');
  // the answer cut off on its way (the connection dropped mid-body: a phone's link, the server stopped): said so, not
  // blamed on a proxy or a login page
  await page.evaluate(() => {
    window.realSend = window.send;
    window.send = async (...args) => {
      if (!String(args[0]).includes('/v1/segment')) return window.realSend(...args);
      const body = new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode('{"image": {"wid')); c.error(new TypeError('network error')); } });
      return new Response(body, { status: 200, headers: { 'Content-Type': 'application/json' } });
    };
  });
  await page.click('#run');
  await page.waitForFunction(() => !document.querySelector('#run').disabled && !document.querySelector('#error').hidden);
  report.cut = { error: await page.textContent('#error'), button: await page.textContent('#run') };
  await page.evaluate(() => { window.send = window.realSend; });
  // a request of 2.5 s once the photo is uploaded: the button counts the seconds; the status line, which a screen
  // reader reads out at each change (aria-live), says "Uploading the photo…", then "Segmenting…" once, not each second
  await page.evaluate(() => {
    window.said = [];
    new MutationObserver(() => window.said.push(document.querySelector('#status').textContent))
      .observe(document.querySelector('#status'), { childList: true, characterData: true, subtree: true });
  });
  // held as the answer comes (the photo sent: a route holds it before it leaves the page, still "Uploading…")
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Fetch.enable', { patterns: [{ urlPattern: '*/v1/segment', requestStage: 'Response' }] });
  cdp.on('Fetch.requestPaused', async e => { await new Promise(r => setTimeout(r, 2500)); await cdp.send('Fetch.continueResponse', { requestId: e.requestId }); });
  await page.click('#run');
  await page.waitForFunction(() => / 2 s/.test(document.querySelector('#run').textContent));
  const button = await page.textContent('#run');
  await page.waitForFunction(() => !document.querySelector('#run').disabled && !document.querySelector('#result').hidden);
  await cdp.send('Fetch.disable'); await cdp.detach();
  report.heard = { button, said: await page.evaluate(() => window.said) };
  // Segment pressed from the keyboard, the answer an error (a tile too small): the focus back on the button, not on
  // the page (the disabled button lost it: the next Tab started at the page's top)
  await page.fill('#tile', '8');
  await page.focus('#run');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => !document.querySelector('#error').hidden && !document.querySelector('#run').disabled);
  report.focusAfterError = await page.evaluate(() => document.activeElement.id || document.activeElement.tagName);
  await page.fill('#tile', '');
  report.consoleErrors = consoleErrors;
  await page.context().close();
  console.log(JSON.stringify(report));
} finally {
  await browser.close();
}
