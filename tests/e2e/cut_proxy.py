#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""cut_proxy.py UPSTREAM_PORT CUT_BYTES: a TCP relay on 127.0.0.1 (its port printed on the
first line) in front of a server on 127.0.0.1:UPSTREAM_PORT that cuts the connection of the
first request for an execution's output (".../output", on a new or a kept-alive
connection) once CUT_BYTES of what follows went back: a stream lost midway, as a proxy or a
network drop makes it, so a client's reconnect with Last-Event-ID is tested for real. It
prints "cut" on stderr when it did. Everything else is relayed whole."""
import socket
import sys
import threading

up_port, cut = int(sys.argv[1]), int(sys.argv[2])
lock = threading.Lock()
state = {"cut_done": False}


class Conn:
    def __init__(self, client, upstream):
        self.client, self.upstream = client, upstream
        self.down = 0        # bytes sent back to the client
        self.limit = None    # where to cut, in those bytes

    def close(self):
        for s in (self.client, self.upstream):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def up(self):  # client -> server: watch the requests
        try:
            while True:
                b = self.client.recv(65536)
                if not b:
                    break
                with lock:
                    if not state["cut_done"] and b"/output HTTP/1.1" in b:
                        state["cut_done"] = True
                        self.limit = self.down + cut
                self.upstream.sendall(b)
        except OSError:
            pass
        self.close()

    def downstream(self):  # server -> client: cut where told
        try:
            while True:
                b = self.upstream.recv(65536)
                if not b:
                    break
                if self.limit is not None and self.down + len(b) >= self.limit:
                    self.client.sendall(b[: self.limit - self.down])
                    print("cut", file=sys.stderr, flush=True)
                    break
                self.client.sendall(b)
                self.down += len(b)
        except OSError:
            pass
        self.close()


def serve(client):
    c = Conn(client, socket.create_connection(("127.0.0.1", up_port)))
    threading.Thread(target=c.up, daemon=True).start()
    c.downstream()
    client.close()
    c.upstream.close()


ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", 0))
ls.listen(64)
print(ls.getsockname()[1], flush=True)
while True:
    c, _ = ls.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
