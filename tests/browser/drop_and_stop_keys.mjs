// Usage: node drop_and_stop_keys.mjs URL CHECK [DIR]
// tests/test_review_segmenter_call_and_page.py. CHECK "drop-one": one photo dropped with a file that is no photo (notes.txt): the photo
// taken, and the text file named as left out, as it is beside several photos. CHECK "stop-keys": the photos of DIR
// chosen, Segment and then Stop pressed with the keyboard while the first is on its way: where the focus is once the
// list has stopped (Stop hidden), and where Tab goes from there. Prints one JSON line.
import { readFile, readdir } from 'node:fs/promises';
import { launchChromium, openPage } from './chromium.mjs';

const [url, check, dir] = process.argv.slice(2);
const browser = await launchChromium();
const report = { consoleErrors: [] };
const focused = (page) => page.evaluate(() => document.activeElement.id || document.activeElement.tagName);
try {
  const { page, consoleErrors } = await openPage(browser, url, { viewport: { width: 390, height: 844 } });
  report.consoleErrors = consoleErrors;  // (the page's errors, collected as they come)
  if (check === 'drop-one') {
    report.dropped = await page.evaluate(async () => {
      const dt = new DataTransfer();
      dt.items.add(new File([new Uint8Array([137, 80, 78, 71])], 'north.png', { type: 'image/png' }));
      dt.items.add(new File(['ceiling done, two coats'], 'notes.txt', { type: 'text/plain' }));
      document.querySelector('#results-title').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
      return { said: document.querySelector('#photo-name').textContent, list: !document.querySelector('#queue-wrap').hidden,
               chosen: state.fileName };
    });
  }
  if (check === 'stop-keys') {
    const files = await Promise.all((await readdir(dir)).sort().map(async name =>
      ({ name, mimeType: 'image/png', buffer: await readFile(`${dir}/${name}`) })));
    let release; const held = new Promise(done => { release = done; });
    await page.route('**/v1/segment', async route => {
      await held;
      try { await route.fulfill({ response: await route.fetch() }); } catch (err) { /* aborted by the page (Stop) meanwhile */ }
    });
    await page.setInputFiles('#image', files);
    await page.focus('#run'); await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.querySelector('#queue li').dataset.state === 'sending');
    await page.focus('#stop'); await page.keyboard.press('Enter');
    report.pressed = await focused(page);
    release();
    await page.waitForFunction(() => !document.querySelector('#run').disabled);
    report.stopped = { focused: await focused(page), said: await page.textContent('#queue-status') };
    await page.keyboard.press('Tab');
    report.stopped.tab = await page.evaluate(() => document.activeElement.closest('li') ?
      document.activeElement.closest('li').querySelector('.q-name').textContent : document.activeElement.id || document.activeElement.tagName);
  }
} finally { await browser.close(); }
console.log(JSON.stringify(report));
