// Hangar's web console: plain modules, no framework, nothing from a CDN. It
// reads the server's own API and one event stream (/api/events), so no page
// polls; errors become notices carrying the server's message.
const $ = (selector, root = document) => root.querySelector(selector);
const state = { models: [], jobs: new Map(), downloads: new Map(), runners: [], resources: null, current: null,
  hardware: null, profiles: [] };

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
  if (page === 'resources') { guard(loadStatistics)(); guard(loadHealth)(); }
  if (page === 'settings') guard(loadSettings)();
}

// Models
let modelsAsked = 0;  // answers to an older question are dropped
async function loadModels() {
  const asked = ++modelsAsked;
  const form = $('#filters');
  const q = new URLSearchParams();
  if (form.purpose.value) q.set('purpose', form.purpose.value);
  if (form.max_vram.value) q.set('max_vram', form.max_vram.value);
  if (form.installed_only.checked) q.set('installed_only', 'true');
  if (form.tag.value.trim()) q.set('tag', form.tag.value.trim());
  q.set('fit', 'true');
  const [list, current] = await Promise.all([api(`/api/model/list?${q}`), api('/api/model/current')]);
  if (asked !== modelsAsked) return;
  const tags = new Set(list.models.flatMap((m) => m.tags ?? []));
  if (!form.tag.value) $('#tags').replaceChildren(...[...tags].sort().map((t) => el('option', { value: t })));
  const maxSize = Number(form.max_size.value) * 1e9;
  const shown = list.models.filter((m) => (!maxSize || (m.store?.size_bytes ?? m.file_size_bytes ?? 0) <= maxSize)
    && (!form.fits_only.checked || (m.fit && m.fit.verdict !== 'too_large')));
  // Installed first, then the catalog's order.
  state.models = [...shown.filter((m) => m.installed), ...shown.filter((m) => !m.installed)];
  state.current = current.current_model;
  renderModels();
  renderChatModels();
  if (!$('#page-resources').hidden) await loadStatistics();
}

// This machine's verdict for a model: the fit planner's, from the server
// (4,096 tokens of context), with the numbers and the largest context.
function verdict(m) {
  const f = m.fit;
  if (!f) return { cls: 'status-warn', text: 'Unknown', detail: 'no facts to plan it from' };
  const largest = f.largest_ctx ? `; up to ${f.largest_ctx.toLocaleString('en')} tokens fit` : '';
  if (f.verdict === 'too_large') return { cls: 'status-bad', text: 'Too large', detail: f.reason };
  if (f.verdict === 'gpu') return { cls: 'status-ok', text: 'Fits in GPU', detail: `${bytes(f.vram)} video memory${largest}` };
  if (f.verdict === 'partial') {
    return { cls: 'status-warn', text: 'Partly in GPU', detail: `${bytes(f.vram)} video + ${bytes(f.ram)} memory${largest}` };
  }
  return { cls: 'status-ok', text: 'Fits (CPU only)', detail: `${bytes(f.ram)} memory${largest}` };
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
  const reopen = async () => { dialog.close(); await loadModels(); };
  const act = (label, fn) => el('button', { type: 'button', onclick: guard(fn) }, label);
  $('#details-actions').replaceChildren(...(m.installed ? [
    act(m.id === state.current ? 'The current model' : 'Make it the current model', async () => {
      await api('/api/model/switch', { method: 'POST', body: { model: m.id } });
      announce(`${m.id} is the current model`);
      await reopen();
    }),
    act('Share with Ollama', async () => {
      const r = await api('/api/model/share', { method: 'POST', body: { model: m.id, tool: 'ollama' } });
      announce(`Shared with Ollama as ${r.name}, no copy`);
      put('Shared', `with Ollama as ${r.name}`);
    }),
    act('Share with LM Studio', async () => {
      const r = await api('/api/model/share', { method: 'POST', body: { model: m.id, tool: 'lmstudio' } });
      announce(`Shared with LM Studio as ${r.name}, no copy`);
      put('Shared', `with LM Studio as ${r.name}`);
    }),
    act('Remove', async () => {
      if (!window.confirm(`Remove ${m.id} from this machine?`)) return;
      const r = await api('/api/model/delete', { method: 'POST', body: { model: m.id } });
      announce(`${m.id} removed, ${bytes(r.freed_bytes)} freed`);
      await reopen();
    })] : [act('Download', async () => { dialog.close(); await startDownload(m.id); })]));
  $('#details-actions').firstChild.disabled = m.id === state.current;
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
  if (m.installed) {
    const header = await api(`/api/model/inspect?model=${encodeURIComponent(m.id)}`).catch(() => null);
    if (header) {
      put('File header', [header.architecture, header.file_type?.tag, `${(header.parameters / 1e6).toFixed(1)} M parameters`,
        `${header.layout?.tensor_count} tensors`, header.tokenizer?.model ? `${header.tokenizer.model} tokenizer` : null]
        .filter(Boolean).join(', '));
    }
  }
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
  state.jobs.set(r.job, { id: r.job, kind: 'pull', title: r.model, state: 'running', status: 'starting' });
  state.downloads.set(r.download, { id: r.download, model: r.model, state: 'running', job: r.job });
  renderJobs();
  announce(`Downloading ${model}`);
}

