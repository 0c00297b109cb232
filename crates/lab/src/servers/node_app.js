// The lab's app on Node.js: the same routes, bytes and database protocol
// as crates/lab/src/app.rs, served by Node's own `http` module on one
// event loop, the way the event-loop model serves it with waiter.
//
// Usage: node node_app.js '<json>' where the JSON holds
//   wait             "db" | "timer" | "none"
//   db_host, db_port the database service (null port: none)
//   db_connections   persistent multiplexed database connections
//   delay_ms         the sleep of the timer variant
//   cpu_secs         CPU time to burn per request (0: none)
//   backlog          the listen backlog
//   keep_alive_ms    idle time allowed between requests
// Prints `listening <port>` once it accepts connections on 127.0.0.1, and
// exits when its stdin closes, so it never outlives the process that
// started it.
'use strict';

const http = require('http');
const net = require('net');

const cfg = JSON.parse(process.argv[2]);

// ---- the row and the id, exactly as app.rs builds them (u64 arithmetic
// on two 32-bit limbs, so every id up to 2^64 - 1 matches) ----

const TWO32 = 4294967296;
const U64_MAX = '18446744073709551615';

// The id in a `/item/<id>` target, as a canonical decimal string; '0' for
// any other target (app::item_id).
function itemId(url) {
  if (!url.startsWith('/item/')) return '0';
  let s = url.slice(6);
  const end = s.search(/[?/]/);
  if (end >= 0) s = s.slice(0, end);
  if (s.startsWith('+')) s = s.slice(1);
  if (!/^[0-9]+$/.test(s)) return '0';
  s = s.replace(/^0+(?=[0-9])/, '');
  if (s.length > 20 || (s.length === 20 && s > U64_MAX)) return '0';
  return s;
}

// The database row for `id` (app::write_db_row): the name is id % 10^6,
// the stock (id * 7919 mod 2^64) % 1000.
function dbRow(id) {
  let hi = 0;
  let lo = 0;
  for (let i = 0; i < id.length; i++) {
    lo = lo * 10 + (id.charCodeAt(i) - 48);
    const carry = Math.floor(lo / TWO32);
    lo %= TWO32;
    hi = (hi * 10 + carry) % TWO32;
  }
  // 2^32 mod 10^6 = 967296; 2^32 mod 1000 = 296.
  const name = (hi * 967296 + lo) % 1000000;
  const b = lo * 7919;
  const bLo = b % TWO32;
  const a = (hi * 7919 + Math.floor(b / TWO32)) % TWO32;
  const stock = ((a % 1000) * 296 + (bLo % 1000)) % 1000;
  return '{"id":' + id + ',"name":"item ' + String(name).padStart(6, '0') +
    '","stock":' + stock + '}';
}

function renderBody(row) {
  return '{"ok":true,"item":' + row + '}';
}

// ---- CPU work: a mixing-hash loop calibrated to cfg.cpu_secs ----

let sink = 0;

function burn(iters) {
  let h = 0x9e3779b9 | 0;
  for (let i = 0; i < iters; i++) {
    h ^= i;
    h = Math.imul(h, 0x5bd1e995);
    h ^= h >>> 15;
  }
  sink ^= h;
}

// CPU seconds (not wall time: a busy machine must not inflate it).
function timed(iters) {
  const t = process.cpuUsage();
  burn(iters);
  const d = process.cpuUsage(t);
  return (d.user + d.system) / 1e6;
}

// Grows the run until it takes 20 ms of CPU (by then the optimizing
// compiler has the loop), then keeps the fastest of five runs of that size.
function calibrate(secs) {
  if (!(secs > 0)) return 0;
  let iters = 100000;
  while (timed(iters) < 0.02) iters *= 4;
  let best = Infinity;
  for (let k = 0; k < 5; k++) best = Math.min(best, timed(iters));
  return Math.max(1, Math.floor(secs / (best / iters)));
}

// ---- the database: a few persistent connections shared by every request,
// many queries in flight on each, replies matched by id (MuxDb) ----

