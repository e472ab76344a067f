// The web console served by `hangar serve`, in Debian's chromium (started by
// ./run with a generated model and a local file server). Each page is also
// checked by axe-core (WCAG 2.1 AA) and photographed, light and dark, at a
// desktop and a phone size.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';
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
  // Only what fits here: every verdict left is one that fits.
  await page.click('#filters input[name="fits_only"]');
  await page.waitForFunction((n) => document.querySelectorAll('#models-table tbody tr').length < n, {}, all);
  const verdicts = await page.$$eval('#models-table tbody tr td:nth-child(4) span:first-child', (s) => s.map((e) => e.textContent));
  assert.ok(verdicts.length > 0 && verdicts.every((v) => /^Fits|^Partly/.test(v)), verdicts.join(', '));
  // The numbers and the largest context, from the fit planner.
  assert.match(await text('#models-table tbody tr td:nth-child(4)'), /memory; up to [\d,]+ tokens fit/);
  await page.click('#filters input[name="fits_only"]');
  // By tag, and by file size.
  const setFilter = (name, value) => page.$eval(`#filters [name="${name}"]`, (e, v) => {
    e.value = v;
    e.dispatchEvent(new Event('change', { bubbles: true }));
  }, value);
  const rows = () => page.$$eval('#models-table tbody tr', (r) => r.length);
  const tag = await page.$eval('#tags option', (o) => o.value);
  await setFilter('tag', tag);
  await page.waitForFunction((n) => document.querySelectorAll('#models-table tbody tr').length < n, {}, all);
  assert.ok(await rows() > 0);
  await setFilter('tag', '');
  await page.waitForFunction((n) => document.querySelectorAll('#models-table tbody tr').length === n, {}, all);
  await setFilter('max_size', '1');
  await page.waitForFunction((n) => document.querySelectorAll('#models-table tbody tr').length < n, {}, all);
  const sizes = await page.$$eval('#models-table tbody tr td:nth-child(3)', (t) => t.map((e) => e.textContent));
  assert.ok(sizes.every((x) => !/GB/.test(x) || parseFloat(x) <= 1), sizes.join(', '));
  await setFilter('max_size', '');
  await page.waitForFunction((n) => document.querySelectorAll('#models-table tbody tr').length === n, {}, all);
});

