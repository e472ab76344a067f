// The web console served by `hangar serve`, in Debian's chromium (started by
// ./run with a generated model and a local file server). Each page is also
// checked by axe-core (WCAG 2.1 AA) and photographed, light and dark, at a
// desktop and a phone size.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import puppeteer from 'puppeteer-core';

const url = process.env.HANGAR_URL;
const shots = process.env.HANGAR_SHOTS;
const require = createRequire(import.meta.url);
const axeSource = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const pages = ['models', 'downloads', 'running', 'chat', 'resources', 'settings'];
let browser, page;

before(async () => {
  browser = await puppeteer.launch({
    executablePath: process.env.HANGAR_CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  page = await browser.newPage();
  // axe is injected as an inline script, which the console's
  // Content-Security-Policy (rightly) forbids.
  await page.setBypassCSP(true);
  await page.setViewport({ width: 1280, height: 800 });
  page.on('pageerror', (e) => console.log('page error:', e.message));
  await page.goto(url, { waitUntil: 'domcontentloaded' });
  await page.waitForSelector('#models-table tbody tr');
});
after(async () => browser?.close());

const text = (selector) => page.$eval(selector, (e) => e.textContent);
// Replaces what a field holds (after an error the console keeps it, to fix).
async function fill(selector, value) {
  await page.$eval(selector, (input) => { input.value = ''; });
  await page.type(selector, value);
}
async function visit(name) {
  await page.evaluate((n) => { location.hash = n; }, name);
  await page.waitForSelector(`#page-${name}:not([hidden])`);
}
async function axe() {
  if (!(await page.evaluate(() => typeof window.axe !== 'undefined'))) await page.addScriptTag({ content: axeSource });
  return page.evaluate(async () => {
    const r = await window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } });
    return r.violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  });
}

test('models: installed first with a verdict for this machine, a recommendation, filters', async () => {
  const first = await page.$eval('#models-table tbody tr', (tr) => [...tr.cells].map((c) => c.textContent));
  assert.match(first[0], /^chat/);
  assert.match(first[3], /Fits|Partly|Too large/);
  assert.match(first[4], /Installed|Current/);
  await page.waitForSelector('#recommendation:not([hidden])');
  assert.match(await text('#recommendation'), /Recommended for this machine/);
  const all = await page.$$eval('#models-table tbody tr', (rows) => rows.length);
  await page.click('#filters input[name="installed_only"]');
  await page.waitForFunction((n) => document.querySelectorAll('#models-table tbody tr').length < n, {}, all);
  assert.equal(await page.$$eval('#models-table tbody tr', (rows) => rows.length), 1);
  await page.select('#filters select[name="purpose"]', 'quality');
  await page.click('#filters input[name="installed_only"]');
  await page.waitForFunction(() => [...document.querySelectorAll('#models-table tbody tr td:nth-child(2)')]
    .every((td) => td.textContent === 'quality'));
  await page.select('#filters select[name="purpose"]', '');
  await page.waitForFunction((n) => document.querySelectorAll('#models-table tbody tr').length === n, {}, all);
});

test('details: a model\'s facts and what it needs here, from the fit planner', async () => {
  await page.click('#models-table tbody tr button.link');
  await page.waitForSelector('#details-dialog[open]');
  await page.waitForFunction(() => /Largest context that fits/.test(document.querySelector('#details-facts').textContent), { timeout: 20000 });
  assert.match(await text('#details-facts'), /fits with \d+ tokens of context/);
  assert.deepEqual(await axe(), []);
  await page.keyboard.press('Escape');
  await page.waitForFunction(() => !document.querySelector('#details-dialog').open);
});

test('an error is a notice with the server\'s message', async () => {
  await page.type('#pull input[name="model"]', 'no-such-model');
  await page.click('#pull button[type="submit"]');
  await page.waitForSelector('#notices .notice');
  assert.match(await text('#notices .notice'), /no-such-model/);
  await page.click('#notices .notice button');
  assert.equal(await page.$('#notices .notice'), null);
});

