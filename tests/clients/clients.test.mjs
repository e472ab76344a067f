// The official `ollama` and `openai` npm clients against `hangar serve`
// (started by ./run with generated models). Every call goes through the
// client's own request building, parsing and typed errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ollama } from 'ollama';
import OpenAI from 'openai';

const url = process.env.HANGAR_URL;
const model = process.env.HANGAR_MODEL;      // a generated chat model
const pullRef = process.env.HANGAR_PULL_REF;  // a GGUF on a local HTTP server
// A generated model (Gemma 4's vocabulary and chat template) whose weights
// start a tool call after its prompt and, with the grammar llama.cpp builds
// for the tools, call get_weather with {days: 3}.
const toolModel = process.env.HANGAR_TOOL_MODEL;
// Another, same template, that thinks "clouds" and answers "Rain".
const thinkModel = process.env.HANGAR_THINK_MODEL;
const ollama = new Ollama({ host: url });
const openai = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0 });

const answerSchema = {
  type: 'object',
  properties: { answer: { type: 'string', enum: ['yes', 'no'] }, sure: { type: 'boolean' } },
  required: ['answer', 'sure'],
};

test('ollama: list, show, ps', async () => {
  const list = await ollama.list();
  assert.ok(list.models.some((m) => m.name === model), JSON.stringify(list));
  const entry = list.models.find((m) => m.name === model);
  assert.equal(entry.details.format, 'gguf');
  const show = await ollama.show({ model });
  assert.ok(show.capabilities.includes('completion'));
  assert.ok(show.model_info['general.architecture']);
  await ollama.generate({ model, prompt: '' });  // loads it
  const ps = await ollama.ps();
  assert.ok(ps.models.some((m) => m.name === model), JSON.stringify(ps));
});

test('ollama: generate, whole and streamed', async () => {
  const whole = await ollama.generate({ model, prompt: 'Hello', options: { num_predict: 8, temperature: 0 } });
  assert.equal(whole.done, true);
  assert.equal(whole.done_reason, 'length');
  assert.equal(whole.eval_count, 8);
  assert.ok(whole.response.length > 0);
  assert.ok(whole.total_duration > whole.eval_duration);
  let parts = 0;
  let last;
  for await (const part of await ollama.generate({ model, prompt: 'Hello', stream: true,
                                                    options: { num_predict: 8, temperature: 0 } })) {
    parts += 1;
    last = part;
  }
  assert.ok(parts >= 2);
  assert.equal(last.done, true);
  assert.equal(last.eval_count, 8);
});

test('ollama: chat, whole and streamed; the same tokens at temperature 0', async () => {
  const messages = [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Why is the sky blue?' }];
  const whole = await ollama.chat({ model, messages, options: { num_predict: 12, temperature: 0 } });
  assert.equal(whole.message.role, 'assistant');
  assert.equal(whole.done, true);
  let text = '';
  for await (const part of await ollama.chat({ model, messages, stream: true,
                                                options: { num_predict: 12, temperature: 0 } })) {
    text += part.message.content;
  }
  assert.equal(text, whole.message.content);
});

test('ollama: JSON-schema output parses', async () => {
  const res = await ollama.chat({ model, messages: [{ role: 'user', content: 'Is it?' }],
                                  format: answerSchema, options: { num_predict: 200, temperature: 0 } });
  const value = JSON.parse(res.message.content);
  assert.ok(['yes', 'no'].includes(value.answer));
  assert.equal(typeof value.sure, 'boolean');
});

const weatherTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'The weather forecast for the next days',
    parameters: { type: 'object', properties: { days: { type: 'integer' } }, required: ['days'] },
  },
};

test('ollama: tool calls, whole and streamed, and the answer to one', async () => {
  const messages = [{ role: 'user', content: 'What will the weather be?' }];
  const whole = await ollama.chat({ model: toolModel, messages, tools: [weatherTool],
                                    options: { num_predict: 40, temperature: 0 } });
  assert.equal(whole.done_reason, 'stop');
  assert.equal(whole.message.tool_calls.length, 1, JSON.stringify(whole.message));
  assert.equal(whole.message.tool_calls[0].function.name, 'get_weather');
  assert.deepEqual(whole.message.tool_calls[0].function.arguments, { days: 3 });
  const streamed = [];
  for await (const part of await ollama.chat({ model: toolModel, messages, tools: [weatherTool], stream: true,
                                                options: { num_predict: 40, temperature: 0 } })) {
    streamed.push(...(part.message.tool_calls ?? []));
  }
  assert.deepEqual(streamed.map((c) => c.function), whole.message.tool_calls.map((c) => c.function));
  // The tool's answer goes back in a "tool" message; the model is called again.
  const next = await ollama.chat({
    model: toolModel, tools: [weatherTool], options: { num_predict: 40, temperature: 0 },
    messages: [...messages, whole.message, { role: 'tool', tool_name: 'get_weather', content: 'sunny' }],
  });
  assert.equal(next.done, true);
});

