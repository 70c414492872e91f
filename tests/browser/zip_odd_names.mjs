// Usage: node zip_odd_names.mjs URL DIR CHECK
// tests/test_page_zip_review.py: "Download all (ZIP)" with odd photos and prompts. DIR holds a.png (small), big.png (over
// the server's --max-upload-mb). CHECK "odd": a.png's bytes under the names NAMES (a JSON list in DIR/names.json),
// big.png, lost.png (its connection aborted: failed); the prompts of DIR/prompts.json typed in; Segment; the ZIP saved
// as DIR/all.zip. CHECK "none": big.png twice (refused): the ZIP saved as DIR/none.zip. CHECK "camera-busy" /
// "camera-running": d.png taken (the camera input) while a.png, one photo / the first of a list with c.png, is held on
// its way; the list and the requests then, once it is in, and after Segment. CHECK "windows": a.png's bytes under the
// names of DIR/names.json, segmented: the ZIP, and the first photo's crack mask downloaded. Prints one JSON line.
import { readFile, copyFile } from 'node:fs/promises';
import { launchChromium, openPage } from './chromium.mjs';
import { listed, photoIn, tellFailure } from './page_helpers.mjs';

const [url, dir, check] = process.argv.slice(2);
const browser = await launchChromium();
const report = {};
let page = null, consoleErrors = [];
try {
  ({ page, consoleErrors } = await openPage(browser, url, { viewport: { width: 1024, height: 800 }, acceptDownloads: true }));
  await page.waitForFunction(() => state.maxUploadMb);
  const photo = photoIn(dir);
  const sent = []; let release = null, arrived = null;
  const held = new Promise(done => { release = done; }), holding = new Promise(done => { arrived = done; });
  await page.route('**/v1/segment', async route => {
    const name = /filename="([^"]+)"/.exec(route.request().postDataBuffer().toString('latin1'))[1];
    sent.push(name);
    if (name === 'lost.png') { await route.abort('connectionreset'); return; }
    if (check.startsWith('camera') && name === 'a.png' && sent.length === 1) { arrived(); await held; }
    await route.fulfill({ response: await route.fetch() });
  });
  const save = async (id, to) => {
    const [download] = await Promise.all([page.waitForEvent('download'), page.click(id)]);
    await copyFile(await download.path(), `${dir}/${to}`);
    return download.suggestedFilename();
  };
  const segment = async () => { await page.click('#run'); await page.waitForFunction(() => !document.querySelector('#run').disabled); };
  if (check === 'odd') {
    const names = JSON.parse(await readFile(`${dir}/names.json`, 'utf8'));
    const prompts = JSON.parse(await readFile(`${dir}/prompts.json`, 'utf8'));
    await page.setInputFiles('#image', [...await Promise.all(names.map(n => photo('a.png', n))), await photo('big.png'), await photo('a.png', 'lost.png')]);
    await page.evaluate((prompts) => { state.prompts = []; for (const p of prompts) addPrompt(p); }, prompts);
    report.prompts = await page.evaluate(() => state.prompts.map(p => p.text ?? p));
    await segment();
    report.list = await listed(page);
    report.zipName = await save('#zip-all', 'all.zip');
    report.label = await page.textContent('#zip-all');
    report.error = await page.textContent('#error');
  }
  if (check === 'none') {
    await page.setInputFiles('#image', [await photo('big.png'), await photo('big.png', 'big2.png')]);
    await segment();
    report.list = await listed(page);
    report.zipShown = await page.isVisible('#zip-all');
    if (report.zipShown) report.zipName = await save('#zip-all', 'none.zip');
  }
  if (check === 'camera-busy' || check === 'camera-running') {  // a capture while a photo is on its way
    const seen = async () => ({ list: await listed(page), sent: sent.splice(0), button: await page.textContent('#run'),
                                status: await page.textContent('#queue-status').catch(() => null),
                                result: await page.isVisible('#result'), error: await page.textContent('#error') });
    if (check === 'camera-busy') await page.setInputFiles('#camera', await photo('a.png'));  // one photo, segmented
    else await page.setInputFiles('#image', [await photo('a.png'), await photo('c.png')]);  // a list, sent
    await page.click('#run');
    await holding;
    await page.setInputFiles('#camera', await photo('d.png'));
    report.during = await seen();
    release();
    await page.waitForFunction(() => !document.querySelector('#run').disabled);
    await page.waitForTimeout(300);
    report.after = await seen();
    await segment();
    report.again = await seen();
  }
  if (check === 'windows') {  // names no Windows folder holds: the ZIP's, and the browser's own download of the mask
    const names = JSON.parse(await readFile(`${dir}/names.json`, 'utf8'));
    await page.setInputFiles('#image', await Promise.all(names.map(n => photo('a.png', n))));
    await segment();
    report.list = await listed(page);
    await save('#zip-all', 'all.zip');
    const [download] = await Promise.all([page.waitForEvent('download'),
                                          page.click('#measures tbody tr[data-prompt="segment crack"] a.mask-link')]);
    report.ownName = download.suggestedFilename();
    report.linkName = await page.getAttribute('#measures tbody tr[data-prompt="segment crack"] a.mask-link', 'download');
  }
  report.consoleErrors = consoleErrors;
} catch (err) {
  await tellFailure(page, consoleErrors, listed);
  throw err;
} finally {
  await browser.close();
}
console.log(JSON.stringify(report));
