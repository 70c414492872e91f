// Usage: node on_a_phone.mjs URL PHOTO CHECK
// The web page as a site engineer reads it on a phone (tests/test_page_on_a_phone.py): the contrast of its text and of its
// controls' edges (WCAG 2.1 AA: 4.5:1 for text, 3:1 for a control's boundary). Prints one JSON line.
import { readFile } from 'node:fs/promises';
import { launchChromium, openPage } from './chromium.mjs';

const [url, photo, check] = process.argv.slice(2);
const browser = await launchChromium();
const report = {};
// the WCAG contrast ratio of two CSS colours (rgb() or rgba() as computed), in the page
function contrasts(pairs) {
  const parse = (c) => c.match(/[\d.]+/g).slice(0, 3).map(Number);
  const lum = (c) => { const [r, g, b] = parse(c).map(v => v / 255).map(v => v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
                       return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return Math.round(100 * (x + 0.05) / (y + 0.05)) / 100; };
  const bg = (e) => { for (; e; e = e.parentElement) { const c = getComputedStyle(e).backgroundColor; if (!/rgba\(.*, 0\)$/.test(c) && c !== 'transparent') return c; } return 'rgb(255, 255, 255)'; };
  const out = {};
  for (const [name, sel, prop] of pairs) {
    const e = document.querySelector(sel), s = getComputedStyle(e);
    out[name] = ratio(prop === 'color' ? s.color : s[prop], bg(prop === 'color' ? e : e.parentElement));
  }
  return out;
}
try {
  const { page, consoleErrors } = await openPage(browser, url, { viewport: { width: 390, height: 844 } });
  await page.waitForFunction(() => document.querySelector('#model-line').textContent);
  if (check === 'contrast') {
    report.text = await page.evaluate(contrasts, [['modelLine', '#model-line', 'color'], ['tagline', 'header p', 'color']]);
    report.edges = await page.evaluate(contrasts, [['prompt box', '#prompt-input', 'borderTopColor'],
      ['Add', '#add-prompt', 'borderTopColor'], ['Take a photo', '#take-photo', 'borderTopColor'],
      ['suggestion', '#suggestions button', 'borderTopColor'], ['scale', '#mm', 'borderTopColor'],
      ['rules', '#rules', 'borderTopColor'], ['drop zone', '#drop', 'borderTopColor']]);
  }
  if (check === 'focus') {  // the ring round a control reached with Tab, against the card it is drawn on
    await page.focus('#prompt-input'); await page.keyboard.press('Tab');
    report.focused = await page.evaluate(() => document.activeElement.id);
    report.ring = await page.evaluate(contrasts, [['Add', '#add-prompt', 'outlineColor']]);
  }
  if (check === 'empty') {  // an answer whose first mask is empty (nothing found) and second is not
    await page.route('**/v1/segment', async route => {
      const answer = await route.fetch(), json = await answer.json();
      Object.assign(json.results[0], { confidence: 0.9 }); Object.assign(json.results[0].measures, { components: 0, area_px: 0, area_fraction: 0 });
      Object.assign(json.results[1], { confidence: 0.8 }); Object.assign(json.results[1].measures, { components: 2 });
      await route.fulfill({ response: answer, json });
    });
    // the photo from memory: Chromium hands an intercepted request no body of a file read from disk
    await page.setInputFiles('#image', { name: 'wall.png', mimeType: 'image/png', buffer: await readFile(photo) });
    await page.click('#run');
    await page.waitForFunction(() => !document.querySelector('#run').disabled && !document.querySelector('#result').hidden);
    report.confidence = await page.$$eval('#measures tbody tr', trs => Object.fromEntries(trs.map(tr =>
      [tr.dataset.prompt, tr.querySelector('td.confidence').textContent])));
  }
  if (check === 'too large') {  // a photo over the server's --max-upload-mb (the test's server: 0.05 MB)
    const sent = []; page.on('request', r => { if (r.url().includes('/v1/segment')) sent.push(r.url()); });
    await page.setInputFiles('#image', photo);
    await page.click('#run');
    await page.waitForFunction(() => !document.querySelector('#run').disabled && !document.querySelector('#error').hidden);
    report.tooLarge = { error: await page.textContent('#error'), sent };
  }
  if (check === 'share') {  // a phone's share sheet (navigator.share: none in a desktop Linux Chromium) stood in for
    await page.evaluate(() => {
      window.shared = [];
      Object.defineProperty(navigator, 'canShare', { configurable: true, value: () => true });
      Object.defineProperty(navigator, 'share', { configurable: true, value: async (d) => {
        window.shared.push({ title: d.title, text: d.text, files: await Promise.all((d.files || []).map(async f =>
          [f.name, f.type, [...new Uint8Array(await f.slice(1, 4).arrayBuffer())].map(c => String.fromCharCode(c)).join('')])) });
      } });
    });
    await page.setInputFiles('#image', photo);
    await page.click('#run');
    await page.waitForFunction(() => !document.querySelector('#run').disabled && !document.querySelector('#result').hidden);
    report.shareShown = await page.isVisible('#share');
    if (report.shareShown) { await page.click('#share'); await page.waitForFunction(() => window.shared.length); }
    report.shared = await page.evaluate(() => window.shared || []);
  }
  if (check === 'targets') {  // every control's size, once a photo is segmented (a box in a label: the label's)
    await page.setInputFiles('#image', photo);
    await page.click('#run');
    await page.waitForFunction(() => !document.querySelector('#run').disabled && !document.querySelector('#result').hidden);
    report.small = await page.evaluate(() => [...document.querySelectorAll('button, a, input, textarea, summary, [tabindex="0"]')]
      .filter(e => e.getClientRects().length && !e.classList.contains('visually-hidden'))
      .map(e => { const r = (e.tagName === 'INPUT' && e.closest('label') || e).getBoundingClientRect();
                  return [e.id || e.className || e.tagName, e.getAttribute('aria-label') || e.textContent.trim().slice(0, 30),
                          Math.round(r.width), Math.round(r.height)]; })
      .filter(([, , w, h]) => w < 32 || h < 32));
  }
  report.consoleErrors = consoleErrors;
} finally {
  await browser.close();
}
console.log(JSON.stringify(report));
