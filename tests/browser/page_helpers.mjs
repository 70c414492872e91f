// What the scripts of tests/browser that drive the web page with several photos share (many_photos.mjs and those after
// it): the list's lines, a photo of DIR, and what the page showed when a script failed.
import { readFile } from 'node:fs/promises';

// each line of the list of photos: [name, state]
export const listed = (page) => page.$$eval('#queue li', lis => lis.map(li => [li.querySelector('.q-name').textContent, li.dataset.state]));

// photoIn(dir)(name, as = name): the file DIR/name, named `as`, given as bytes (a file chosen by its path goes
// without its bytes through page.route)
export const photoIn = (dir) => async (name, as = name) => ({ name: as, mimeType: 'image/png', buffer: await readFile(`${dir}/${name}`) });

// what the page showed when the script failed (its list, where `list` reads it; its uncaught errors; its error line),
// as one JSON line on stderr, beside the error (the test prints stderr)
export async function tellFailure(page, consoleErrors, list = null) {
  if (!page) return;
  console.error(JSON.stringify({ ...(list ? { list: await list(page).catch(() => null) } : {}), consoleErrors,
                                 error: await page.textContent('#error').catch(() => null) }));
}
