// The history page in a real headless Chromium (Debian's, driven by playwright-core):
//   node xtask/js/history_page.mjs URL SCREENSHOT.png
// Opens URL, clicks the first row of the sources list, takes a screenshot of the filtered
// page, removes the filter with its chip's link, goes back and forward, and prints one JSON
// object with what each step showed: the URL, the filter chips, the first cells of the pages
// and sources lists. Console errors, failed requests, page errors and dialogs are reported.
import { chromium } from 'playwright-core';

const [url, shot] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const problems = [];
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`page error: ${e}`));
  page.on('response', (r) => { if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`); });
  page.on('dialog', async (d) => { problems.push(`dialog: ${d.message()}`); await d.dismiss(); });
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