test('switch makes the installed model the current one', async () => {
  await page.click('#models-table tbody tr td:last-child button');
  await page.waitForFunction(() => /Current/.test(document.querySelector('#models-table tbody tr td:nth-child(5)').textContent));
});

test('a download shows its progress and ends verified', async () => {
  await fill('#pull input[name="model"]', process.env.HANGAR_QUICK_URL);
  await page.click('#pull button[type="submit"]');
  await visit('downloads');
  await page.waitForSelector('#downloads-list :is([data-state="succeeded"], [data-state="failed"])', { timeout: 60000 });
  const card = await page.$eval('#downloads-list li', (li) => ({ words: li.textContent, value: li.querySelector('progress').value }));
  assert.match(card.words, /Verified and installed/, card.words);
  assert.equal(card.value, 100);
});

test('a slow download: progress with speed and time left, cancel, resume, verified', async () => {
  await visit('models');
  await fill('#pull input[name="model"]', process.env.HANGAR_SLOW_URL);
  await page.click('#pull button[type="submit"]');
  await visit('downloads');
  await page.waitForFunction(() => /\/s · .* left/.test(document.querySelector('#downloads-list li')?.textContent ?? ''), { timeout: 30000 });
  const progress = await page.$eval('#downloads-list li progress', (p) => p.value);
  assert.ok(progress > 0 && progress < 100, `progress ${progress}`);
  await page.click('#downloads-list li button');  // Cancel
  await page.waitForSelector('#downloads-list li [data-state="cancelled"]', { timeout: 30000 });
  await page.click('#downloads-list li button');  // Resume
  await page.waitForSelector('#downloads-list li:first-child [data-state="succeeded"]', { timeout: 90000 });
});

test('a reload keeps the downloads and the page', async () => {
  await page.reload({ waitUntil: 'domcontentloaded' });
  await page.waitForSelector('#page-downloads:not([hidden]) #downloads-list li [data-state="succeeded"]');
  const states = await page.$$eval('#downloads-list [data-state]', (s) => s.map((e) => e.dataset.state));
  assert.ok(states.includes('cancelled') && states.filter((s) => s === 'succeeded').length >= 2, states.join(' '));
});

test('chat streams an answer from the OpenAI route', async () => {
  await visit('chat');
  await page.waitForSelector('#chat-form select option[value="chat"]');
  await page.select('#chat-form select[name="model"]', 'chat');
  await page.$eval('#chat-form input[name="max_tokens"]', (i) => { i.value = '16'; });
  await page.type('#chat-form textarea', 'Say something.');
  await page.click('#chat-form button[type="submit"]');
  await page.waitForFunction(() => /tokens\/s/.test(document.querySelector('#chat-stats').textContent), { timeout: 60000 });
  const answer = await page.$eval('#chat-log li.assistant', (li) => li.textContent);
  assert.ok(answer.length > 0);
  assert.match(await text('#chat-stats'), /^16 tokens/);
});

test('running lists the loaded model with its memory, and unloads it', async () => {
  await visit('running');
  await page.waitForFunction(() => /chat/.test(document.querySelector('#running-table tbody')?.textContent ?? ''), { timeout: 10000 });
  assert.match(await text('#running-table tbody tr'), /MB|GB/);
  await page.click('#running-table tbody tr button');
  await page.waitForFunction(() => document.querySelectorAll('#running-table tbody tr').length === 0, { timeout: 10000 });
});

