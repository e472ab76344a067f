// A stand-in for the Hugging Face hub, enough for `hangar pull` to fill the
// mirror's store (tests/mirror/run): one repository at one commit, its
// listing and its files by /resolve/ (HEAD, GET, one Range). Prints its port.
//   node hub.mjs DIR REPO COMMIT   (DIR: the repository's files; *.gguf are LFS)
import { createServer } from 'node:http';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const [dir, repo, commit] = process.argv.slice(2);
const files = readdirSync(dir).sort().map((name) => {
  const bytes = readFileSync(join(dir, name));
  const lfs = name.endsWith('.gguf');
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const gitOid = createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
  return { name, bytes, lfs, sha256, gitOid };
});

const server = createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  if (url.pathname === `/api/models/${repo}/tree/main`) {
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify(files.map((f) => ({
      type: 'file', oid: f.gitOid, size: f.bytes.length, path: f.name,
      ...(f.lfs && { lfs: { oid: f.sha256, size: f.bytes.length, pointerSize: 134 } }),
    }))));
    return;
  }
  const prefix = `/${repo}/resolve/main/`;
  const file = url.pathname.startsWith(prefix) && files.find((f) => f.name === url.pathname.slice(prefix.length));
  if (!file) {
    res.writeHead(404, { 'X-Error-Code': 'EntryNotFound', 'Content-Type': 'application/json' });
    res.end('{"error":"Entry not found"}');
    return;
  }
  res.setHeader('X-Repo-Commit', commit);
  res.setHeader('Accept-Ranges', 'bytes');
  res.setHeader('ETag', `"${file.lfs ? file.sha256 : file.gitOid}"`);
  if (file.lfs) {
    res.setHeader('X-Linked-Etag', `"${file.sha256}"`);
    res.setHeader('X-Linked-Size', String(file.bytes.length));
  }
  let body = file.bytes;
  const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
  if (range) {
    const first = Number(range[1]);
    const last = range[2] ? Math.min(Number(range[2]), body.length - 1) : body.length - 1;
    res.statusCode = 206;
    res.setHeader('Content-Range', `bytes ${first}-${last}/${body.length}`);
    body = body.subarray(first, last + 1);
  }
  res.setHeader('Content-Length', String(body.length));
  res.end(req.method === 'HEAD' ? undefined : body);
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