class MuxConn {
  constructor(socket) {
    this.socket = socket;
    this.alive = true;
    this.pending = new Map(); // id -> callbacks, oldest first
    this.out = '';
    this.flushing = false;
    this.buf = '';
    socket.setNoDelay(true);
    socket.setEncoding('latin1');
    socket.on('data', (d) => this.onData(d));
    socket.on('error', () => {});
    socket.on('close', () => this.fail());
  }

  // Queues `Q <id>`; the queries of one loop iteration go out in one write.
  send(id, cb) {
    const q = this.pending.get(id);
    if (q) q.push(cb);
    else this.pending.set(id, [cb]);
    this.out += 'Q ' + id + '\n';
    if (!this.flushing) {
      this.flushing = true;
      setImmediate(() => {
        this.flushing = false;
        const out = this.out;
        this.out = '';
        if (this.alive) this.socket.write(out);
      });
    }
  }

  onData(d) {
    this.buf += d;
    let start = 0;
    let nl;
    while ((nl = this.buf.indexOf('\n', start)) >= 0) {
      const line = this.buf.slice(start, nl);
      start = nl + 1;
      const sp = line.indexOf(' ', 2);
      if (!line.startsWith('R ') || sp < 0) {
        this.socket.destroy();
        return;
      }
      const id = line.slice(2, sp);
      const q = this.pending.get(id);
      if (!q) continue;
      const cb = q.shift();
      if (q.length === 0) this.pending.delete(id);
      cb(line.slice(sp + 1));
    }
    this.buf = this.buf.slice(start);
  }

  // Fails every waiting query (503).
  fail() {
    if (!this.alive) return;
    this.alive = false;
    const pending = this.pending;
    this.pending = new Map();
    for (const q of pending.values()) for (const cb of q) cb(null);
  }
}

function connect(cb) {
  const s = net.connect({ host: cfg.db_host, port: cfg.db_port });
  const timer = setTimeout(() => s.destroy(new Error('connect timeout')), 5000);
  s.once('connect', () => {
    clearTimeout(timer);
    s.removeAllListeners('error');
    cb(null, new MuxConn(s));
  });
  s.once('error', (e) => {
    clearTimeout(timer);
    cb(e, null);
  });
}

const conns = [];
let next = 0;
let reconnecting = false;

function pick() {
  const n = conns.length;
  const start = next;
  next = (start + 1) % Math.max(n, 1);
  for (let k = 0; k < n; k++) {
    const c = conns[(start + k) % n];
    if (c && c.alive) return c;
  }
  return null;
}

// `cb(row)`, or `cb(null)` when the database cannot be reached.
function query(id, cb) {
  const c = pick();
  if (c) return c.send(id, cb);
  // Every connection failed: reopen the first; queries arriving meanwhile fail.
  if (reconnecting || !cfg.db_port) return cb(null);
  reconnecting = true;
  connect((err, conn) => {
    reconnecting = false;
    if (err) return cb(null);
    conns[0] = conn;
    conn.send(id, cb);
  });
}

// ---- the server ----

const cpuIters = calibrate(cfg.cpu_secs);

function handle(req, res) {
  const id = itemId(req.url);
  const answer = (row) => {
    if (row === null) {
      res.writeHead(503, { 'content-length': '0' });
      res.end();
      return;
    }
    if (cpuIters > 0) burn(cpuIters);
    const body = renderBody(row);
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
  };
  switch (cfg.wait) {
    case 'db':
      query(id, answer);
      break;
    case 'timer':
      setTimeout(() => answer(dbRow(id)), cfg.delay_ms);
      break;
    default:
      answer(dbRow(id));
  }
}

function listen() {
  const server = http.createServer(handle);
  server.keepAliveTimeout = cfg.keep_alive_ms;
  server.listen({ host: '127.0.0.1', port: 0, backlog: cfg.backlog }, () => {
    process.stdout.write('listening ' + server.address().port + '\n');
  });
}

function openAll(left) {
  if (left === 0) return listen();
  connect((err, conn) => {
    if (err) {
      process.stderr.write('node app: database: ' + err.message + '\n');
      process.exit(1);
    }
    conns.push(conn);
    openAll(left - 1);
  });
}

process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();

if (cfg.wait === 'db' && cfg.db_port) openAll(Math.max(1, cfg.db_connections));
else listen();
