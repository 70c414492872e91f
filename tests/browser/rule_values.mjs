// Usage: node rule_values.mjs URL PHOTO
// The measures table beside the page's QA rules (tests/test_robust_batch_report_values.py): a max width of 0.3004 mm
// read "0.30 mm" beside "Flagged: segment crack: max_width_mm > 0.3", a length of 33.59 mm "33.6 mm" beside an
// unbroken "length_mm >= 33.6". The answer's measures are set in the page (the page's send() wrapped). Prints one JSON line.
import { launchChromium, openPage } from './chromium.mjs';

const [url, photo] = process.argv.slice(2);
const browser = await launchChromium();
const report = {};
try {
  const { page, consoleErrors } = await openPage(browser, url);
  await page.setInputFiles('#image', photo);
  await page.evaluate(() => {
    state.prompts = ['segment crack']; renderPrompts();
    document.querySelector('#mm').value = '0.1';
    document.querySelector('#rules').value = ['segment crack: max_width_mm > 0.3', 'segment crack: length_mm >= 33.6',
                                              'segment crack: area_fraction >= 0.05', 'segment crack: mean_width_mm > 5'].join('\n');
    const realSend = window.send;
    window.send = async (...args) => {
      const answer = await realSend(...args);
      if (!String(args[0]).includes('/v1/segment') || !answer.ok) return answer;
      const json = await answer.json();
      Object.assign(json.results[0].measures, { components: 1, max_width_mm: 0.3004, length_mm: 33.59,
                                                area_fraction: 0.04996, mean_width_mm: 0.25 });
      json.flags = ['segment crack: max_width_mm > 0.3'];
      return new Response(JSON.stringify(json), { status: answer.status, headers: { 'Content-Type': 'application/json' } });
    };
  });
  await page.click('#run');
  await page.waitForFunction(() => !document.querySelector('#result').hidden && !document.querySelector('#run').disabled);
  report.row = await page.$$eval('#measures tbody tr[data-prompt="segment crack"] td', tds => tds.map(td => td.textContent));
  report.flags = await page.textContent('#flags');
  report.error = await page.evaluate(() => document.querySelector('#error').hidden ? '' : document.querySelector('#error').textContent);
  report.consoleErrors = consoleErrors;
  await page.context().close();
} finally {
  await browser.close();
}
console.log(JSON.stringify(report));