test('ollama: think on and off, in chat and generate', async () => {
  const messages = [{ role: 'user', content: 'Will it rain?' }];
  const options = { num_predict: 20, temperature: 0 };
  const on = await ollama.chat({ model: thinkModel, messages, think: true, options });
  assert.equal(on.message.thinking.trim(), 'clouds', JSON.stringify(on.message));
  assert.equal(on.message.content, 'Rain');
  let thinking = '', content = '';
  for await (const part of await ollama.chat({ model: thinkModel, messages, think: true, options, stream: true })) {
    thinking += part.message.thinking ?? '';
    content += part.message.content;
  }
  assert.equal(thinking, on.message.thinking);
  assert.equal(content, 'Rain');
  const off = await ollama.chat({ model: thinkModel, messages, think: false, options });
  assert.equal(off.message.thinking ?? '', '', JSON.stringify(off.message));
  assert.equal(off.message.content, 'Rain');
  const gen = await ollama.generate({ model: thinkModel, prompt: 'Will it rain?', think: true, options });
  assert.equal(gen.thinking.trim(), 'clouds', JSON.stringify(gen));
  assert.equal(gen.response, 'Rain');
});

test('ollama: embeddings', async () => {
  const res = await ollama.embed({ model, input: ['first text', 'second text'] });
  assert.equal(res.embeddings.length, 2);
  assert.ok(res.embeddings[0].length > 0);
  const norm = Math.sqrt(res.embeddings[0].reduce((s, x) => s + x * x, 0));
  assert.ok(Math.abs(norm - 1) < 1e-3, `norm ${norm}`);
  const legacy = await ollama.embeddings({ model, prompt: 'first text' });
  assert.equal(legacy.embedding.length, res.embeddings[0].length);
  // Fewer dimensions: the first ones, normalised again.
  const short = await ollama.embed({ model, input: 'first text', dimensions: 16 });
  assert.equal(short.embeddings[0].length, 16);
  const scale = Math.sqrt(res.embeddings[0].slice(0, 16).reduce((s, x) => s + x * x, 0));
  short.embeddings[0].forEach((x, i) => assert.ok(Math.abs(x - res.embeddings[0][i] / scale) < 1e-4));
  await assert.rejects(ollama.embed({ model, input: 'x', dimensions: 1 << 20 }),
                       (e) => e.name === 'ResponseError' && e.status_code === 400);
  // An input longer than the context: cut by default, refused with truncate: false.
  const long = 'many words '.repeat(4000);
  const cut = await ollama.embed({ model, input: [long, 'first text'] });
  assert.equal(cut.embeddings.length, 2);
  assert.deepEqual(cut.embeddings[1].map((x) => x.toFixed(4)), res.embeddings[0].map((x) => x.toFixed(4)));
  await assert.rejects(ollama.embed({ model, input: long, truncate: false }),
                       (e) => e.name === 'ResponseError' && e.status_code === 400 && /exceeds/.test(e.error));
});

test('ollama: pull with progress, then delete', async () => {
  const statuses = [];
  let sawBytes = false;
  for await (const part of await ollama.pull({ model: pullRef, stream: true })) {
    statuses.push(part.status);
    if (part.total > 0 && part.completed >= 0) sawBytes = true;
  }
  assert.equal(statuses.at(-1), 'success', statuses.join(' | '));
  assert.ok(sawBytes, statuses.join(' | '));
  const before = new Set([model, toolModel, thinkModel]);
  const pulled = (await ollama.list()).models.find((m) => !before.has(m.name));
  assert.ok(pulled, 'the pulled model is listed');
  await ollama.delete({ model: pulled.name });
  assert.ok(!(await ollama.list()).models.some((m) => m.name === pulled.name));
});

test('ollama: copy and delete a name', async () => {
  await ollama.copy({ source: model, destination: 'chat-copy' });
  assert.ok((await ollama.list()).models.some((m) => m.name === 'chat-copy'));
  assert.equal((await openai.models.retrieve('chat-copy')).id, 'chat-copy');
  const res = await ollama.generate({ model: 'chat-copy', prompt: 'Hi', options: { num_predict: 2 } });
  assert.equal(res.done, true);
  await ollama.delete({ model: 'chat-copy' });
  const names = (await ollama.list()).models.map((m) => m.name);
  assert.ok(!names.includes('chat-copy') && names.includes(model), names.join(', '));
});