test('resources: live figures and the requests just made', async () => {
  await visit('resources');
  await page.waitForFunction(() => /%/.test(document.querySelector('#resources-list')?.textContent ?? ''), { timeout: 10000 });
  await page.waitForFunction(() => /chat/.test(document.querySelector('#stats-table tbody')?.textContent ?? ''), { timeout: 10000 });
  const row = await page.$eval('#stats-table tbody tr', (tr) => [...tr.cells].map((c) => c.textContent));
  assert.equal(row[0], 'chat');
  assert.ok(Number(row[1]) >= 1, row.join(' | '));
  // The charts show the requests just made (the chat above), described in words.
  await page.waitForSelector('#chart-speed svg circle');
  const speed = await page.$eval('#chart-speed svg', (s) => ({ dots: s.querySelectorAll('circle').length, label: s.getAttribute('aria-label') }));
  assert.ok(speed.dots >= 1, JSON.stringify(speed));
  assert.match(speed.label, /requests: lowest .* tokens\/s/);
  assert.ok(await page.$('#chart-ttft svg circle'));
  // Two models side by side.
  await page.waitForFunction(() => document.querySelectorAll('#compare-table tbody tr').length === 5);
  assert.equal(await text('#compare-a-name'), 'chat');
  const tps = await page.$eval('#compare-table tbody tr:nth-child(4) td', (td) => td.textContent);
  assert.match(tps, /^\d+\.\d$/);
});

test('settings: limits, profiles and a backup of the state', async () => {
  await visit('settings');
  await page.waitForFunction(() => /Memory for models/.test(document.querySelector('#limits-list').textContent));
  await page.waitForFunction(() => document.querySelectorAll('#profiles-table tbody tr').length > 0);
  assert.match(await text('#profiles-table tbody'), /balanced/);
  const downloads = fs.mkdtempSync(path.join(shots, '.download-'));
  const cdp = await page.createCDPSession();
  await cdp.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: downloads });
  await page.click('#export');
  const file = path.join(downloads, 'hangar-state.json');
  for (let i = 0; i < 50 && !fs.existsSync(file); i++) await new Promise((r) => setTimeout(r, 100));
  const saved = JSON.parse(fs.readFileSync(file, 'utf8'));
  assert.ok(saved.models.some((m) => /chat/.test(JSON.stringify(m))), JSON.stringify(saved).slice(0, 300));
  fs.rmSync(downloads, { recursive: true });
});

test('keyboard: Tab reaches the navigation and Enter opens a page', async () => {
  await visit('models');
  await page.focus('.skip');  // the first stop of the page
  await page.keyboard.press('Tab');  // Models
  await page.keyboard.press('Tab');  // Downloads
  assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Downloads');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#page-downloads:not([hidden])');
});

test('with an API key the page asks for it once and keeps it for the tab', async () => {
  const keyed = await browser.newPage();
  try {
    await keyed.goto(process.env.HANGAR_KEYED_URL, { waitUntil: 'domcontentloaded' });
    await keyed.waitForSelector('#key-dialog[open]');
    await keyed.type('#key-form input[name="key"]', 'wrong-key');
    await keyed.click('#key-form button[type="submit"]');
    await keyed.waitForSelector('#key-dialog[open]');  // refused: asked again
    await keyed.$eval('#key-form input[name="key"]', (i) => { i.value = ''; });
    await keyed.type('#key-form input[name="key"]', process.env.HANGAR_KEY);
    await keyed.click('#key-form button[type="submit"]');
    await keyed.waitForFunction(() => document.querySelectorAll('#models-table tbody tr').length > 0);
    await keyed.reload({ waitUntil: 'domcontentloaded' });
    await keyed.waitForFunction(() => document.querySelectorAll('#models-table tbody tr').length > 0);
    assert.equal(await keyed.$('#key-dialog[open]'), null);
  } finally {
    await keyed.close();
  }
});

test('every page passes axe (WCAG 2.1 AA) in light and dark, and is photographed', async () => {
  const problems = [];
  for (const theme of ['light', 'dark']) {
    await page.emulateMediaFeatures([{ name: 'prefers-color-scheme', value: theme }]);
    for (const [w, h, label] of [[1280, 800, 'desktop'], [390, 844, 'phone']]) {
      await page.setViewport({ width: w, height: h });
      for (const name of pages) {
        await visit(name);
        await new Promise((r) => setTimeout(r, 150));
        for (const v of await axe()) problems.push(`${name} ${theme} ${label}: ${v}`);
        await page.screenshot({ path: path.join(shots, `${name}-${theme}-${label}.png`), fullPage: false });
      }
    }
  }
  assert.deepEqual(problems, []);
});
