#!/usr/bin/env python3
"""Idle keep-alive connections for bench/http.sh.

Opens N connections to 127.0.0.1:PORT, sends one `GET PATH` on each, reads
the whole response (Content-Length framed), then holds every connection open
and idle. Prints `ready N` once all N responses are in, then waits until its
standard input closes (or --hold seconds pass), and prints `alive M`: how
many connections the server still had open at that point.

    idle_client.py --port 8080 [--conns 10000] [--path /] [--hold 120]

Connects at most --window at a time so the listen backlog never overflows.
Everything is bounded: --deadline seconds to get all responses, else exit 1.
"""

import argparse
import errno
import selectors
import socket
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--conns", type=int, default=10_000)
    ap.add_argument("--path", default="/")
    ap.add_argument("--window", type=int, default=200)
    ap.add_argument("--deadline", type=float, default=60.0)
    ap.add_argument("--hold", type=float, default=120.0)
    a = ap.parse_args()

    req = f"GET {a.path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
    sel = selectors.DefaultSelector()
    held = []
    bufs = {}
    started = inflight = done = 0
    t0 = time.monotonic()

    def finished(buf):
        head, sep, body = buf.partition(b"\r\n\r\n")
        if not sep:
            return False
        if not head.startswith(b"HTTP/1.1 200"):
            raise SystemExit(f"bad response: {head[:80]!r}")
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                return len(body) >= int(v)
        raise SystemExit("response without Content-Length")

    while done < a.conns:
        while inflight < a.window and started < a.conns:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            rc = s.connect_ex(("127.0.0.1", a.port))
            if rc not in (0, errno.EINPROGRESS):
                raise SystemExit(f"connect #{started}: {errno.errorcode.get(rc, rc)}")
            sel.register(s, selectors.EVENT_WRITE)
            bufs[s] = b""
            started += 1
            inflight += 1
        if time.monotonic() - t0 > a.deadline:
            raise SystemExit(f"only {done}/{a.conns} responses after {a.deadline}s")
        for key, ev in sel.select(timeout=1.0):
            s = key.fileobj
            if ev & selectors.EVENT_WRITE:
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    raise SystemExit(f"connect: {errno.errorcode.get(err, err)}")
                s.send(req)  # 40 bytes into an empty socket buffer: never partial
                sel.modify(s, selectors.EVENT_READ)
                continue
            data = s.recv(65536)
            if not data:
                raise SystemExit("server closed a connection before answering")
            bufs[s] += data
            if finished(bufs[s]):
                sel.unregister(s)
                del bufs[s]
                held.append(s)
                inflight -= 1
                done += 1

    print(f"ready {done} {time.monotonic() - t0:.2f}s", flush=True)

    # Hold until told to stop (stdin closed) or --hold passes.
    stop = selectors.DefaultSelector()
    stop.register(sys.stdin, selectors.EVENT_READ)
    end = time.monotonic() + a.hold
    while time.monotonic() < end:
        if stop.select(timeout=min(1.0, max(0.0, end - time.monotonic()))):
            if not sys.stdin.buffer.read1(4096):
                break

    # A connection the server closed reads as EOF (or a reset).
    for s in held:
        sel.register(s, selectors.EVENT_READ)
    closed = 0
    for key, _ in sel.select(timeout=0):
        try:
            if not key.fileobj.recv(1, socket.MSG_PEEK):
                closed += 1
        except OSError:
            closed += 1
    print(f"alive {len(held) - closed}", flush=True)
    for s in held:
        s.close()


if __name__ == "__main__":
    main()
