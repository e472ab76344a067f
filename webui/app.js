// Hangar's web console: plain modules, no framework, nothing from a CDN. It
// reads the server's own API and one event stream (/api/events), so no page
// polls; errors become notices carrying the server's message.
const $ = (selector, root = document) => root.querySelector(selector);
const state = { models: [], jobs: new Map(), runners: [], resources: null, current: null, hardware: null };

// ---------------------------------------------------------------- the API
const keyStore = 'hangar-api-key';
function headers(extra = {}) {
  const key = sessionStorage.getItem(keyStore);
  return key ? { ...extra, Authorization: `Bearer ${key}` } : extra;
}

async function askForKey() {
  const dialog = $('#key-dialog');
  if (dialog.open) return new Promise((resolve) => dialog.addEventListener('close', resolve, { once: true }));
  dialog.showModal();
  return new Promise((resolve) => dialog.addEventListener('close', () => {
    const key = $('#key-form').key.value.trim();
    if (key) sessionStorage.setItem(keyStore, key);
    resolve();
  }, { once: true }));
}

async function api(path, { method = 'GET', body } = {}) {
  for (let attempt = 0; attempt < 3; attempt++) {
    const res = await fetch(path, {
      method,
      headers: headers(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (res.status === 401) { await askForKey(); continue; }
    const text = await res.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch { data = { error: text }; }
    if (!res.ok) {
      const message = typeof data?.error === 'string' ? data.error : data?.error?.message ?? res.statusText;
      throw new Error(message);
    }
    return data;
  }
  throw new Error('the API key was not accepted');
}

// ---------------------------------------------------------------- feedback
function notify(error) {
  const box = document.createElement('div');
  box.className = 'notice';
  const text = document.createElement('p');
  text.innerHTML = '<strong>Error:</strong> ';
  text.append(document.createTextNode(error.message ?? String(error)));
  const close = document.createElement('button');
  close.type = 'button';
  close.textContent = 'Dismiss';
  close.addEventListener('click', () => box.remove());
  box.append(text, close);
  $('#notices').append(box);
}
const announce = (text) => { $('#announce').textContent = text; };
const guard = (fn) => async (...args) => { try { await fn(...args); } catch (e) { notify(e); } };

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else if (k === 'className') node.className = v;
    else if (v !== undefined && v !== null && v !== false) node.setAttribute(k, v === true ? '' : v);
  }
  node.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}

function bytes(n) {
  if (!Number.isFinite(n) || n <= 0) return '0 B';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  const i = Math.min(units.length - 1, Math.floor(Math.log(n) / Math.log(1000)));
  return `${(n / 1000 ** i).toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}
function duration(seconds) {
  if (!Number.isFinite(seconds)) return '';
  if (seconds < 60) return `${Math.ceil(seconds)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.ceil(seconds % 60)} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
}

// ---------------------------------------------------------------- pages
function show(page) {
  if (!document.querySelector(`section[data-page="${page}"]`)) page = 'models';
  for (const s of document.querySelectorAll('main section')) s.hidden = s.dataset.page !== page;
  for (const a of document.querySelectorAll('nav a')) {
    if (a.dataset.page === page) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  document.title = `Hangar: ${page[0].toUpperCase()}${page.slice(1)}`;
  if (page === 'resources') guard(loadStatistics)();
  if (page === 'settings') guard(loadSettings)();
}

// Models
async function loadModels() {
  const form = $('#filters');
  const q = new URLSearchParams();
  if (form.purpose.value) q.set('purpose', form.purpose.value);
  if (form.max_vram.value) q.set('max_vram', form.max_vram.value);
  if (form.installed_only.checked) q.set('installed_only', 'true');
  const [list, current] = await Promise.all([api(`/api/model/list?${q}`), api('/api/model/current')]);
  // Installed first, then the catalog's order.
  state.models = [...list.models.filter((m) => m.installed), ...list.models.filter((m) => !m.installed)];
  state.current = current.current_model;
  renderModels();
  renderChatModels();
  if (!$('#page-resources').hidden) await loadStatistics();
}

// This machine's verdict for a model, from the catalog's memory estimates
// (4,096 tokens of context): in the GPU, CPU only, or too large.
function verdict(m) {
  const hw = state.hardware;
  if (!hw || !m.min_ram_bytes) return { cls: 'status-warn', text: 'Unknown', detail: '' };
  const vram = Math.max(0, ...(hw.gpus ?? []).map((g) => g.vram_total ?? 0));
  const ram = hw.memory?.available ?? hw.memory?.total ?? 0;
  if (vram > 0 && m.min_vram_bytes && m.min_vram_bytes <= vram) {
    return { cls: 'status-ok', text: 'Fits in GPU', detail: `needs ${bytes(m.min_vram_bytes)} of ${bytes(vram)} video memory` };
  }
  if (m.min_ram_bytes <= ram) {
    return { cls: vram > 0 ? 'status-warn' : 'status-ok', text: vram > 0 ? 'Partly in GPU' : 'Fits (CPU only)',
      detail: `needs ${bytes(m.min_ram_bytes)} of ${bytes(ram)} memory` };
  }
  return { cls: 'status-bad', text: 'Too large', detail: `needs ${bytes(m.min_ram_bytes)}, ${bytes(ram)} available` };
}

function renderModels() {
  const body = $('#models-table tbody');
  body.replaceChildren(...state.models.map((m) => {
    const installed = m.installed;
    const current = m.id === state.current;
    const status = current ? el('span', { className: 'status-ok' }, 'Current')
      : installed ? el('span', { className: 'status-ok' }, 'Installed')
      : el('span', { className: 'status-warn' }, 'Not installed');
    const actions = installed
      ? el('button', { type: 'button', disabled: current, 'aria-label': `Make ${m.id} the current model`,
        onclick: guard(async () => {
          const r = await api('/api/model/switch', { method: 'POST', body: { model: m.id } });
          announce(`${r.current_model} is the current model`);
          await loadModels();
        }) }, current ? 'Current' : 'Switch')
      : el('button', { type: 'button', 'aria-label': `Download ${m.id}`,
        onclick: guard(() => startDownload(m.id)) }, 'Download');
    const size = m.store?.size_bytes ?? m.file_size_bytes;
    const fit = verdict(m);
    return el('tr', {},
      el('td', {}, el('button', { type: 'button', className: 'link', 'aria-label': `Details of ${m.id}`,
        onclick: guard(() => showDetails(m)) }, m.id), m.description ? el('span', { className: 'sub' }, m.description) : null),
      el('td', {}, m.purpose ?? ''),
      el('td', {}, size ? bytes(size) : ''),
      el('td', {}, el('span', { className: fit.cls }, fit.text), el('span', { className: 'sub' }, fit.detail)),
      el('td', {}, status),
      el('td', {}, actions));
  }));
  $('#models-count').textContent = `(${state.models.length})`;
}

// A model's facts, then what it needs here (the fit planner: at 4,096 tokens
// and the largest context that fits) and its use.
async function showDetails(m) {
  const dialog = $('#details-dialog');
  $('#details-title').textContent = m.name && m.name !== m.id ? `${m.id}: ${m.name}` : m.id;
  const facts = $('#details-facts');
  const put = (k, v) => { if (v !== undefined && v !== null && v !== '') facts.append(el('dt', {}, k), el('dd', {}, String(v))); };
  facts.replaceChildren();
  put('Family', m.family);
  put('Parameters', m.parameter_label);
  put('Quantization', m.quantization);
  put('Context', m.context_length ? `${m.context_length} tokens` : null);
  put('Use', m.use_case);
  put('Tags', (m.tags ?? []).join(', '));
  put('Sources', (m.sources ?? []).map((s) => s.reference).join(', '));
  put('File', m.weights);
  dialog.showModal();
  const [fit, stats] = await Promise.all([
    api(`/api/model/fit?model=${encodeURIComponent(m.id)}`).catch((e) => ({ error: e.message })),
    m.installed ? api(`/api/model/statistics?model=${encodeURIComponent(m.id)}`).catch(() => null) : null]);
  if (fit.error) put('On this machine', fit.error);
  else {
    put('On this machine', fit.requested.reason);
    put('Largest context that fits', fit.largest.fits ? `${fit.largest.n_ctx} tokens` : 'none');
  }
  if (stats) put('Use so far', `${stats.usage_count} requests, ${Math.round(stats.success_rate * 100)}% successful`);
}

async function loadRecommendation() {
  const r = await api('/api/model/recommend', { method: 'POST', body: {} });
  const banner = $('#recommendation');
  if (r.recommended_model) {
    banner.textContent = `Recommended for this machine (${r.priority}): ${r.recommended_model}`;
    banner.hidden = false;
  }
}

async function startDownload(model) {
  const r = await api('/api/model/download', { method: 'POST', body: { model } });
  if (r.status === 'installed') { announce(`${r.model} is installed already`); return; }
  state.jobs.set(r.job, { id: r.job, kind: 'pull', title: model, state: 'running', status: 'starting' });
  renderJobs();
  announce(`Downloading ${model}`);
}

// Downloads
function renderJobs() {
  const jobs = [...state.jobs.values()].filter((j) => j.kind === 'pull').reverse();
  $('#downloads-empty').hidden = jobs.length > 0;
  $('#downloads-list').replaceChildren(...jobs.map((j) => {
    const stalled = j.state === 'running' && j.lastProgressAt && Date.now() - j.lastProgressAt > 5000;
    const label = `Download of ${j.title}`;
    const pct = j.total ? Math.round((100 * j.completed) / j.total) : null;
    const words = j.state === 'succeeded' ? 'Verified and installed'
      : j.state === 'failed' ? `Failed: ${j.error ?? ''}`
      : j.state === 'cancelled' ? 'Cancelled (the partial file is kept for a resume)'
      : stalled ? 'Stalled: no bytes for 5 s'
      : j.status ?? 'running';
    const detail = j.total ? [`${bytes(j.completed)} of ${bytes(j.total)} (${pct}%)`,
      j.state === 'running' && j.speed && !stalled ? `${bytes(j.speed)}/s` : null,
      j.state === 'running' && j.eta_seconds !== undefined && !stalled ? `${duration(j.eta_seconds)} left` : null]
      .filter(Boolean).join(' · ') : '';
    const cls = j.state === 'succeeded' ? 'status-ok' : j.state === 'running' && !stalled ? 'status-warn' : 'status-bad';
    const buttons = j.state === 'running'
      ? el('button', { type: 'button', 'aria-label': `Cancel the download of ${j.title}`,
        onclick: guard(async () => { await api(`/api/jobs/${j.id}`, { method: 'DELETE' }); }) }, 'Cancel')
      : j.state !== 'succeeded'
        ? el('button', { type: 'button', 'aria-label': `Resume the download of ${j.title}`,
          onclick: guard(() => startDownload(j.title)) }, 'Resume') : null;
    return el('li', { 'data-job': j.id },
      el('p', {}, el('strong', {}, j.title), ' ', el('span', { className: cls, 'data-state': j.state }, words)),
      el('progress', { max: 100, value: j.state === 'succeeded' ? 100 : pct ?? undefined, 'aria-label': label }),
      el('p', {}, detail), buttons);
  }));
}

async function loadJobs() {
  const r = await api('/api/jobs');
  for (const j of r.jobs) state.jobs.set(j.id, { ...state.jobs.get(j.id), ...j });
  renderJobs();
}

// Running
function renderRunners() {
  $('#running-table tbody').replaceChildren(...state.runners.map((r) => el('tr', {},
    el('td', {}, r.model, r.loading ? el('span', { className: 'sub' }, 'loading') : null),
    el('td', {}, bytes(r.memory)),
    el('td', {}, String(r.slots)),
    el('td', {}, `${r.in_flight} in flight`),
    el('td', {}, r.expires_at ? `in ${duration((Date.parse(r.expires_at) - Date.now()) / 1000)}` : 'when idle'),
    el('td', {}, el('button', { type: 'button', 'aria-label': `Unload ${r.model}`,
      onclick: guard(async () => {
        await api('/api/generate', { method: 'POST', body: { model: r.model, keep_alive: 0 } });
        announce(`${r.model} unloaded`);
      }) }, 'Unload')))));
}

// Resources
function renderResources() {
  const s = state.resources;
  if (!s) return;
  const facts = [['CPU busy', s.cpu_busy !== undefined ? `${Math.round(s.cpu_busy * 100)}%` : 'measuring'],
    ['Memory', s.memory ? `${bytes(s.memory.total - s.memory.available)} used of ${bytes(s.memory.total)}` : ''],
    ['Disk (store)', s.disk ? `${bytes(s.disk.free)} free of ${bytes(s.disk.total)}` : 'unknown'],
    ['GPUs', s.gpus?.length ? s.gpus.map((g) => `${g.name}: ${bytes(g.vram_total - (g.vram_free ?? 0))} used of `
      + `${bytes(g.vram_total)}${g.temperature_c !== undefined ? `, ${g.temperature_c} °C` : ''}`).join('; ') : 'none'],
    ['Loaded models', String(s.runners?.length ?? 0)]];
  $('#resources-list').replaceChildren(...facts.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
}

// A small line chart of `values` (SVG, no library), described for screen
// readers by its figures.
function chart(values, unit) {
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('class', 'chart');
  svg.setAttribute('viewBox', '0 0 300 100');
  svg.setAttribute('preserveAspectRatio', 'none');
  svg.setAttribute('role', 'img');
  if (!values.length) {
    svg.setAttribute('aria-label', 'No requests recorded yet');
    return svg;
  }
  const max = Math.max(...values) || 1;
  const sorted = [...values].sort((a, b) => a - b);
  svg.setAttribute('aria-label', `${values.length} requests: lowest ${sorted[0].toFixed(1)} ${unit}, `
    + `median ${sorted[Math.floor(sorted.length / 2)].toFixed(1)}, highest ${max.toFixed(1)}, latest ${values.at(-1).toFixed(1)}`);
  const x = (i) => (values.length === 1 ? 150 : 10 + (280 * i) / (values.length - 1));
  const y = (v) => 90 - (75 * v) / max;
  const ns = 'http://www.w3.org/2000/svg';
  const line = document.createElementNS(ns, 'polyline');
  line.setAttribute('class', 'line');
  line.setAttribute('points', values.map((v, i) => `${x(i)},${y(v)}`).join(' '));
  svg.append(line);
  values.forEach((v, i) => {
    const dot = document.createElementNS(ns, 'circle');
    dot.setAttribute('class', 'dot');
    dot.setAttribute('cx', x(i)); dot.setAttribute('cy', y(v)); dot.setAttribute('r', 2.5);
    svg.append(dot);
  });
  const label = document.createElementNS(ns, 'text');
  label.setAttribute('x', 6); label.setAttribute('y', 12);
  label.textContent = `${max.toFixed(1)} ${unit}`;
  svg.append(label);
  return svg;
}

async function loadCharts() {
  const model = $('#chart-model').value;
  if (!model) return;
  const r = await api(`/api/model/requests?model=${encodeURIComponent(model)}&limit=50`);
  const ok = r.requests.filter((q) => q.outcome === 'success');
  $('#chart-speed').replaceChildren(chart(ok.filter((q) => q.tokens_per_second).map((q) => q.tokens_per_second), 'tokens/s'));
  $('#chart-ttft').replaceChildren(chart(ok.filter((q) => q.ttft_ms).map((q) => q.ttft_ms), 'ms'));
}

async function loadComparison() {
  const a = $('#compare-a').value, b = $('#compare-b').value;
  if (!a || !b) return;
  const figures = async (id) => {
    // A model never used has no statistics yet (404): zeros.
    const none = { usage_count: 0, success_rate: 0, avg_inference_time: 0 };
    const [s, r] = await Promise.all([
      api(`/api/model/statistics?model=${encodeURIComponent(id)}`).catch(() => none),
      api(`/api/model/requests?model=${encodeURIComponent(id)}&limit=50`)]);
    const med = (xs) => (xs.length ? [...xs].sort((p, q) => p - q)[Math.floor(xs.length / 2)] : null);
    const ok = r.requests.filter((q) => q.outcome === 'success');
    return { s, tps: med(ok.map((q) => q.tokens_per_second).filter(Boolean)), ttft: med(ok.map((q) => q.ttft_ms).filter(Boolean)) };
  };
  const [fa, fb] = await Promise.all([figures(a), figures(b)]);
  $('#compare-a-name').textContent = a;
  $('#compare-b-name').textContent = b;
  const rows = [['Requests', (f) => String(f.s.usage_count)],
    ['Success rate', (f) => (f.s.usage_count ? `${Math.round(f.s.success_rate * 100)}%` : '—')],
    ['Average time', (f) => (f.s.usage_count ? `${f.s.avg_inference_time.toFixed(2)} s` : '—')],
    ['Median tokens/s', (f) => (f.tps ? f.tps.toFixed(1) : '—')],
    ['Median time to first token', (f) => (f.ttft ? `${Math.round(f.ttft)} ms` : '—')]];
  $('#compare-table tbody').replaceChildren(...rows.map(([name, get]) =>
    el('tr', {}, el('th', { scope: 'row' }, name), el('td', {}, get(fa)), el('td', {}, get(fb)))));
}

async function loadStatistics() {
  const installed = state.models.filter((m) => m.installed);
  for (const [id, pick] of [['#chart-model', 0], ['#compare-a', 0], ['#compare-b', 1]]) {
    const select = $(id);
    const chosen = select.value;
    select.replaceChildren(...installed.map((m, i) => el('option', { value: m.id,
      selected: chosen ? m.id === chosen : i === Math.min(pick, installed.length - 1) }, m.id)));
  }
  guard(loadCharts)();
  guard(loadComparison)();
  const rows = await Promise.all(installed.map((m) =>
    api(`/api/model/statistics?model=${encodeURIComponent(m.id)}`).catch(() => null)));
  $('#stats-table tbody').replaceChildren(...rows.filter(Boolean).map((s) => el('tr', {},
    el('td', {}, s.model), el('td', {}, String(s.usage_count)),
    el('td', {}, `${Math.round(s.success_rate * 100)}%`),
    el('td', {}, s.usage_count ? `${s.avg_inference_time.toFixed(2)} s` : ''),
    el('td', {}, s.last_used ? new Date(s.last_used).toLocaleString() : 'never'))));
}

// Settings
async function loadSettings() {
  const [limits, profiles] = await Promise.all([api('/api/limits'), api('/api/profiles')]);
  const names = { max_ram_usage: 'Memory for models', gpu_memory_usage: 'Video memory for models', os_reserve: 'Kept for the system' };
  $('#limits-list').replaceChildren(...Object.entries(limits).flatMap(([k, v]) =>
    [el('dt', {}, names[k] ?? k), el('dd', {}, v?.text ?? JSON.stringify(v))]));
  $('#profiles-table tbody').replaceChildren(...profiles.profiles.map((p) => el('tr', {},
    el('th', { scope: 'row' }, p.name), el('td', {}, String(p.temperature ?? '')), el('td', {}, String(p.top_p ?? '')),
    el('td', {}, String(p.max_tokens ?? '')), el('td', {}, p.use_case ?? p.description ?? ''))));
}

async function downloadState() {
  const state = await api('/api/export');
  const link = el('a', { href: URL.createObjectURL(new Blob([JSON.stringify(state, null, 2)], { type: 'application/json' })),
    download: 'hangar-state.json' });
  document.body.append(link);
  link.click();
  link.remove();
  announce('The state was downloaded as hangar-state.json');
}

// Chat
function renderChatModels() {
  const select = $('#chat-form').model;
  const chosen = select.value || state.current;
  const installed = state.models.filter((m) => m.installed);
  select.replaceChildren(...installed.map((m) => el('option', { value: m.id, selected: m.id === chosen }, m.id)));
}

let chatAbort = null;
async function sendChat(event) {
  event.preventDefault();
  const form = event.target;
  const message = form.message.value.trim();
  if (!message) return;
  const log = $('#chat-log');
  log.append(el('li', { className: 'user' }, message));
  const answer = el('li', { className: 'assistant', 'aria-busy': 'true' }, '');
  log.append(answer);
  form.message.value = '';
  chatAbort = new AbortController();
  $('#chat-stop').disabled = false;
  const started = performance.now();
  let first = 0, tokens = 0;
  try {
    const res = await fetch('/v1/chat/completions', {
      method: 'POST',
      headers: headers({ 'Content-Type': 'application/json' }),
      signal: chatAbort.signal,
      body: JSON.stringify({ model: form.model.value, stream: true, stream_options: { include_usage: true },
        temperature: Number(form.temperature.value), max_tokens: Number(form.max_tokens.value),
        messages: [{ role: 'user', content: message }] }),
    });
    if (!res.ok) {
      const data = await res.json().catch(() => ({}));
      throw new Error(data?.error?.message ?? res.statusText);
    }
    for await (const data of sse(res)) {
      if (data === '[DONE]') break;
      const chunk = JSON.parse(data);
      if (chunk.error) throw new Error(chunk.error.message ?? String(chunk.error));
      const piece = chunk.choices?.[0]?.delta?.content;
      if (piece) { if (!first) first = performance.now(); answer.append(piece); }
      if (chunk.usage) tokens = chunk.usage.completion_tokens;
    }
    const seconds = (performance.now() - (first || started)) / 1000;
    $('#chat-stats').textContent = `${tokens} tokens, first after ${Math.round(first - started)} ms, `
      + `${seconds > 0 ? (tokens / seconds).toFixed(1) : '—'} tokens/s`;
  } catch (e) {
    if (e.name !== 'AbortError') notify(e);
  } finally {
    answer.removeAttribute('aria-busy');
    $('#chat-stop').disabled = true;
    chatAbort = null;
  }
}

// Server-Sent Events read from a fetch answer (EventSource cannot send the key).
async function* sse(res, typed = false) {
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let type = 'message';
      const data = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) type = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
      }
      if (data.length) yield typed ? { type, data: data.join('\n') } : data.join('\n');
    }
  }
}

