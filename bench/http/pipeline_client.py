#!/usr/bin/env python3
"""Sends N requests pipelined DEPTH deep on one connection to 127.0.0.1:PORT
and waits for every response; for counting a server's work per request.

    pipeline_client.py --port 8080 [--requests 32000] [--depth 16] [--path /] [--browser]

With --browser each request carries the fields a desktop browser sends for
a page (15 fields, about 640 bytes) instead of Host alone.
"""

import argparse
import socket
import sys


BROWSER = (
    "Connection: keep-alive\r\n"
    'sec-ch-ua: "Chromium";v="156", "Not-A.Brand";v="24"\r\n'
    "sec-ch-ua-mobile: ?0\r\n"
    'sec-ch-ua-platform: "Linux"\r\n'
    "Upgrade-Insecure-Requests: 1\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/156.0.0.0 Safari/537.36\r\n"
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
    "image/apng,*/*;q=0.8\r\n"
    "Sec-Fetch-Site: none\r\n"
    "Sec-Fetch-Mode: navigate\r\n"
    "Sec-Fetch-User: ?1\r\n"
    "Sec-Fetch-Dest: document\r\n"
    "Accept-Encoding: gzip, deflate, br, zstd\r\n"
    "Accept-Language: en-US,en;q=0.9\r\n"
    "Cookie: session=4f2a9c1e7b3d5a6f8e0c; theme=dark\r\n"
)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--requests", type=int, default=32_000)
    ap.add_argument("--depth", type=int, default=16)
    ap.add_argument("--path", default="/")
    ap.add_argument("--browser", action="store_true")
    a = ap.parse_args()
    fields = BROWSER if a.browser else ""
    req = f"GET {a.path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{fields}\r\n".encode() * a.depth
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
