// The live page in a real headless Chromium (Debian's, driven by playwright-core), loaded once:
//   node xtask/js/live_page.mjs URL EXPECTED_HITS SCREENSHOT.png
// Prints one JSON line when the page has loaded ({"event":"loaded", ...what it shows}), then
// waits, without reloading, until the page shows EXPECTED_HITS page views, takes a screenshot
// and prints {"event":"reached", ...}. Exits 1 with the last state after 60 s. Console errors,
// page errors (a CSP violation is one) and dialogs (an injected alert) are reported.
import { open } from './browser.mjs';

const [url, expected, shot] = process.argv.slice(2);
const { browser, page, problems } = await open();
try {
  await page.goto(url);
  // Survives only as long as the document: a reload would drop it.
  await page.evaluate(() => { window.loadedOnce = true; });
  const read = () => page.evaluate(() => {
    const text = (id) => document.getElementById(id)?.textContent ?? null;
    const rows = [...document.querySelectorAll('#pages tbody tr')]
      .map((tr) => [...tr.children].map((c) => c.textContent));
    return {
      hits: text('hits'), visitors: text('visitors'), visitors_now: text('visitors_now'),
      state: text('state'), pages: rows, loaded_once: window.loadedOnce === true,
      images: document.images.length, scripts: document.scripts.length,
    };
  });
  console.log(JSON.stringify({ event: 'loaded', ...(await read()) }));
  const deadline = Date.now() + 60_000;
  let last = await read();
  while (last.hits !== expected && Date.now() < deadline) {
    await page.waitForTimeout(200);
    last = await read();
  }
  if (last.hits !== expected) {
    console.log(JSON.stringify({ event: 'timeout', ...last, problems }));
    process.exitCode = 1;
  } else {
    await page.screenshot({ path: shot, fullPage: true });
    console.log(JSON.stringify({ event: 'reached', ...last, problems }));
  }
} finally {
  await browser.close();
}
