// Usage: node robust_page_2.mjs URL PHOTO
// The web page given what a site engineer types (tests/test_robust_web_page_2.py): more prompts than the palette has
// colours, odd scales, rules with typos. Prints one JSON line.
import { launchChromium, openPage } from './chromium.mjs';

const [url, photo] = process.argv.slice(2);
const browser = await launchChromium();
const report = {};
const settled = (page) => page.waitForFunction(() => !document.querySelector('#run').disabled &&
  (!document.querySelector('#result').hidden || !document.querySelector('#error').hidden));
const said = (page) => page.evaluate(() => document.querySelector('#error').hidden ? '' : document.querySelector('#error').textContent);
// a drywallqa answer for a 64 x 48 photo, each prompt's mask its left half (made in the page: it draws PNGs)
function answer(prompts) {
  const c = document.createElement('canvas'); c.width = 64; c.height = 48;
  const g = c.getContext('2d'); g.fillStyle = '#000'; g.fillRect(0, 0, 64, 48); g.fillStyle = '#fff'; g.fillRect(0, 0, 32, 48);
  const base64 = c.toDataURL('image/png').split(',')[1];
  const measures = { components: 1, area_px: 1536, area_fraction: 0.5, length_px: 48, mean_width_px: 32, max_width_px: 32 };
  return { image: { width: 64, height: 48 }, flags: [], warnings: [], timings_ms: { total_ms: 5 },
           results: prompts.map(prompt => ({ prompt, confidence: 0.8, measures, mask: { format: 'png', base64 } })),
           stem: 'wall', prompt_files: Object.fromEntries(prompts.map((p, k) => [p, `prompt-${k + 1}`])) };  // the files' names
}
function made(page, wait = 0) {  // a route's handler: the answer made here after wait ms (no model to wait for)
  return async route => {
    const request = route.request().postData() || '';
    const prompts = [...request.matchAll(/name="prompts"\r\n\r\n([^\r]*)/g)].map(m => m[1]);
    await new Promise(r => setTimeout(r, wait));
    await route.fulfill({ json: await page.evaluate(answer, prompts) });
  };
}
try {
  const { page, consoleErrors } = await openPage(browser, url, { viewport: { width: 320, height: 640 } });
  await page.setInputFiles('#image', photo);
  // scales and tiles below 0 (a minus typed, or a phone keyboard's U+2212): said to be below 0, not "not a number"
  await page.click('#options summary');
  report.negative = {};
  for (const [id, value] of [['mm', '-0.5'], ['mm', '\u22120,5'], ['tile', '-640'], ['mm', '-x']]) {
    await page.fill('#' + id, value); await page.click('#run');
    report.negative[`${id} ${value}`] = await said(page);
    await page.fill('#' + id, '');
  }
  // QA rules with typos: each told apart (a decimal comma was told as a rule of the wrong form), the page usable after
  report.rules = {};
  for (const rule of ['segment crack: max_width_px > 0,3', 'segment crack: area_px >= 1,000', 'segment crak: max_width_px > 3',
                      'segment crack max_width_px > 3', 'segment crack: max_widht_px > 3']) {
    await page.fill('#rules', rule); await page.click('#run'); await settled(page);
    report.rules[rule] = await said(page);
  }
  // the server's 422 named by the boxes of the page, not by the API's fields (flag, mm_per_px)
  await page.fill('#rules', 'segment crack: area_px > 3\nsegment crack: area_pxx > 3'); await page.click('#run'); await settled(page);
  report.secondRule = await said(page);
  await page.fill('#rules', '');
  await page.fill('#mm', '0'); await page.click('#run'); await settled(page);
  report.zeroScale = await said(page);
  await page.fill('#mm', '');
  // keyboard only: a prompt typed and Enter (added), Enter again in the emptied box: segmented, as from the other boxes
  let asked = 0;
  await page.route('**/v1/segment', async route => { asked += 1; await made(page)(route); });
  await page.focus('#prompt-input'); await page.keyboard.type('segment hairline crack'); await page.keyboard.press('Enter');
  await page.keyboard.press('Enter');
  await page.waitForTimeout(300); await page.waitForFunction(() => !document.querySelector('#run').disabled);
  report.enterTwice = { asked, chips: await page.evaluate(() => state.prompts.length),
                        shown: await page.evaluate(() => !document.querySelector('#result').hidden) };
  await page.unroute('**/v1/segment');
  await page.click('#chips .chip:last-child button');
  // ten prompts (a server's --max-prompts 12): the overlay's label names each prompt's colour as it is drawn
  for (let k = 0; k < 8; k++) { await page.fill('#prompt-input', `segment thing ${k}`); await page.press('#prompt-input', 'Enter'); }
  await page.route('**/v1/segment', made(page));
  await page.click('#run');
  await settled(page);
  await page.unroute('**/v1/segment');
  report.width = await page.evaluate(() => [document.documentElement.scrollWidth, innerWidth]);  // 320 px: none to scroll
  report.colours = await page.evaluate(() => ({ label: document.querySelector('#overlay').getAttribute('aria-label'),
                                                 hex: state.result.results.map((r, i) => colorOf(i)) }));
  // an empty file (a cloud file not downloaded yet) chosen while a request runs: said so, and still said once the
  // answer for the photo sent is shown
  await page.route('**/v1/segment', made(page, 800));
  await page.click('#run');
  await page.setInputFiles('#image', { name: 'empty.jpg', mimeType: 'image/jpeg', buffer: Buffer.alloc(0) });
  const during = await said(page);
  await page.waitForFunction(() => !document.querySelector('#run').disabled);
  await page.unroute('**/v1/segment');
  report.emptyMeanwhile = { during, after: await said(page), status: await page.textContent('#status') };
  report.consoleErrors = consoleErrors;
  await page.context().close();
  console.log(JSON.stringify(report));
} finally {
  await browser.close();
}
