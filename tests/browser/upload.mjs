// Usage: node upload.mjs URL IMAGE SCREENSHOT
// Opens the drywallqa page, uploads IMAGE with two prompts, a scale of 0.5 mm/px, tiles of 64 px and two QA rules
// (one always broken, one never), waits for the overlays and prints JSON: the prompts shown, the mask data URLs,
// the captions, the page's status line and its flags line.
import { chromium } from 'playwright-core';

const [url, image, screenshot] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
         '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage();
  await page.goto(url);
  await page.setInputFiles('#image', image);
  await page.fill('#prompts', 'segment crack\nsegment taping area');
  await page.fill('#mm', '0.5');
  await page.fill('#tile', '64');
  await page.fill('#rules', 'segment crack: area_px >= 0\nsegment taping area: components > 100000');
  await page.click('#run');
  await page.waitForSelector('#json', { timeout: 60000 });
  const results = await page.$$eval('figure.result', figs => figs.map(f => ({
    prompt: f.dataset.prompt,
    mask: f.querySelector('a').href,
    canvas: [f.querySelector('canvas').width, f.querySelector('canvas').height],
    caption: f.querySelector('figcaption').textContent,
  })));
  const status = await page.textContent('#status');
  const flags = await page.textContent('#flags');
  await page.screenshot({ path: screenshot, fullPage: true });
  console.log(JSON.stringify({ status, flags, results }));
} finally {
  await browser.close();
}
