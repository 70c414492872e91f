// Usage: node h266_review.mjs URL
// tests/test_h266_review.py: one photo dropped with a file that is no photo (notes.txt): the photo taken, and the
// text file named as left out, as it is beside several photos. Prints one JSON line.
import { launchChromium } from './chromium.mjs';

const [url] = process.argv.slice(2);
const browser = await launchChromium();
const report = { consoleErrors: [] };
try {
  const page = await (await browser.newContext({ viewport: { width: 390, height: 844 } })).newPage();
  page.on('pageerror', e => report.consoleErrors.push(String(e)));
  await page.goto(url); await page.waitForSelector('#chips .chip');
  report.dropped = await page.evaluate(async () => {
    const dt = new DataTransfer();
    dt.items.add(new File([new Uint8Array([137, 80, 78, 71])], 'north.png', { type: 'image/png' }));
    dt.items.add(new File(['ceiling done, two coats'], 'notes.txt', { type: 'text/plain' }));
    document.querySelector('#results-title').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    return { said: document.querySelector('#photo-name').textContent, list: !document.querySelector('#queue-wrap').hidden,
             chosen: state.fileName };
  });
} finally { await browser.close(); }
console.log(JSON.stringify(report));
