#!/usr/bin/env python3
"""Sends N requests pipelined DEPTH deep on one connection to 127.0.0.1:PORT
and waits for every response; for counting a server's work per request.

    pipeline_client.py --port 8080 [--requests 32000] [--depth 16] [--path /]
"""

import argparse
import socket
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--requests", type=int, default=32_000)
    ap.add_argument("--depth", type=int, default=16)
    ap.add_argument("--path", default="/")
    a = ap.parse_args()
    req = f"GET {a.path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode() * a.depth
    s = socket.create_connection(("127.0.0.1", a.port), timeout=30)
    done = 0
    while done < a.requests:
        s.sendall(req)
        buf = b""
        while buf.count(b"HTTP/1.1 ") < a.depth:
            chunk = s.recv(65536)
            if not chunk:
                sys.exit("the server closed the connection")
            buf += chunk
        done += a.depth
    print(done)


if __name__ == "__main__":
    main()
