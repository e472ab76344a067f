// Load driver for bench/serve/run: the same requests against two OpenAI-
// compatible endpoints. Prints one JSON object.
//   node load.mjs concurrent URL MODEL CLIENTS TOKENS [KEY]
//        -> {tokens, seconds, tokens_per_second}
//   node load.mjs ttft URL MODEL RUNS [KEY]
//        -> {ms: [...], median}
//   node load.mjs first URL MODEL [KEY]
//        -> {ms}   (one request with one generated token)
//   node load.mjs spawnfirst URL MODEL KEY BINARY ARGS...
//        -> {ms}   (llama-server started by hand: spawn, poll /health, the same request)
import { spawn } from 'node:child_process';
import net from 'node:net';

const [mode, url, model, a, b, key] = process.argv.slice(2);
const headers = { 'Content-Type': 'application/json' };

async function chat(body, auth, onFirst) {
  const h = { ...headers };
  if (auth) h.Authorization = `Bearer ${auth}`;
  const res = await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: h, body: JSON.stringify({ model, ...body }) });
  if (!res.ok) throw new Error(`${res.status} ${await res.text()}`);
  if (!body.stream) return res.json();
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let tokens = 0;
  let first = true;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      if (!event.startsWith('data: ')) continue;
      const data = event.slice(6);
      if (data === '[DONE]') continue;
      const chunk = JSON.parse(data);
      if (chunk.choices?.length && chunk.choices[0].delta?.content !== undefined) {
        if (first && chunk.choices[0].delta.content !== '') { first = false; onFirst?.(); }
      }
      if (chunk.usage) tokens = chunk.usage.completion_tokens;
    }
  }
  return tokens;
}

const messages = (i) => [{ role: 'user', content: `Question number ${i}: write a long story.` }];
const median = (xs) => { const s = [...xs].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]; };

if (mode === 'concurrent') {
  const clients = Number(a), n = Number(b);
  const t0 = performance.now();
  const counts = await Promise.all(Array.from({ length: clients }, (_, i) =>
    chat({ messages: messages(i), max_tokens: n, ignore_eos: true, temperature: 0, stream: true,
           stream_options: { include_usage: true } }, key)));
  const seconds = (performance.now() - t0) / 1000;
  const tokens = counts.reduce((s, x) => s + x, 0);
  console.log(JSON.stringify({ tokens, seconds, tokens_per_second: tokens / seconds }));
} else if (mode === 'ttft') {
  const runs = Number(a);
  const ms = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    let t1 = 0;
    await chat({ messages: [{ role: 'user', content: 'Hi' }], max_tokens: 2, temperature: 0, stream: true }, b,
               () => { t1 = performance.now(); });
    ms.push(t1 - t0);
  }
  console.log(JSON.stringify({ ms, median: median(ms) }));
} else if (mode === 'first') {
  const t0 = performance.now();
  await chat({ messages: [{ role: 'user', content: 'Hi' }], max_tokens: 1, temperature: 0 }, a);
  console.log(JSON.stringify({ ms: performance.now() - t0 }));
} else if (mode === 'spawnfirst') {
  const [binary, ...args] = process.argv.slice(6);
  const t0 = performance.now();
  const child = spawn(binary, args, { stdio: 'ignore' });
  const { hostname, port } = new URL(url);
  // A refused connection costs microseconds: check the port first, then
  // ask /health once it listens.
  const listening = () => new Promise((resolve) => {
    const s = net.connect(Number(port), hostname, () => { s.destroy(); resolve(true); });
    s.on('error', () => resolve(false));
  });
  for (;;) {
    if (await listening()) {
      try {
        const r = await fetch(`${url}/health`);
        if (r.status === 200) break;
      } catch { /* closed again */ }
    }
    await new Promise((r) => setTimeout(r, 2));
  }
  await chat({ messages: [{ role: 'user', content: 'Hi' }], max_tokens: 1, temperature: 0 }, a);
  const ms = performance.now() - t0;
  child.kill('SIGKILL');
  console.log(JSON.stringify({ ms }));
}
