// bench/http.sh peer: Node.js `http` server (one process, one thread for JS).
// Same routes as waiter's `hello` example: GET / -> "Hello, World!"
// (text/plain), GET /sleep -> 50 ms timer, then a small JSON body.
//
//   node bench/http/node-hello.js --port 8080     (127.0.0.1 only)
'use strict';
const http = require('http');

const i = process.argv.indexOf('--port');
const port = i >= 0 ? Number(process.argv[i + 1]) : 8080;
const HELLO = Buffer.from('Hello, World!');
const JSON_BODY = Buffer.from('{"id":42,"name":"waiter","items":[1,2,3],"ok":true}');
const TEXT = 'text/plain; charset=utf-8';

const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/') {
    res.writeHead(200, { 'Content-Type': TEXT, 'Content-Length': HELLO.length });
    res.end(HELLO);
  } else if (req.method === 'GET' && req.url === '/sleep') {
    setTimeout(() => {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': JSON_BODY.length });
      res.end(JSON_BODY);
    }, 50);
  } else {
    res.writeHead(404, { 'Content-Type': TEXT, 'Content-Length': 9 });
    res.end('Not Found');
  }
});
// Same idle keep-alive limit as waiter (65 s; Node's default is 5 s), so the
// idle-connection test measures memory, not Node closing connections.
server.keepAliveTimeout = 65000;
server.headersTimeout = 66000;
server.listen(port, '127.0.0.1', () => console.log(`listening on http://127.0.0.1:${port}`));
