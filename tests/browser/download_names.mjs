// Usage: node download_names.mjs URL DIR PROMPTS_JSON NAMES_JSON
// tests/test_page_download_names.py: the names the page gives the files it downloads. DIR holds a.png. The prompts set;
// then a.png's bytes chosen under each of NAMES in turn, one photo at a time, Segment pressed: each mask's PNG link's
// download name, the overlay's and the JSON's; then all of NAMES chosen at once, Segment, "Download all (ZIP)" saved as
// DIR/all.zip. Prints one JSON line.
import { readFile, copyFile } from 'node:fs/promises';
import { launchChromium, openPage } from './chromium.mjs';
import { listed, tellFailure } from './page_helpers.mjs';

const [url, dir, promptsJson, namesJson] = process.argv.slice(2);
const prompts = JSON.parse(promptsJson), names = JSON.parse(namesJson);
const browser = await launchChromium();
const report = { one: {} };
let page = null, consoleErrors = [];
try {
  ({ page, consoleErrors } = await openPage(browser, url, { viewport: { width: 1024, height: 800 }, acceptDownloads: true }));
  await page.waitForFunction(() => state.maxUploadMb);  // the server's answer read (its suggested prompts too)
  await page.evaluate(p => { state.prompts = p; state.promptsTouched = true; renderPrompts(); }, prompts);
  const bytes = await readFile(`${dir}/a.png`);
  const photo = name => ({ name, mimeType: 'image/png', buffer: bytes });
  const segment = async () => {
    await page.click('#run');
    await page.waitForFunction(() => !document.querySelector('#run').disabled && !document.querySelector('#result').hidden);
  };
  for (const name of names) {
    await page.setInputFiles('#image', photo(name));
    await segment();
    report.one[name] = {
      masks: await page.$$eval('#measures tbody tr', trs => trs.map(tr => [tr.dataset.prompt, tr.querySelector('a.mask-link').download])),
      overlay: await page.getAttribute('#download-overlay', 'download'), json: await page.getAttribute('#json', 'download'),
      error: await page.textContent('#error'),
    };
  }
  await page.setInputFiles('#image', names.map(photo));
  await segment();
  report.list = await listed(page);
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#zip-all')]);
  await copyFile(await download.path(), `${dir}/all.zip`);
  report.consoleErrors = consoleErrors;
} catch (err) {
  await tellFailure(page, consoleErrors);
  throw err;
} finally {
  await browser.close();
}
console.log(JSON.stringify(report));
