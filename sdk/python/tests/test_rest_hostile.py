# SPDX-License-Identifier: Apache-2.0
"""Boxlite.rest() against a hostile server (a real HTTP server on loopback that answers the
API's shape with broken event streams): each case ends in a clear BoxliteError from wait()
or console(), never a hang, a crash of the reader thread or unbounded memory. No boxes."""
import base64
import http.server
import json
import threading

import pytest

import boxlite
from conftest import run

BOX = {"box_id": "b" * 32, "name": "h", "status": "running", "created_at": "x",
       "updated_at": "x", "image": "i", "cpus": 1, "memory_mib": 128}
B64 = base64.b64encode(b"ok").decode()

# output stream of each execution id: what the server sends, then it closes the connection
STREAMS = {
    "long-line": b"data: " + b"A" * ((1 << 20) + 10) + b"\n\n",
    # valid JSON (its lines join with newlines, JSON whitespace), but over 1 MiB
    "long-event": b'event: stdout\ndata: {"data":\n' + b"data:     \n" * 300000
                  + b'data: ""}\n\n',
    "not-base64": b'event: stdout\ndata: {"data": "%%%"}\n\n',
    "not-json": b"event: stdout\ndata: {\n\n",
    "dup-key": b'event: stdout\ndata: {"data": "", "data": ""}\n\n',
    "unknown": b'event: surprise\ndata: {}\n\n',
    "bad-exit": b'event: exit\ndata: {"exit_code": "0"}\n\n',
    "exit-range": b'event: exit\ndata: {"exit_code": 99999}\n\n',
    "long-id": b"id: " + b"9" * 40 + b'\nevent: stdout\ndata: {"data": ""}\n\n',
    "never-ends": ('event: stdout\ndata: {"data": "%s"}\n\n' % B64).encode(),
}
ERRORS = {"long-line": boxlite.ProtocolError, "long-event": boxlite.ProtocolError,
          "not-base64": boxlite.ProtocolError, "not-json": boxlite.ProtocolError,
          "dup-key": boxlite.ProtocolError, "unknown": boxlite.ProtocolError,
          "bad-exit": boxlite.ProtocolError, "exit-range": boxlite.ProtocolError,
          "long-id": boxlite.ProtocolError, "never-ends": boxlite.NetworkError}


class Hostile(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # each answer ends with its connection

    def log_message(self, *a):
        pass

    def _json(self, doc, status=200):
        body = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        doc = json.loads(self.rfile.read(n) or b"{}") if "json" in (
            self.headers.get("Content-Type") or "") else {}
        if self.path.endswith("/oauth/tokens"):
            self._json({"access_token": "t", "token_type": "Bearer", "expires_in": 3600})
        elif self.path.endswith("/exec"):
            self._json({"execution_id": doc["command"]}, 201)
        else:
            self._json({"error": {"message": "no", "type": "x"}}, 404)

    def do_GET(self):
        if self.path.endswith("/output"):
            xid = self.path.split("/executions/")[1].split("/")[0]
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            try:
                self.wfile.write(STREAMS[xid])
            except OSError:
                pass  # the client gave up on it: what the case is about
        elif "/logs" in self.path:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            self.wfile.write(b'event: log\ndata: {"data": "@@"}\n\n')
        elif self.path.endswith("/boxes/" + BOX["box_id"]) or self.path.endswith("/boxes/h"):
            self._json(BOX)
        else:
            self._json({"error": {"message": "no", "type": "x"}}, 404)


@pytest.fixture(scope="module")
def hostile():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hostile)
    srv.daemon_threads = True
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    yield boxlite.Boxlite.rest(f"http://127.0.0.1:{srv.server_address[1]}",
                               client_id="c", client_secret="s", prefix="acme")
    srv.shutdown()
    srv.server_close()


@pytest.mark.parametrize("case", sorted(STREAMS))
def test_broken_output_stream_is_a_clear_error(hostile, case):
    async def go():
        ex = await hostile.get("h").exec(case)
        got = [c async for c in ex.stdout_bytes()]
        with pytest.raises(ERRORS[case]):
            await ex.wait()
        return got
    got = run(go(), timeout=60)
    assert b"".join(got) in (b"", b"ok" * 5)  # what came before the fault, once per try


def test_broken_console_is_a_clear_error(hostile):
    with pytest.raises(boxlite.ProtocolError):
        hostile.get("h").console()
