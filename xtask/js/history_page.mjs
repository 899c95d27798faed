// The history page in a real headless Chromium (Debian's, driven by playwright-core):
//   node xtask/js/history_page.mjs URL SCREENSHOT.png
// Opens URL, clicks the first row of the sources list, takes a screenshot of the filtered
// page, removes the filter with its chip's link, goes back, and prints one JSON
// object with what each step showed: the URL, the filter chips, the first cells of the pages
// and sources lists. Console errors, failed requests, page errors and dialogs are reported.
import { open } from './browser.mjs';

const [url, shot] = process.argv.slice(2);
const { browser, page, problems } = await open();
try {
  const read = () => page.evaluate(() => {
    const first = (id) => [...document.querySelectorAll(`#${id} tbody tr`)]
      .map((tr) => tr.children[0].textContent);
    return {
      url: location.href,
      chips: [...document.querySelectorAll('#filters .chip')].map((c) => c.dataset.filter),
      pages: first('pages'),
      sources: first('sources'),
      scripts: document.scripts.length,
    };
  });
  await page.goto(url);
  const before = await read();
  await Promise.all([page.waitForNavigation(), page.click('#sources tbody tr:first-child a')]);
  const filtered = await read();
  await page.screenshot({ path: shot, fullPage: true });
  await Promise.all([page.waitForNavigation(), page.click('#filters .chip a')]);
  const removed = await read();
  await page.goBack();
  const back = await read();
  console.log(JSON.stringify({ before, filtered, removed, back, problems }));
} finally {
  await browser.close();
}
