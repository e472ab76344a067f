// node load.mjs URL CHROMIUM RUNS: the console's bytes on the wire and its
// time to interactive with every model listed (see ./run).
import { createRequire } from 'node:module';
const require = createRequire(new URL('../../tests/ui/', import.meta.url));
const puppeteer = (await import(require.resolve('puppeteer-core'))).default;

const [url, chromium, runs] = process.argv.slice(2);
const browser = await puppeteer.launch({ executablePath: chromium, headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// 1. Bytes of the page and its files, as transferred.
{
  const page = await browser.newPage();
  const cdp = await page.createCDPSession();
  await cdp.send('Network.enable');
  const sizes = new Map();
  cdp.on('Network.responseReceived', (e) => sizes.set(e.requestId, { url: e.response.url, bytes: 0 }));
  cdp.on('Network.loadingFinished', (e) => { if (sizes.has(e.requestId)) sizes.get(e.requestId).bytes = e.encodedDataLength; });
  await page.goto(url, { waitUntil: 'networkidle2' }).catch(() => {});
  let assets = 0, api = 0;
  for (const { url: u, bytes } of sizes.values()) {
    const path = new URL(u).pathname;
    if (path === '/' || path.startsWith('/ui/')) assets += bytes; else if (!path.startsWith('/api/events')) api += bytes;
  }
  console.log(`first load of /: ${(assets / 1024).toFixed(1)} KB for the page and its files, `
    + `${(api / 1024).toFixed(1)} KB of API answers (target <= 300 KB)`);
  await page.close();
}

// 2. Time to interactive with every model listed.
const times = [];
let rows = 0;
for (let i = 0; i < Number(runs); i++) {
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  await page.setViewport({ width: 1280, height: 800 });
  await page.goto(url, { waitUntil: 'domcontentloaded' });
  await page.waitForFunction(() => document.querySelectorAll('#models-table tbody tr').length >= 200, { timeout: 30000 });
  // Interactive: a control answers (the filter's change handler runs).
  const ms = await page.evaluate(async () => {
    const box = document.querySelector('#filters input[name="installed_only"]');
    box.focus();
    return performance.now();
  });
  rows = await page.$$eval('#models-table tbody tr', (r) => r.length);
  times.push(ms);
  await context.close();
}
console.log(`models listed: ${rows}; interactive after ${times.map((t) => t.toFixed(0)).join(', ')} ms`);
console.log(`interactive with ${rows} models (median of ${times.length}): ${median(times).toFixed(0)} ms (target <= 1000 ms)`);
await browser.close();
