// Usage: node emptied_and_too_large.mjs URL PHOTO CHECK
// tests/test_review_api_validator_page_tiles.py: what the measures table says of an answer changed on its way (page.route). Prints one JSON line.
import { readFile } from 'node:fs/promises';
import { launchChromium, openPage } from './chromium.mjs';

const [url, photo, check] = process.argv.slice(2);
const browser = await launchChromium();
const report = {};
try {
  const { page, consoleErrors } = await openPage(browser, url, { viewport: { width: 1024, height: 800 } });
  if (check === 'emptied') {  // the first mask emptied by min_confidence (it held pixels), the second found empty
    await page.route('**/v1/segment', async route => {
      const answer = await route.fetch(), json = await answer.json();
      Object.assign(json.results[0], { confidence: 0.42, emptied_below: 0.5 });
      Object.assign(json.results[0].measures, { components: 0, area_px: 0, area_fraction: 0 });
      Object.assign(json.results[1], { confidence: 0.9 });
      Object.assign(json.results[1].measures, { components: 0, area_px: 0, area_fraction: 0 });
      await route.fulfill({ response: answer, json });
    });
    await page.setInputFiles('#image', { name: 'wall.png', mimeType: 'image/png', buffer: await readFile(photo) });
    await page.click('#run');
    await page.waitForFunction(() => !document.querySelector('#run').disabled && !document.querySelector('#result').hidden);
    report.confidence = await page.$$eval('#measures tbody tr', trs => Object.fromEntries(trs.map(tr =>
      [tr.dataset.prompt, tr.querySelector('td.confidence').textContent])));
  }
  if (check === 'too large') {  // a photo over the server's --max-upload-mb: what the error says of the two sizes
    const sent = []; page.on('request', r => { if (r.url().includes('/v1/segment')) sent.push(r.url()); });
    await page.setInputFiles('#image', photo);
    await page.click('#run');
    await page.waitForFunction(() => !document.querySelector('#run').disabled && !document.querySelector('#error').hidden);
    report.tooLarge = { error: await page.textContent('#error'), sent };
  }
  report.consoleErrors = consoleErrors;
} finally {
  await browser.close();
}
console.log(JSON.stringify(report));
