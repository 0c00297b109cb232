<?php
// The lab's app under Apache prefork and mod_php: the same routes, bytes
// and database protocol as crates/lab/src/app.rs. Each worker process
// serves one request at a time and blocks on its own persistent database
// connection, like a worker of the prefork model.
//
// The lab writes the settings below when it generates this file.

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

// CPU seconds this process has run.
function cpu_secs(): float
{
    $r = getrusage();
    return $r['ru_utime.tv_sec'] + $r['ru_stime.tv_sec']
        + ($r['ru_utime.tv_usec'] + $r['ru_stime.tv_usec']) / 1e6;
}

// Burns `$secs` of this process's CPU time, measured as it goes: the CPU
// time the Rust models spend on their work, whatever PHP's speed.
function burn_for(float $secs): int
{
    $end = cpu_secs() + $secs;
    $h = 0;
    do {
        $h ^= burn(2000);
    } while (cpu_secs() < $end);
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
if (LAB_CPU_SECS > 0) {
    burn_for(LAB_CPU_SECS);
}
$body = '{"ok":true,"item":' . $row . '}';
header('Content-Type: application/json');
header('Content-Length: ' . strlen($body));
echo $body;
