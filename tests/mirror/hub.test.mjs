// The official @huggingface/hub client against `hangar serve --mirror`
// (started by ./run over a store holding MIRROR_REPO): it lists and
// downloads the files through the mirror's hub routes; every file must be
// byte-identical to the original, and an LFS file's SHA-256 its ETag.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { lstatSync, mkdtempSync, readFileSync, readlinkSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import {
  downloadFile, downloadFileToCacheDir, fileDownloadInfo, listFiles, modelInfo, pathsInfo,
} from '@huggingface/hub';

const hubUrl = process.env.MIRROR_URL;
const repo = process.env.MIRROR_REPO;
const commit = process.env.MIRROR_COMMIT;
const originals = process.env.MIRROR_FILES;  // the files as first published
const names = ['README.md', 'tiny-Q8_0.gguf'];

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');
const unquote = (etag) => etag.replace(/^W\//, '').replace(/"/g, '');

test('listFiles: the files the mirror holds, with their LFS ids', async () => {
  const listed = [];
  for await (const f of listFiles({ repo, hubUrl, recursive: true })) listed.push(f);
  assert.deepEqual(listed.map((f) => f.path), names);
  const gguf = listed.find((f) => f.path === 'tiny-Q8_0.gguf');
  assert.equal(gguf.lfs.oid, sha256(readFileSync(join(originals, 'tiny-Q8_0.gguf'))));
  assert.equal(gguf.type, 'file');
});

test('modelInfo: the commit and the files', async () => {
  const info = await modelInfo({ name: repo, hubUrl, additionalFields: ['sha', 'filePaths'] });
  assert.equal(info.sha, commit);
  assert.equal(info.name, repo);
  assert.deepEqual(info.filePaths, names);
});

for (const name of names) {
  test(`downloadFile ${name}: byte-identical, its ETag its digest`, async () => {
    const original = readFileSync(join(originals, name));
    const info = await fileDownloadInfo({ repo, path: name, hubUrl });
    assert.equal(info.size, original.length);
    const blob = await downloadFile({ repo, path: name, hubUrl });
    const bytes = Buffer.from(await blob.arrayBuffer());
    assert.ok(bytes.equals(original), `${name} differs`);
    if (name.endsWith('.gguf')) {
      assert.equal(unquote(info.etag), sha256(bytes));
    } else {
      const gitOid = createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
      assert.equal(unquote(info.etag), gitOid);
    }
    // The same at the commit.
    const pinned = await downloadFile({ repo, path: name, hubUrl, revision: commit });
    assert.ok(Buffer.from(await pinned.arrayBuffer()).equals(original));
  });
}

test('a file the mirror does not hold: null, as on the hub (EntryNotFound)', async () => {
  assert.equal(await downloadFile({ repo, path: 'tiny-Q4_K_M.gguf', hubUrl }), null);
});

test('pathsInfo: the entries of the files asked for; a path not held is left out', async () => {
  const info = await pathsInfo({ repo, hubUrl, paths: ['tiny-Q8_0.gguf', 'missing.bin', 'README.md'] });
  assert.deepEqual(info.map((f) => f.path), ['tiny-Q8_0.gguf', 'README.md']);
  const gguf = readFileSync(join(originals, 'tiny-Q8_0.gguf'));
  assert.equal(info[0].type, 'file');
  assert.equal(info[0].size, gguf.length);
  assert.equal(info[0].lfs.oid, sha256(gguf));
  assert.equal(info[1].lfs, undefined);
});

test('downloadFileToCacheDir: the blob in a hub cache layout, byte-identical', async () => {
  const cacheDir = mkdtempSync(join(process.env.HOME, 'hub-cache-'));
  const gguf = readFileSync(join(originals, 'tiny-Q8_0.gguf'));
  for (const revision of [undefined, commit]) {
    const pointer = await downloadFileToCacheDir({ repo, path: 'tiny-Q8_0.gguf', hubUrl, cacheDir, revision });
    assert.ok(readFileSync(pointer).equals(gguf));
    assert.ok(lstatSync(pointer).isSymbolicLink());
    const blob = resolve(dirname(pointer), readlinkSync(pointer));
    assert.equal(blob, join(cacheDir, `models--${repo.replace('/', '--')}`, 'blobs', sha256(gguf)));
  }
  const readme = readFileSync(join(originals, 'README.md'));
  const pointer = await downloadFileToCacheDir({ repo, path: 'README.md', hubUrl, cacheDir, revision: commit });
  assert.ok(readFileSync(pointer).equals(readme));
  assert.equal(pointer, join(cacheDir, `models--${repo.replace('/', '--')}`, 'snapshots', commit, 'README.md'));
});