// The downloads the server keeps (running, paused, failed; they survive a
// restart), each with the job that runs it now.
async function loadDownloads() {
  const r = await api('/api/downloads');
  state.downloads = new Map(r.downloads.map((d) => [d.id, d]));
  for (const d of r.downloads) if (d.progress) state.jobs.set(d.job, { ...state.jobs.get(d.job), ...d.progress });
  renderJobs();
}

async function downloadAction(download, what) {
  if (what === 'cancel') {
    await api(`/api/downloads/${encodeURIComponent(download.id)}`, { method: 'DELETE' });
    announce(`The download of ${download.model} was cancelled and its partial file removed`);
  } else {
    const d = await api(`/api/downloads/${encodeURIComponent(download.id)}`,
      { method: 'PATCH', body: { state: what === 'pause' ? 'paused' : 'running' } });
    announce(`${download.model}: ${what === 'pause' ? 'paused' : 'resumed'}`);
    if (d.job) state.jobs.set(d.job, { id: d.job, kind: 'pull', title: d.model, state: 'running', status: 'resuming' });
  }
  await loadDownloads();
}

// Downloads: the server's download list (paused and failed ones included)
// joined with their jobs' progress; finished jobs of this server after them.
function renderJobs() {
  const byJob = new Map([...state.downloads.values()].filter((d) => d.job).map((d) => [d.job, d]));
  const cards = [...state.downloads.values()].map((d) => ({ download: d, job: d.job ? state.jobs.get(d.job) : null }));
  for (const j of state.jobs.values()) {
    if (j.kind === 'pull' && !byJob.has(j.id) && j.state !== 'running') cards.push({ download: null, job: j });
  }
  $('#downloads-empty').hidden = cards.length > 0;
  // The list is drawn again on every event: keep the keyboard's place.
  const focused = document.activeElement?.closest('#downloads-list') ? document.activeElement.getAttribute('aria-label') : null;
  $('#downloads-list').replaceChildren(...cards.reverse().map(({ download: d, job: j }) => {
    const title = d?.model ?? j?.title ?? '';
    const st = d?.state === 'paused' ? 'paused' : d?.state === 'failed' ? 'failed' : j?.state ?? 'running';
    const stalled = st === 'running' && j?.lastProgressAt && Date.now() - j.lastProgressAt > 5000;
    const pct = j?.total ? Math.round((100 * j.completed) / j.total) : null;
    const words = st === 'succeeded' ? 'Verified and installed'
      : st === 'failed' ? `Failed: ${d?.error ?? j?.error ?? ''}`
      : st === 'paused' ? 'Paused (the partial file is kept)'
      : st === 'cancelled' ? 'Cancelled'
      : stalled ? 'Stalled: no bytes for 5 s'
      : j?.status ?? 'waiting';
    const detail = j?.total && st !== 'succeeded' ? [`${bytes(j.completed)} of ${bytes(j.total)} (${pct}%)`,
      st === 'running' && j.speed && !stalled ? `${bytes(j.speed)}/s` : null,
      st === 'running' && j.connections ? `${j.connections} connection${j.connections === 1 ? '' : 's'}` : null,
      st === 'running' && j.eta_seconds !== undefined && !stalled ? `${duration(j.eta_seconds)} left` : null]
      .filter(Boolean).join(' · ') : '';
    const cls = st === 'succeeded' ? 'status-ok' : st === 'running' && !stalled ? 'status-warn' : 'status-bad';
    const button = (label, what) => el('button', { type: 'button', 'aria-label': `${label} the download of ${title}`,
      onclick: guard(() => downloadAction(d, what)) }, label);
    const buttons = !d ? [] : st === 'running' ? [button('Pause', 'pause'), button('Cancel', 'cancel')]
      : [button('Resume', 'resume'), button('Cancel', 'cancel')];
    return el('li', { 'data-job': j?.id, 'data-download': d?.id },
      el('p', {}, el('strong', { 'data-model': title }, title), ' ', el('span', { className: cls, 'data-state': st }, words)),
      el('progress', { max: 100, value: st === 'succeeded' ? 100 : pct ?? (st === 'running' ? undefined : 0),
        'aria-label': `Download of ${title}` }),
      el('p', {}, detail), el('div', { className: 'row' }, buttons));
  }));
  if (focused) [...document.querySelectorAll('#downloads-list button')].find((b) => b.getAttribute('aria-label') === focused)?.focus();
}

