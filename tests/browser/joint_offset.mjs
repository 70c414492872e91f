// Usage: node joint_offset.mjs URL
// Where the page draws a taped joint (tests/test_robust_batch_report_values.py, test_browser_joint_lines_...): the API
// gives a joint's ends as pixel centres of the photo (column x is the pixel whose centre is x + 0.5 of its left edge);
// on a photo drawn 4x larger a joint along row 3 must run along the canvas rows of that pixel (12 to 15), centred on
// 14, not on its top edge (12). Prints one JSON line.
import { launchChromium, openPage } from './chromium.mjs';

const [url] = process.argv.slice(2);
const browser = await launchChromium();
const report = {};
try {
  const { page, consoleErrors } = await openPage(browser, url);
  Object.assign(report, await page.evaluate(() => {
    const c = document.createElement('canvas'); c.width = 80; c.height = 80;
    const g = c.getContext('2d'); g.fillStyle = '#000'; g.fillRect(0, 0, 80, 80);
    // a 20 x 20 photo drawn at 4x: a horizontal joint along pixel row 3, a vertical one along pixel column 15
    drawJoints(g, [{ start_xy: [2, 3], end_xy: [18, 3], length_px: 16 }, { start_xy: [15, 19], end_xy: [15, 8], length_px: 11 }],
               c.width, c.height, colorOf(0), 4, 4);
    const white = (x, y) => g.getImageData(x, y, 1, 1).data.slice(0, 3).every(v => v === 255);
    const column = x => [...Array(80).keys()].filter(y => white(x, y));
    const row = y => [...Array(80).keys()].filter(x => white(x, y));
    return { rowsAcross: column(40), columnsAcross: row(50) };  // the white core of each line, across it
  }));
  report.consoleErrors = consoleErrors;
  await page.context().close();
} finally {
  await browser.close();
}
console.log(JSON.stringify(report));
