// A static file server with Range support on 127.0.0.1 (any free port):
// `node files.mjs DIR [BYTES_PER_SECOND]` prints the port, serves DIR until
// killed; files whose name starts with "slow" go at BYTES_PER_SECOND.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(process.argv[2]);
const rate = Number(process.argv[3] ?? 0);

// The file's bytes from start to end, throttled for the slow ones.
function send(file, res, start, end) {
  const stream = fs.createReadStream(file, { start, end, highWaterMark: rate > 0 ? Math.max(1024, Math.floor(rate / 10)) : 65536 });
  if (!(rate > 0) || !path.basename(file).startsWith('slow')) return stream.pipe(res);
  stream.on('data', (chunk) => {
    stream.pause();
    if (!res.write(chunk)) res.once('drain', () => setTimeout(() => stream.resume(), 100));
    else setTimeout(() => stream.resume(), 100);
  });
  stream.on('end', () => res.end());
  res.on('close', () => stream.destroy());
}
const server = http.createServer((req, res) => {
  const file = path.join(root, path.normalize(decodeURIComponent(req.url.split('?')[0])));
  if (!file.startsWith(root + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
    res.writeHead(404).end();
    return;
  }
  const size = fs.statSync(file).size;
  const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
  if (range) {
    const start = Number(range[1]);
    const end = range[2] === '' ? size - 1 : Math.min(Number(range[2]), size - 1);
    if (start >= size) {
      res.writeHead(416, { 'Content-Range': `bytes */${size}` }).end();
      return;
    }
    res.writeHead(206, { 'Content-Length': end - start + 1, 'Content-Range': `bytes ${start}-${end}/${size}`,
                         'Accept-Ranges': 'bytes' });
    if (req.method === 'HEAD') return res.end();
    send(file, res, start, end);
    return;
  }
  res.writeHead(200, { 'Content-Length': size, 'Accept-Ranges': 'bytes' });
  if (req.method === 'HEAD') return res.end();
  send(file, res, 0, size - 1);
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