async function loadJobs() {
  const r = await api('/api/jobs');
  for (const j of r.jobs) state.jobs.set(j.id, { ...state.jobs.get(j.id), ...j });
  await loadDownloads();
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

async function loadHealth() {
  const r = await api('/api/doctor');
  const cls = { ok: 'status-ok', warn: 'status-warn', fail: 'status-bad' };
  const word = { ok: 'OK', warn: 'Warning', fail: 'Problem' };
  $('#health-list').replaceChildren(...r.checks.map((c) => el('li', {},
    el('span', { className: cls[c.health] ?? 'status-warn' }, `${word[c.health] ?? c.health}: `),
    el('strong', {}, c.name), ` ${c.detail}`)));
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
const settingNames = {
  'limits.max_ram_usage': 'Memory for models', 'limits.gpu_memory_usage': 'Video memory for models',
  'limits.os_reserve': 'Kept for the system', 'runtime.gpu': 'Use the GPU', 'runtime.idle_ttl': 'Unload an idle model after',
  'downloads.connections': 'Connections per download', 'downloads.max_speed': 'Download speed cap (per second)',
  'updates.check': 'Check for model updates every',
};
async function loadSettings() {
  const [settings] = await Promise.all([api('/api/settings'), loadProfiles()]);
  $('#settings-fields').replaceChildren(...settings.settings.map((s) => {
    const id = `setting-${s.key.replace('.', '-')}`;
    const hint = el('span', { className: 'sub', id: `${id}-hint` }, `${s.description}; default ${s.default}`);
    const control = s.kind === 'choice'
      ? el('select', { id, name: s.key, 'aria-describedby': hint.id },
        ...['auto', 'off'].map((v) => el('option', { value: v, selected: v === s.value }, v === 'auto' ? 'When it helps (auto)' : 'Never (CPU only)')))
      : el('input', { id, name: s.key, value: String(s.value), 'aria-describedby': hint.id,
        ...(s.kind === 'integer' ? { type: 'number', min: 1, max: 64 } : { autocomplete: 'off', spellcheck: 'false' }) });
    return el('div', { className: 'field' }, el('label', { for: id }, settingNames[s.key] ?? s.key), control, hint);
  }));
}

async function saveSettings(event) {
  event.preventDefault();
  const form = event.target;
  const shown = await api('/api/settings');
  const changes = {};
  for (const s of shown.settings) {
    const field = form.elements[s.key];
    if (!field) continue;
    const value = s.kind === 'integer' ? Number(field.value) : field.value.trim();
    if (String(value) !== String(s.value)) changes[s.key] = value;
  }
  if (!Object.keys(changes).length) { announce('Nothing to save'); return; }
  await api('/api/settings', { method: 'PATCH', body: changes });
  announce(`Saved: ${Object.keys(changes).map((k) => settingNames[k] ?? k).join(', ')}`);
  await loadSettings();
  if (changes['runtime.gpu'] || Object.keys(changes).some((k) => k.startsWith('limits.'))) await loadModels();
}

async function loadProfiles() {
  const r = await api('/api/profiles');
  state.profiles = r.profiles;
  $('#profiles-table tbody').replaceChildren(...r.profiles.map((p) => el('tr', {},
    el('th', { scope: 'row' }, p.name, p.origin !== 'builtin' ? el('span', { className: 'sub' }, p.origin === 'override' ? 'yours, over the built-in' : 'yours') : null),
    el('td', {}, String(p.temperature)), el('td', {}, String(p.top_p)),
    el('td', {}, String(p.max_tokens)), el('td', {}, p.use_case || p.description || ''),
    el('td', {}, el('button', { type: 'button', 'aria-label': `Edit the profile ${p.name}`, onclick: () => editProfile(p) }, 'Edit'),
      p.origin !== 'builtin' ? el('button', { type: 'button', 'aria-label': `Delete the profile ${p.name}`,
        onclick: guard(async () => {
          await api(`/api/profiles/${encodeURIComponent(p.name)}`, { method: 'DELETE' });
          announce(`Profile ${p.name} deleted`);
          await loadProfiles();
        }) }, 'Delete') : null))));
  const inherits = $('#profile-form').inherits;
  const chosen = inherits.value;
  inherits.replaceChildren(el('option', { value: '' }, 'Nothing'),
    ...r.profiles.map((p) => el('option', { value: p.name, selected: p.name === chosen }, p.name)));
  renderChatProfiles();
}

let editing = null;  // the profile the form changes; null: a new one
function editProfile(p) {
  const form = $('#profile-form');
  editing = p;
  $('#profile-form-title').textContent = p ? `Profile ${p.name}` : 'New profile';
  form.name.value = p?.name ?? '';
  form.name.readOnly = Boolean(p);
  form.inherits.value = p?.inherits ?? '';
  for (const k of ['temperature', 'top_p', 'max_tokens', 'use_case']) form[k].value = p ? String(p[k] ?? '') : '';
  if (p) form.temperature.focus(); else form.name.focus();
}

async function saveProfile(event) {
  event.preventDefault();
  const form = event.target;
  const body = {};
  for (const k of ['temperature', 'top_p']) if (form[k].value !== '') body[k] = Number(form[k].value);
  if (form.max_tokens.value !== '') body.max_tokens = Math.round(Number(form.max_tokens.value));
  if (form.use_case.value.trim()) body.use_case = form.use_case.value.trim();
  if (form.inherits.value) body.inherits = form.inherits.value;
  const name = form.name.value.trim();
  const p = editing
    ? await api(`/api/profiles/${encodeURIComponent(editing.name)}`, { method: 'PATCH', body })
    : await api('/api/profiles', { method: 'POST', body: { name, ...body } });
  announce(`Profile ${p.name} saved`);
  editProfile(null);
  await loadProfiles();
}

async function restoreState(event) {
  const file = event.target.files?.[0];
  if (!file) return;
  let doc;
  try { doc = JSON.parse(await file.text()); } catch { throw new Error(`${file.name} is not JSON`); } finally { event.target.value = ''; }
  const r = await api('/api/import', { method: 'POST', body: doc });
  const words = [`${r.present.length} model(s) already here`, `${r.downloading.length} downloading`,
    `${r.skipped.length} skipped`, `${r.settings_changed} setting(s) and ${r.profiles.length} profile(s) restored`];
  $('#import-result').textContent = `Restored from ${file.name}: ${words.join(', ')}.`;
  for (const d of r.downloading) state.jobs.set(d.job, { id: d.job, kind: 'pull', title: d.model, state: 'running', status: 'starting' });
  await Promise.all([loadSettings(), loadDownloads()]);
}

// Updates: the server's own check ([updates] check), offered as a banner.
function renderUpdates(check) {
  const banner = $('#updates');
  banner.hidden = !check || check.outdated === 0;
  if (!banner.hidden) {
    const names = check.models.filter((m) => m.outdated).map((m) => m.name || m.id);
    $('#updates-text').textContent = `Newer revisions at their source: ${names.join(', ')}. `;
  }
}
async function loadUpdates() {
  try { renderUpdates(await api('/api/model/outdated?cached=true')); } catch { /* no check has run */ }
}
async function updateAll() {
  const r = await api('/api/model/update', { method: 'POST', body: { all: true } });
  for (const d of r.updating) state.jobs.set(d.job, { id: d.job, kind: 'pull', title: d.model, state: 'running', status: 'starting' });
  announce(`Updating ${r.updating.length} model(s)`);
  $('#updates').hidden = true;
  await loadDownloads();
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

function renderChatProfiles() {
  const select = $('#chat-form').profile;
  const chosen = select.value;
  select.replaceChildren(el('option', { value: '' }, 'Custom'),
    ...state.profiles.map((p) => el('option', { value: p.name, selected: p.name === chosen }, p.name)));
}
function useProfile() {
  const form = $('#chat-form');
  const p = state.profiles.find((x) => x.name === form.profile.value);
  if (!p) return;
  form.temperature.value = p.temperature;
  form.top_p.value = p.top_p;
  form.max_tokens.value = p.max_tokens;
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
        temperature: Number(form.temperature.value), top_p: Number(form.top_p.value),
        max_tokens: Number(form.max_tokens.value),
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
            if (event.kind === 'pull') guard(loadDownloads)();
          }
          renderJobs();
        } else if (type === 'updates') {
          renderUpdates(event);
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
  $('#import-file').addEventListener('change', guard(restoreState));
  $('#settings-form').addEventListener('submit', guard(saveSettings));
  $('#profile-form').addEventListener('submit', guard(saveProfile));
  $('#profile-new').addEventListener('click', () => editProfile(null));
  $('#update-all').addEventListener('click', guard(updateAll));
  $('#chat-form').profile.addEventListener('change', useProfile);
  guard(async () => { state.hardware = await api('/api/hardware'); await loadModels(); })();
  guard(loadRecommendation)();
  guard(loadProfiles)();
  guard(loadUpdates)();
  followEvents();
}

start();
