#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A WebSocket client (RFC 6455) written on python3's socket module for tests/e2e/serve.sh:
the opening handshake, masked client frames, the server's frames read back.

  serve_ws.py URL TOKEN PATH_AND_QUERY SCRIPT.json
      SCRIPT: a list of steps, each one of
        ["send", "text"|"binary", STRING]      one message (binary: the string's UTF-8)
        ["frag", STRING, N]                    a binary message in fragments of N bytes
        ["ping", STRING]                       a ping; its pong is awaited
        ["raw", HEX]                           raw bytes (a bad frame)
        ["expect", REGEX]                      read until the terminal output matches
        ["close", CODE]                        a close frame; the server's is awaited
        ["mark", PATH]                         create the file PATH (tells a waiting script
                                               that the steps before it are done)
        ["end"]                                read to the end (exit message, close)
      Prints one JSON object: {"status": HTTP status, "accept_ok": bool, "output": terminal
      text, "matched": [bool per expect], "pong": bool, "exit": {...} or null,
      "close": [code, reason] or null, "error": text or null}
"""
import base64
import hashlib
import json
import os
import re
import socket
import ssl
import struct
import sys
import urllib.parse

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class Conn:
    def __init__(self, url, token, target, extra_headers=()):
        u = urllib.parse.urlsplit(url)
        self.sock = socket.create_connection((u.hostname, u.port), timeout=120)
        if u.scheme == "https":
            self.sock = ssl.create_default_context().wrap_socket(self.sock, server_hostname=u.hostname)
        self.key = base64.b64encode(os.urandom(16)).decode()
        hdr = [f"GET {target} HTTP/1.1", f"Host: {u.hostname}:{u.port}", "Upgrade: websocket",
               "Connection: Upgrade", f"Sec-WebSocket-Key: {self.key}", "Sec-WebSocket-Version: 13"]
        if token:
            hdr.append(f"Authorization: Bearer {token}")
        hdr += list(extra_headers)
        self.sock.sendall(("\r\n".join(hdr) + "\r\n\r\n").encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            d = self.sock.recv(65536)
            if not d:
                break
            self.buf += d
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split()[1]) if lines and len(lines[0].split()) > 1 else 0
        self.headers = {}
        for l in lines[1:]:
            k, _, v = l.partition(":")
            self.headers[k.strip().lower()] = v.strip()
        want = base64.b64encode(hashlib.sha1((self.key + GUID).encode()).digest()).decode()
        self.accept_ok = self.headers.get("sec-websocket-accept") == want

    def send_frame(self, op, payload, fin=True):
        mask = os.urandom(4)
        n = len(payload)
        h = bytes([(0x80 if fin else 0) | op])
        if n < 126:
            h += bytes([0x80 | n])
        elif n < 65536:
            h += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            h += bytes([0x80 | 127]) + struct.pack(">Q", n)
        self.sock.sendall(h + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def _need(self, n):
        while len(self.buf) < n:
            d = self.sock.recv(65536)
            if not d:
                raise EOFError("connection closed")
            self.buf += d

    def read_frame(self):
        self._need(2)
        b0, b1 = self.buf[0], self.buf[1]
        if b1 & 0x80:
            raise ValueError("the server masked a frame (RFC 6455 section 5.1)")
        n, h = b1 & 0x7F, 2
        if n == 126:
            self._need(4)
            n, h = struct.unpack(">H", self.buf[2:4])[0], 4
        elif n == 127:
            self._need(10)
            n, h = struct.unpack(">Q", self.buf[2:10])[0], 10
        self._need(h + n)
        p, self.buf = self.buf[h:h + n], self.buf[h + n:]
        return b0 & 0x0F, p


def main():
    url, token, target, script = sys.argv[1:5]
    steps = json.loads(script)
    res = {"status": 0, "accept_ok": False, "output": "", "matched": [], "pong": False,
           "exit": None, "close": None, "error": None}
    out = b""
    try:
        c = Conn(url, token, target)
        res["status"], res["accept_ok"] = c.status, c.accept_ok
        if c.status != 101:
            res["error"] = c.buf.decode("utf-8", "replace")
            print(json.dumps(res))
            return

        def pump(until):
            nonlocal out
            while True:
                op, p = c.read_frame()
                if op == 0x2:
                    out += p
                elif op == 0x1:
                    res["exit"] = json.loads(p)
                elif op == 0xA:
                    res["pong"] = True
                elif op == 0x8:
                    code = struct.unpack(">H", p[:2])[0] if len(p) >= 2 else None
                    res["close"] = [code, p[2:].decode("utf-8", "replace")]
                    return
                if until(op, p):
                    return

        for st in steps:
            if st[0] == "send":
                c.send_frame(0x1 if st[1] == "text" else 0x2, st[2].encode())
            elif st[0] == "frag":
                data, k = st[1].encode(), st[2]
                parts = [data[i:i + k] for i in range(0, len(data), k)]
                for i, part in enumerate(parts):
                    c.send_frame(0x2 if i == 0 else 0x0, part, fin=i == len(parts) - 1)
            elif st[0] == "ping":
                c.send_frame(0x9, st[1].encode())
                pump(lambda op, p: op == 0xA)
            elif st[0] == "raw":
                c.sock.sendall(bytes.fromhex(st[1]))
            elif st[0] == "expect":
                rx = re.compile(st[1])
                pump(lambda op, p: bool(rx.search(out.decode("utf-8", "replace"))))
                res["matched"].append(bool(rx.search(out.decode("utf-8", "replace"))))
            elif st[0] == "close":
                c.send_frame(0x8, struct.pack(">H", st[1]))
                pump(lambda op, p: False)
            elif st[0] == "mark":
                open(st[1], "w").close()
            elif st[0] == "end":
                pump(lambda op, p: False)
            if res["close"]:
                break
        if res["close"] and res["close"][0] is not None:
            # answer the server's close (RFC 6455 section 5.5.1)
            try:
                c.send_frame(0x8, struct.pack(">H", 1000))
            except OSError:
                pass
    except Exception as e:  # noqa: BLE001 - any failure is the finding
        res["error"] = f"{type(e).__name__}: {e}"
    res["output"] = out.decode("utf-8", "replace")
    print(json.dumps(res))


if __name__ == "__main__":
    main()
