// Usage: node tiled_note.mjs URL DIR
// tests/test_long_paths_and_tiled_notes.py: a server that tiles photos over 32 px; DIR holds whole.png (small: seen whole) and
// tiled.png. Each chosen alone and segmented: the warnings and the confidence cells; then both segmented as a list:
// each line. Prints one JSON line.
import { launchChromium, openPage } from './chromium.mjs';
import { listed, photoIn, tellFailure } from './page_helpers.mjs';

const [url, dir] = process.argv.slice(2);
const browser = await launchChromium();
const report = {};
let page = null, consoleErrors = [];
try {
  ({ page, consoleErrors } = await openPage(browser, url, { viewport: { width: 1024, height: 800 } }));
  const photo = photoIn(dir);
  const segment = async () => { await page.click('#run'); await page.waitForFunction(() => !document.querySelector('#run').disabled); };
  for (const name of ['whole.png', 'tiled.png']) {
    await page.setInputFiles('#image', await photo(name));
    await segment();
    report[name] = await page.evaluate(() => ({
      warnings: [...document.querySelectorAll('#warnings .msg')].map(d => d.textContent),
      confidence: [...document.querySelectorAll('#measures td.confidence')].map(td => td.textContent) }));
  }
  await page.setInputFiles('#image', [await photo('whole.png'), await photo('tiled.png')]);
  await segment();
  report.list = await listed(page);
  report.lines = await page.$$eval('#queue li .q-state', spans => spans.map(s => s.textContent));
  report.consoleErrors = consoleErrors;
} catch (err) {
  await tellFailure(page, consoleErrors, listed);
  throw err;
} finally { await browser.close(); }
console.log(JSON.stringify(report));