// The one event stream: jobs, runners, resources. Reconnects when it drops.
async function followEvents() {
  for (;;) {
    try {
      const res = await fetch('/api/events', { headers: headers() });
      if (res.status === 401) { await askForKey(); continue; }
      if (!res.ok) throw new Error(`the event stream answered ${res.status}`);
      await loadJobs();
      for await (const { type, data } of sse(res, true)) {
        const event = JSON.parse(data);
        if (type === 'job') {
          const before = state.jobs.get(event.id) ?? {};
          const moved = event.completed !== undefined && event.completed !== before.completed;
          state.jobs.set(event.id, { ...before, ...event, lastProgressAt: moved ? Date.now() : before.lastProgressAt ?? Date.now() });
          if (event.state !== 'running' && before.state === 'running') {
            announce(`${event.title}: ${event.state}`);
            if (event.state === 'succeeded') guard(loadModels)();
          }
          renderJobs();
        } else if (type === 'runner') {
          announce(`${event.model}: ${event.what}`);
        } else if (type === 'resources') {
          state.resources = event;
          state.runners = event.runners ?? [];
          renderResources();
          renderRunners();
          renderJobs();  // a download without progress for a while shows as stalled
        }
      }
    } catch (e) {
      console.warn('events:', e.message);
    }
    await new Promise((r) => setTimeout(r, 2000));
  }
}