test('ollama: typed errors for an unknown model', async () => {
  await assert.rejects(ollama.chat({ model: 'no-such-model', messages: [{ role: 'user', content: 'hi' }] }),
                       (e) => e.name === 'ResponseError' && e.status_code === 404 && /no-such-model/.test(e.error));
  await assert.rejects(ollama.show({ model: 'no-such-model' }), (e) => e.status_code === 404);
});

test('openai: models', async () => {
  const list = await openai.models.list();
  assert.ok(list.data.some((m) => m.id === model));
  const one = await openai.models.retrieve(model);
  assert.equal(one.id, model);
});

test('openai: chat completions, whole and streamed with usage', async () => {
  const messages = [{ role: 'user', content: 'Say something.' }];
  const whole = await openai.chat.completions.create({ model, messages, max_tokens: 8, temperature: 0 });
  assert.equal(whole.choices[0].message.role, 'assistant');
  assert.equal(whole.choices[0].finish_reason, 'length');
  assert.equal(whole.usage.completion_tokens, 8);
  const stream = await openai.chat.completions.create({ model, messages, max_tokens: 8, temperature: 0,
                                                         stream: true, stream_options: { include_usage: true } });
  let text = '';
  let usage;
  for await (const chunk of stream) {
    if (chunk.choices.length > 0) text += chunk.choices[0].delta.content ?? '';
    if (chunk.usage) usage = chunk.usage;
  }
  assert.equal(text, whole.choices[0].message.content);
  assert.equal(usage.completion_tokens, 8);
});

test('openai: json_schema output parses', async () => {
  const structured = await openai.chat.completions.create({
    model, messages: [{ role: 'user', content: 'Is it?' }], max_tokens: 200, temperature: 0,
    response_format: { type: 'json_schema', json_schema: { name: 'answer', schema: answerSchema } },
  });
  const value = JSON.parse(structured.choices[0].message.content);
  assert.ok(['yes', 'no'].includes(value.answer));
  assert.equal(typeof value.sure, 'boolean');
});

test('openai: tool calls, whole and streamed', async () => {
  const messages = [{ role: 'user', content: 'What will the weather be?' }];
  for (const tool_choice of ['auto', 'required']) {
    const whole = await openai.chat.completions.create({ model: toolModel, messages, tools: [weatherTool],
                                                         tool_choice, max_tokens: 40, temperature: 0 });
    assert.equal(whole.choices[0].finish_reason, 'tool_calls');
    const calls = whole.choices[0].message.tool_calls;
    assert.equal(calls.length, 1, JSON.stringify(whole.choices[0].message));
    assert.equal(calls[0].type, 'function');
    assert.equal(calls[0].function.name, 'get_weather');
    assert.deepEqual(JSON.parse(calls[0].function.arguments), { days: 3 });
    assert.ok(calls[0].id.length > 0);
  }
  const stream = await openai.chat.completions.create({ model: toolModel, messages, tools: [weatherTool],
                                                        max_tokens: 40, temperature: 0, stream: true });
  let name = '', args = '', finish;
  for await (const chunk of stream) {
    for (const call of chunk.choices[0]?.delta?.tool_calls ?? []) {
      name += call.function?.name ?? '';
      args += call.function?.arguments ?? '';
    }
    finish = chunk.choices[0]?.finish_reason ?? finish;
  }
  assert.equal(finish, 'tool_calls');
  assert.equal(name, 'get_weather');
  assert.deepEqual(JSON.parse(args), { days: 3 });
});

test('openai: completions and embeddings', async () => {
  const c = await openai.completions.create({ model, prompt: 'Once upon a time', max_tokens: 6, temperature: 0 });
  assert.equal(c.usage.completion_tokens, 6);
  assert.ok(c.choices[0].text.length > 0);
  const e = await openai.embeddings.create({ model, input: ['a', 'b', 'c'] });
  assert.equal(e.data.length, 3);
  assert.ok(e.data[0].embedding.length > 0);
});

test('openai: typed errors for an unknown model', async () => {
  await assert.rejects(openai.chat.completions.create({ model: 'no-such-model', messages: [{ role: 'user', content: 'hi' }] }),
                       (e) => e instanceof OpenAI.NotFoundError && e.status === 404);
  await assert.rejects(openai.models.retrieve('no-such-model'), (e) => e instanceof OpenAI.NotFoundError);
});