test('details: a model\'s facts and what it needs here, from the fit planner', async () => {
  await page.click('#models-table tbody tr button.link');
  await page.waitForSelector('#details-dialog[open]');
  await page.waitForFunction(() => /Largest context that fits/.test(document.querySelector('#details-facts').textContent), { timeout: 20000 });
  assert.match(await text('#details-facts'), /fits with \d+ tokens of context/);
  // The installed file's own header.
  await page.waitForFunction(() => /File header.*qwen3, Q8_0, [\d.]+ M parameters, \d+ tensors/.test(document.querySelector('#details-facts').textContent));
  // Share it with Ollama, without a copy.
  const share = await page.$$eval('#details-actions button', (b) => b.findIndex((x) => x.textContent === 'Share with Ollama'));
  assert.ok(share >= 0);
  await (await page.$$('#details-actions button'))[share].click();
  await page.waitForFunction(() => /with Ollama as/.test(document.querySelector('#details-facts').textContent));
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

const card = (model) => `#downloads-list li:has(strong[data-model="${model}"])`;
// The cards are drawn again on every event: find and press a button in one step.
const press = (selector) => page.$eval(selector, (b) => b.click());
test('a slow download: progress with speed and time left, pause, resume, a server restart, verified', async () => {
  const url = process.env.HANGAR_SLOW_URL;
  await visit('models');
  await fill('#pull input[name="model"]', url);
  await page.click('#pull button[type="submit"]');
  await visit('downloads');
  await page.waitForFunction((c) => /\/s · .* left/.test(document.querySelector(c)?.textContent ?? ''), { timeout: 30000 }, card(url));
  const progress = await page.$eval(`${card(url)} progress`, (p) => p.value);
  assert.ok(progress > 0 && progress < 100, `progress ${progress}`);
  assert.match(await text(card(url)), /\d+ connections?/);
  // Keyboard focus stays on its button while the card is drawn again.
  await page.focus(`${card(url)} button[aria-label^="Pause"]`);
  await new Promise((r) => setTimeout(r, 700));
  assert.match(await page.evaluate(() => document.activeElement.getAttribute('aria-label') ?? ''), /^Pause the download/);
  await press(`${card(url)} button[aria-label^="Pause"]`);
  await page.waitForSelector(`${card(url)} [data-state="paused"]`, { timeout: 30000 });
  await press(`${card(url)} button[aria-label^="Resume"]`);
  await page.waitForSelector(`${card(url)} [data-state="running"]`, { timeout: 30000 });
  // The server stops in the middle; the next one goes on with the download.
  const before = await page.$eval(`${card(url)} progress`, (p) => p.value);
  assert.ok(before < 100, `progress ${before} before the restart`);
  execFileSync(process.env.HANGAR_RESTART);
  await page.waitForSelector(`${card(url)} [data-state="succeeded"]`, { timeout: 90000 });
});

test('cancel stops a download for good: no resume is offered', async () => {
  const url = process.env.HANGAR_SLOW_OTHER_URL;
  await visit('models');
  await fill('#pull input[name="model"]', url);
  await page.click('#pull button[type="submit"]');
  await visit('downloads');
  await page.waitForFunction((c) => /\/s/.test(document.querySelector(c)?.textContent ?? ''), { timeout: 30000 }, card(url));
  await press(`${card(url)} button[aria-label^="Cancel"]`);
  await page.waitForSelector(`${card(url)} [data-state="cancelled"]`, { timeout: 30000 });
  assert.equal(await page.$(`${card(url)} button`), null);
});

test('a reload keeps the downloads and the page', async () => {
  await page.reload({ waitUntil: 'domcontentloaded' });
  await page.waitForSelector('#page-downloads:not([hidden]) #downloads-list li [data-state="succeeded"]');
  const states = await page.$$eval('#downloads-list [data-state]', (s) => s.map((e) => e.dataset.state));
  assert.ok(states.includes('cancelled') && states.includes('succeeded'), states.join(' '));
});

test('chat streams an answer from the OpenAI route', async () => {
  await visit('chat');
  await page.waitForSelector('#chat-form select option[value="chat"]');
  await page.select('#chat-form select[name="model"]', 'chat');
  // A profile fills the sampling controls.
  await page.select('#chat-form select[name="profile"]', 'precise');
  const precise = await page.$eval('#chat-form', (f) => [f.temperature.value, f.top_p.value]);
  assert.notDeepEqual(precise, ['0.7', '0.9']);
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
  // Health warnings from doctor, in words.
  await page.waitForSelector('#health-list li');
  assert.match(await text('#health-list'), /(OK|Warning|Problem): memory/i);
});

test('settings: change them, a refused value is a notice, profiles, a backup and its restore', async () => {
  await visit('settings');
  await page.waitForSelector('#settings-fields input[name="downloads.connections"]');
  assert.equal(await page.$eval('#settings-fields select[name="runtime.gpu"]', (s) => s.value), 'auto');
  await fill('#settings-fields input[name="downloads.connections"]', '4');
  await page.select('#settings-fields select[name="runtime.gpu"]', 'off');
  await page.click('#settings-form button[type="submit"]');
  await page.waitForFunction(() => /^Saved: /.test(document.querySelector('#announce').textContent));
  await visit('models');
  await visit('settings');
  await page.waitForFunction(() => document.querySelector('#settings-fields input[name="downloads.connections"]')?.value === '4');
  assert.equal(await page.$eval('#settings-fields select[name="runtime.gpu"]', (s) => s.value), 'off');
  // A value the server refuses: a notice naming the setting, nothing changed.
  await fill('#settings-fields input[name="downloads.max_speed"]', 'very fast');
  await page.click('#settings-form button[type="submit"]');
  await page.waitForSelector('#notices .notice');
  assert.match(await text('#notices .notice'), /downloads\.max_speed/);
  await page.click('#notices .notice button');
  await fill('#settings-fields input[name="downloads.max_speed"]', '0');
  await page.select('#settings-fields select[name="runtime.gpu"]', 'auto');
  await page.click('#settings-form button[type="submit"]');
  await page.waitForFunction(() => /^Saved: /.test(document.querySelector('#announce').textContent));

  // Profiles: create, edit, delete.
  await page.waitForFunction(() => /balanced/.test(document.querySelector('#profiles-table tbody').textContent));
  await fill('#profile-form input[name="name"]', 'console');
  await fill('#profile-form input[name="temperature"]', '0.3');
  await page.select('#profile-form select[name="inherits"]', 'balanced');
  await page.click('#profile-form button[type="submit"]');
  await page.waitForFunction(() => /console/.test(document.querySelector('#profiles-table tbody').textContent));
  await page.click('#profiles-table button[aria-label="Edit the profile console"]');
  await fill('#profile-form input[name="max_tokens"]', '99');
  await page.click('#profile-form button[type="submit"]');
  await page.waitForFunction(() => [...document.querySelectorAll('#profiles-table tbody tr')]
    .some((tr) => tr.cells[0].textContent.startsWith('console') && tr.cells[3].textContent === '99'));

  // The state downloaded, then restored.
  const downloads = fs.mkdtempSync(path.join(shots, '.download-'));
  const cdp = await page.createCDPSession();
  await cdp.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: downloads });
  await page.click('#export');
  const file = path.join(downloads, 'hangar-state.json');
  for (let i = 0; i < 50 && !fs.existsSync(file); i++) await new Promise((r) => setTimeout(r, 100));
  const saved = JSON.parse(fs.readFileSync(file, 'utf8'));
  assert.ok(saved.models.some((m) => /chat/.test(JSON.stringify(m))), JSON.stringify(saved).slice(0, 300));
  assert.ok(saved.profiles.some((p) => p.name === 'console' && p.max_tokens === 99));
  await page.click('#profiles-table button[aria-label="Delete the profile console"]');
  await page.waitForFunction(() => !/console/.test(document.querySelector('#profiles-table tbody').textContent));
  await (await page.$('#import-file')).uploadFile(file);
  await page.waitForFunction(() => /Restored from hangar-state.json/.test(document.querySelector('#import-result').textContent));
  assert.match(await text('#import-result'), /model\(s\) already here.* 1 profile\(s\) restored/);
  await page.waitForFunction(() => /console/.test(document.querySelector('#profiles-table tbody').textContent));
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
