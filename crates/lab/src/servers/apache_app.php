<?php
// The lab's app under Apache prefork and mod_php: the same routes, bytes
// and database protocol as crates/lab/src/app.rs. Each worker process
// serves one request at a time and blocks on its own persistent database
// connection, like a worker of the prefork model.
//
// The lab writes the settings below when it generates this file. Run from
// the command line (`php app.php SECONDS`), it prints the iterations of
// burn() that take SECONDS of CPU, so the lab can calibrate the CPU work.

/*LAB_CONFIG*/

// The id in a `/item/<id>` target, as a canonical decimal string; '0' for
// any other target (app::item_id).
function item_id(string $uri): string
{
    if (strncmp($uri, '/item/', 6) !== 0) {
        return '0';
    }
    $s = substr($uri, 6);
    $s = substr($s, 0, strcspn($s, '?/'));
    if ($s !== '' && $s[0] === '+') {
        $s = substr($s, 1);
    }
    if ($s === '' || strspn($s, '0123456789') !== strlen($s)) {
        return '0';
    }
    $s = ltrim($s, '0');
    if ($s === '') {
        $s = '0';
    }
    if (strlen($s) > 20 || (strlen($s) === 20 && strcmp($s, '18446744073709551615') > 0)) {
        return '0';
    }
    return $s;
}

// The database row for `id` (app::write_db_row): the name is id % 10^6,
// the stock (id * 7919 mod 2^64) % 1000, computed on two 32-bit limbs so
// every id up to 2^64 - 1 matches.
function db_row(string $id): string
{
    $hi = 0;
    $lo = 0;
    $n = strlen($id);
    for ($i = 0; $i < $n; $i++) {
        $lo = $lo * 10 + (ord($id[$i]) - 48);
        $carry = $lo >> 32;
        $lo &= 0xffffffff;
        $hi = ($hi * 10 + $carry) & 0xffffffff;
    }
    // 2^32 mod 10^6 = 967296; 2^32 mod 1000 = 296.
    $name = ($hi * 967296 + $lo) % 1000000;
    $b = $lo * 7919;
    $a = ($hi * 7919 + ($b >> 32)) & 0xffffffff;
    $stock = (($a % 1000) * 296 + (($b & 0xffffffff) % 1000)) % 1000;
    return sprintf('{"id":%s,"name":"item %06d","stock":%d}', $id, $name, $stock);
}

// CPU work: a mixing-hash loop (values stay below 2^62, so PHP never
// switches to floats).
function burn(int $iters): int
{
    $h = 0x1e3779b9;
    for ($i = 0; $i < $iters; $i++) {
        $h ^= $i;
        $h = ($h * 0x5bd1e995) & 0x7fffffff;
        $h ^= $h >> 15;
    }
    return $h;
}

// One query on this worker's persistent connection: `Q <id>`, then block
// for `R <id> <row>`. null when the database cannot be reached; a failed
// connection is closed so the next request opens a new one.
function db_query(string $id): ?string
{
    if (LAB_DB === '') {
        return null;
    }
    $ctx = stream_context_create(['socket' => ['tcp_nodelay' => true]]);
    $flags = STREAM_CLIENT_CONNECT | STREAM_CLIENT_PERSISTENT;
    $s = @stream_socket_client(LAB_DB, $errno, $errstr, 5, $flags, $ctx);
    if ($s === false) {
        return null;
    }
    $line = false;
    if (@fwrite($s, "Q $id\n") !== false) {
        $line = fgets($s);
    }
    $prefix = "R $id ";
    if ($line === false || strncmp($line, $prefix, strlen($prefix)) !== 0 || substr($line, -1) !== "\n") {
        @fclose($s);
        return null;
    }
    return substr($line, strlen($prefix), -1);
}

// Grows the run until it takes 20 ms of CPU, then keeps the fastest of
// three runs of that size.
if (PHP_SAPI === 'cli') {
    // CPU seconds (not wall time: a busy machine must not inflate it).
    $cpu = function (): float {
        $r = getrusage();
        return $r['ru_utime.tv_sec'] + $r['ru_stime.tv_sec']
            + ($r['ru_utime.tv_usec'] + $r['ru_stime.tv_usec']) / 1e6;
    };
    $timed = function (int $iters) use ($cpu): float {
        $t = $cpu();
        burn($iters);
        return $cpu() - $t;
    };
    $secs = (float) ($argv[1] ?? '0');
    $iters = 10000;
    while ($timed($iters) < 0.02) {
        $iters *= 4;
    }
    $best = min($timed($iters), $timed($iters), $timed($iters));
    echo max(1, (int) ($secs / ($best / $iters))), "\n";
    exit(0);
}

$id = item_id($_SERVER['REQUEST_URI'] ?? '/');
switch (LAB_WAIT) {
    case 'db':
        $row = db_query($id);
        break;
    case 'timer':
        usleep(LAB_DELAY_US);
        $row = db_row($id);
        break;
    default:
        $row = db_row($id);
}
if ($row === null) {
    http_response_code(503);
    header('Content-Length: 0');
    exit;
}
if (LAB_CPU_ITERS > 0) {
    burn(LAB_CPU_ITERS);
}
$body = '{"ok":true,"item":' . $row . '}';
header('Content-Type: application/json');
header('Content-Length: ' . strlen($body));
echo $body;