// ---------------------------------------------------------------- theme
function applyTheme(theme) {
  if (theme === 'auto') delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = theme;
  const button = $('#theme');
  button.textContent = `Theme: ${theme}`;
  button.setAttribute('aria-label', `Colour theme: ${theme === 'auto' ? 'automatic' : theme}`);
}

// ---------------------------------------------------------------- start
function start() {
  const theme = localStorage.getItem('hangar-theme') ?? 'auto';
  applyTheme(theme);
  $('#theme').addEventListener('click', () => {
    const order = ['auto', 'light', 'dark'];
    const next = order[(order.indexOf(localStorage.getItem('hangar-theme') ?? 'auto') + 1) % order.length];
    localStorage.setItem('hangar-theme', next);
    applyTheme(next);
  });
  window.addEventListener('hashchange', () => show(location.hash.slice(1)));
  show(location.hash.slice(1) || 'models');
  $('#filters').addEventListener('change', guard(loadModels));
  $('#filters').addEventListener('submit', (e) => { e.preventDefault(); guard(loadModels)(); });
  $('#pull').addEventListener('submit', guard(async (e) => {
    e.preventDefault();
    await startDownload(e.target.model.value.trim());
    e.target.reset();
  }));
  $('#chat-form').addEventListener('submit', sendChat);
  $('#chart-model').addEventListener('change', guard(loadCharts));
  $('#compare-a').addEventListener('change', guard(loadComparison));
  $('#compare-b').addEventListener('change', guard(loadComparison));
  $('#chat-stop').addEventListener('click', () => chatAbort?.abort());
  $('#export').addEventListener('click', guard(downloadState));
  guard(async () => { state.hardware = await api('/api/hardware'); await loadModels(); })();
  guard(loadRecommendation)();
  followEvents();
}

start();
