// Usage: node zip_and_camera.mjs URL DIR CHECK
// tests/test_page_zip_and_camera.py: several photos on the web page. DIR holds a.png, c.png, d.png (small) and big.png (over
// the server's --max-upload-mb). CHECK "zip": a.png, big.png, c.png and d.png's bytes named a.jpeg (a stem taken) chosen
// at once, Segment pressed; "Download all (ZIP)" saved as DIR/all.zip, "Download all results (JSON)" as DIR/all.json,
// each server answer as DIR/answer_<name>.json. CHECK "camera": photos taken one at a time (the camera input set once
// a capture): a.png, segmented; c.png; d.png; Segment; the list and the requests after each. Prints one JSON line.
import { writeFile, copyFile } from 'node:fs/promises';
import { launchChromium, openPage } from './chromium.mjs';
import { listed, photoIn, tellFailure } from './page_helpers.mjs';

const [url, dir, check] = process.argv.slice(2);
const browser = await launchChromium();
const report = {};
let page = null, consoleErrors = [];
try {
  ({ page, consoleErrors } = await openPage(browser, url, { viewport: { width: 1024, height: 800 }, acceptDownloads: true }));
  await page.waitForFunction(() => state.maxUploadMb);  // the server's limit read
  const photo = photoIn(dir);
  const sent = [];
  await page.route('**/v1/segment', async route => {
    const name = /filename="([^"]+)"/.exec(route.request().postDataBuffer().toString('latin1'))[1];
    sent.push(name);
    const response = await route.fetch();
    await writeFile(`${dir}/answer_${name}.json`, await response.body());
    await route.fulfill({ response });
  });
  const segment = async () => {
    await page.click('#run');
    await page.waitForFunction(() => !document.querySelector('#run').disabled);
  };
  if (check === 'zip') {
    await page.setInputFiles('#image', [await photo('a.png'), await photo('big.png'), await photo('c.png'), await photo('d.png', 'a.jpeg')]);
    report.before = await page.isVisible('#zip-all');
    await segment();
    report.list = await listed(page);
    const save = async (id, to) => {
      const [download] = await Promise.all([page.waitForEvent('download'), page.click(id)]);
      await copyFile(await download.path(), `${dir}/${to}`);
      return download.suggestedFilename();
    };
    report.offered = !!(await page.$('#zip-all'));  // (a page without it: no 90 s wait for it)
    if (!report.offered) throw new Error('no "Download all (ZIP)" on the page');
    report.zipName = await save('#zip-all', 'all.zip');
    report.jsonName = await save('#json-all', 'all.json');
    report.label = await page.textContent('#zip-all');
  }
  if (check === 'camera') {
    const state = async () => ({ list: await listed(page), shown: await page.isVisible('#queue-wrap'), button: await page.textContent('#run'),
                                 said: await page.textContent('#photo-name'), sent: sent.splice(0) });
    await page.setInputFiles('#camera', await photo('a.png'));
    report.first = await state();
    await segment();
    report.segmented = await state();
    await page.setInputFiles('#camera', await photo('c.png'));  // a second capture: added to the first
    report.second = await state();
    await page.setInputFiles('#camera', await photo('d.png'));
    report.third = await state();
    await segment();
    report.after = { ...(await state()), status: await page.textContent('#queue-status') };
  }
  report.consoleErrors = consoleErrors;
} catch (err) {  // what the page showed when it failed, beside the error
  await tellFailure(page, consoleErrors, listed);
  throw err;
} finally {
  await browser.close();
}
console.log(JSON.stringify(report));
