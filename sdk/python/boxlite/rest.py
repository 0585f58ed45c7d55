# SPDX-License-Identifier: Apache-2.0
"""Boxes of a remote `boxlite serve` (BoxLite's REST API, docs/api.yaml) with the local
runtime's API: Boxlite.rest(url, client_id=..., client_secret=...) gives a RestRuntime, its
RestBoxes and RestExecutions, with every public call of the local Boxlite, Box and
Execution under the same name and signature (tests/test_rest.py::test_api_parity); what
the API cannot do raises Unsupported. boxlite.sync wraps them as it wraps the local ones.

The standard library only (http.client, ssl, tarfile). The server is not trusted: answers
are bounded (8 MiB of JSON, 1 MiB per event), JSON is parsed strictly, base64 strictly, and
a downloaded archive is unpacked with tarfile's "data" filter (no absolute names, no "..",
no links out, no devices, no setuid bits) in a private folder before it is moved into place.
Each call opens its own connection, so a RestRuntime may be used from several threads."""
import base64
import binascii
import codecs
import collections
import http.client
import json
import os
import shutil
import signal as _signal
import socket
import ssl
import tarfile
import tempfile
import threading
import urllib.parse
from typing import AsyncIterator, Dict, List, Optional

from . import _aio
from .errors import (AlreadyExists, AuthError, BoxliteError, InvalidArgument, InvalidState,
                     IOFailure, NetworkError, NotFound, ProtocolError, Unsupported)
from .execution import ExecResult

JSON_MAX = 8 << 20
EVENT_MAX = 1 << 20
CHUNK = 1 << 20
QUEUE_MAX = 1 << 20   # unread output an execution keeps (plus at most one event)


def _strict_json(data: bytes):
    def no_dupes(pairs):
        d = {}
        for k, v in pairs:
            if k in d:
                raise ValueError(f"key {k!r} twice")
            d[k] = v
        return d
    return json.loads(data, object_pairs_hook=no_dupes)


def _raise_for(status: int, body: bytes, what: str):
    msg, kind = None, None
    try:
        err = _strict_json(body).get("error", {})
        msg, kind = err.get("message"), err.get("type")
    except (ValueError, AttributeError):
        pass
    text = "".join(c if c.isprintable() else "?" for c in str(msg or f"HTTP {status}"))[:500]
    text = f"{what}: {text} (HTTP {status})"
    if kind == "AlreadyExistsError":
        raise AlreadyExists(text)
    cls = {404: NotFound, 409: InvalidState, 400: InvalidArgument, 413: InvalidArgument,
           422: InvalidArgument, 401: AuthError, 403: AuthError, 501: Unsupported,
           }.get(status, IOFailure)
    raise cls(text)


def _sse_events(r, what: str, stop=lambda: False):
    """The Server-Sent Events of response r, each {"id", "event", "data": [lines]}, until the
    stream ends, is cut (a read error: the caller may reconnect) or stop() says so. Lines
    and events are bounded (EVENT_MAX); comments (keep-alives) are skipped."""
    ev = {"id": "", "event": "message", "data": []}
    size = 0
    while not stop():
        try:
            line = r.readline(EVENT_MAX + 2)
        except (OSError, ValueError, http.client.HTTPException):
            return
        if not line:
            return
        if len(line) > EVENT_MAX:
            raise ProtocolError(f"{what}: an event line over 1 MiB")
        line = line.rstrip(b"\r\n").decode("utf-8", "replace")
        if line == "":
            if ev["data"] or ev["id"]:
                yield ev
            ev, size = {"id": "", "event": "message", "data": []}, 0
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "id":
            if len(value) > 20:
                raise ProtocolError(f"{what}: an event id over 20 characters")
            ev["id"] = value
        elif field == "event":
            ev["event"] = value
        elif field == "data":
            size += len(value)
            if size > EVENT_MAX:
                raise ProtocolError(f"{what}: an event over 1 MiB")
            ev["data"].append(value)


def _event_json(ev, what: str) -> dict:
    try:
        doc = _strict_json("\n".join(ev["data"]))
    except ValueError:
        raise ProtocolError(f"{what}: a {ev['event'][:16]!r} event that is not JSON") from None
    if not isinstance(doc, dict):
        raise ProtocolError(f"{what}: an event that is not a JSON object")
    return doc


def _event_bytes(doc: dict, what: str) -> bytes:
    data = doc.get("data")
    try:
        raw = base64.b64decode(data, validate=True) if isinstance(data, str) else None
    except (binascii.Error, ValueError):
        raw = None
    if raw is None:
        raise ProtocolError(f"{what}: data that is not base64")
    return raw


class RestRuntime:
    """A remote runtime: the boxes of one tenant (prefix) of a `boxlite serve`."""

    def __init__(self, url: str, client_id: Optional[str] = None,
                 client_secret: Optional[str] = None, prefix: Optional[str] = None,
                 ca_file: Optional[str] = None, timeout: float = 300.0):
        u = urllib.parse.urlsplit(url)
        if u.scheme not in ("http", "https") or not u.hostname or u.query or u.fragment:
            raise InvalidArgument(f"url {url!r}: expected http://HOST:PORT or https://HOST:PORT")
        self._https = u.scheme == "https"
        self._host, self._port = u.hostname, u.port
        base = u.path.rstrip("/")
        if base.endswith("/v1"):
            base = base[:-3]
        self._base = base
        self._id = client_id if client_id is not None else os.environ.get("BOXLITE_CLIENT_ID")
        self._secret = (client_secret if client_secret is not None
                        else os.environ.get("BOXLITE_CLIENT_SECRET"))
        self.prefix = prefix or os.environ.get("BOXLITE_PREFIX") or "default"
        self._ctx = ssl.create_default_context(cafile=ca_file) if self._https else None
        self._timeout = timeout
        self._token = None
        self._lock = threading.Lock()
        self._closed = False

    # ---- HTTP ----
    def _conn(self, timeout=None):
        t = self._timeout if timeout is None else timeout
        if self._https:
            return http.client.HTTPSConnection(self._host, self._port, timeout=t,
                                               context=self._ctx)
        return http.client.HTTPConnection(self._host, self._port, timeout=t)

    def _fetch_token(self) -> str:
        if not self._id or not self._secret:
            raise AuthError("no client credentials (client_id and client_secret, or "
                            "BOXLITE_CLIENT_ID and BOXLITE_CLIENT_SECRET)")
        form = urllib.parse.urlencode({"grant_type": "client_credentials",
                                       "client_id": self._id, "client_secret": self._secret})
        c = self._conn()
        try:
            c.request("POST", self._base + "/v1/oauth/tokens", body=form,
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
            r = c.getresponse()
            body = r.read(65537)
        except OSError as e:
            raise NetworkError(f"token from {self._host}: {e}") from None
        finally:
            c.close()
        if r.status != 200:
            _raise_for(r.status, body, "token")
        try:
            tok = _strict_json(body)["access_token"]
        except (ValueError, KeyError, TypeError):
            raise ProtocolError("token: the answer has no access_token") from None
        if not isinstance(tok, str) or not tok or len(tok) > 512 or not tok.isprintable():
            raise ProtocolError("token: an unusable access_token")
        return tok

    def _auth(self, fresh=False) -> str:
        with self._lock:
            if self._closed:
                raise InvalidState("the runtime is closed")
            if fresh or self._token is None:
                self._token = self._fetch_token()
            return self._token

    def _open(self, method, path, body=None, headers=None, timeout=None):
        """A request under /v1/{prefix}; the response (status read) and its connection. A 401
        fetches a new token once and tries again."""
        for attempt in (0, 1):
            h = dict(headers or {})
            h["Authorization"] = "Bearer " + self._auth(fresh=attempt == 1)
            c = self._conn(timeout)
            try:
                if hasattr(body, "seek"):
                    body.seek(0)
                c.request(method, f"{self._base}/v1/{self.prefix}{path}", body=body, headers=h)
                r = c.getresponse()
            except OSError as e:
                c.close()
                raise NetworkError(f"{method} {path}: {e}") from None
            if r.status == 401 and attempt == 0:
                r.read(65536)
                c.close()
                continue
            return r, c

    def _call(self, method, path, doc=None, ok=(200, 201, 204)):
        body = json.dumps(doc).encode() if doc is not None else None
        hdrs = {"Accept": "application/json"}
        if body is not None:
            hdrs["Content-Type"] = "application/json"
        r, c = self._open(method, path, body, hdrs)
        try:
            data = r.read(JSON_MAX + 1)
        finally:
            c.close()
        if len(data) > JSON_MAX:
            raise ProtocolError(f"{method} {path}: an answer over {JSON_MAX} bytes")
        if r.status not in ok:
            _raise_for(r.status, data, f"{method} {path}")
        if not data:
            return None
        try:
            doc = _strict_json(data)
        except ValueError as e:
            raise ProtocolError(f"{method} {path}: not JSON: {e}") from None
        if not isinstance(doc, dict):
            raise ProtocolError(f"{method} {path}: not a JSON object")
        return doc

    @staticmethod
    def _seg(s: str) -> str:
        return urllib.parse.quote(str(s), safe="")

    # ---- the runtime's calls ----
    def create(self, options, name: Optional[str] = None) -> "RestBox":
        """Creates a box on the server (returns at once; the first exec or start boots it).
        Options the API cannot carry (volumes, network rules, an engine, ...) raise
        Unsupported; rootfs_path names a folder of the server's --rootfs-dir."""
        doc = _create_request(options, name)
        box = self._call("POST", "/boxes", doc)
        return RestBox(self, box)

    def get(self, id_or_name: str) -> "RestBox":
        """A box by its whole id or its name (NotFound for another tenant's)."""
        return RestBox(self, self._call("GET", "/boxes/" + self._seg(id_or_name)))

    def list(self, state: Optional[str] = None) -> List[dict]:
        """The tenant's boxes (the API's Box: box_id, name, status, image, ...), all or those
        with one status ("running")."""
        out, token = [], None
        while True:
            q = {"pageSize": 1000}
            if state:
                q["status"] = state
            if token:
                q["pageToken"] = token
            page = self._call("GET", "/boxes?" + urllib.parse.urlencode(q))
            boxes = page.get("boxes")
            if not isinstance(boxes, list):
                raise ProtocolError("list: the answer has no boxes")
            out.extend(_local_keys(b) for b in boxes if isinstance(b, dict))
            token = page.get("next_page_token")
            if not token:
                return out

    def import_box(self, path: str, name: Optional[str] = None) -> "RestBox":
        """A box from an archive of RestBox.export (the server takes only archives this
        prefix exported; a damaged or foreign one raises InvalidArgument and leaves
        nothing). Without name the server generates one."""
        q = "?" + urllib.parse.urlencode({"name": name}) if name else ""
        with open(os.fspath(path), "rb") as f:
            size = os.fstat(f.fileno()).st_size
            r, c = self._open("POST", "/boxes/import" + q, body=f,
                              headers={"Content-Type": "application/octet-stream",
                                       "Content-Length": str(size)})
            try:
                data = r.read(JSON_MAX + 1)
            finally:
                c.close()
        if r.status != 201:
            _raise_for(r.status, data, "import")
        try:
            doc = _strict_json(data)
        except ValueError:
            raise ProtocolError("import: the answer is not JSON") from None
        return RestBox(self, doc)

    def remove(self, id_or_name: str, force: bool = False) -> None:
        """Removes a box; refused while it runs unless force (which stops it first)."""
        self._call("DELETE", f"/boxes/{self._seg(id_or_name)}?force={'true' if force else 'false'}")

    def rename(self, id_or_name: str, new_name: str) -> None:
        """A new name for a box in any state (POST .../rename; AlreadyExists when taken)."""
        self._call("POST", f"/boxes/{self._seg(id_or_name)}/rename", {"name": new_name})

    def clone(self, id_or_name: str, new_name: str) -> "RestBox":
        """A new box sharing the source's disk history copy-on-write (POST .../clone)."""
        return RestBox(self, self._call("POST", f"/boxes/{self._seg(id_or_name)}/clone",
                                        {"name": new_name}))

    def pull(self, ref: str, progress=None, platform: Optional[str] = None) -> List[str]:
        """Pulls an image into the server's store (POST /images/pull; answers once stored).
        The server shows no progress and picks its own platform: progress is never called,
        a platform raises Unsupported. Returns no notices (the local pull's list)."""
        if platform is not None:
            raise Unsupported("pull: the API has no platform")
        self._call("POST", "/images/pull", {"reference": ref})
        return []

    def images(self) -> List[dict]:
        """The tenant's images in the local images()'s shape: ref, id (hex), size, layers,
        created."""
        out, token = [], None
        while True:
            q = {"pageSize": 1000}
            if token:
                q["pageToken"] = token
            page = self._call("GET", "/images?" + urllib.parse.urlencode(q))
            for im in page.get("images") or []:
                if not isinstance(im, dict):
                    continue
                iid = str(im.get("id") or "")
                out.append({"ref": im.get("reference"),
                            "id": iid[7:] if iid.startswith("sha256:") else iid,
                            "size": im.get("size_bytes"), "layers": im.get("layers"),
                            "created": im.get("cached_at")})
            token = page.get("next_page_token")
            if not token:
                return out

    def remove_image(self, ref: str, force: bool = False) -> None:
        """The tenant drops an image by reference or id (the server keeps what another
        tenant holds). A reference is sent as its image's id: a path segment cannot hold
        its '/'."""
        key = next((i["id"] for i in self.images() if ref in (i["ref"], i["id"])), ref)
        self._call("DELETE", f"/images/{self._seg(key)}?force={'true' if force else 'false'}")

    def metrics(self) -> dict:
        """The tenant's runtime figures (needs the scope runtime:admin)."""
        return self._call("GET", "/metrics")

    def reclaim(self, idle: float = 0) -> list:
        """Reclaims unused memory from each of the tenant's running boxes, in the local
        reclaim()'s shape; with idle (seconds) only from those idle that long, as the server's
        library decides (POST .../reclaim?idle_ms=N)."""
        idle_ms = int(idle * 1000)
        if idle_ms < 0 or idle_ms > 2**31 - 1:
            raise ValueError(f"idle {idle}: expected 0 to 24 days in seconds")
        query = f"?idle_ms={idle_ms}" if idle_ms else ""
        out = []
        for b in self.list("running"):
            entry = {"id": b["box_id"], "name": b.get("name")}
            try:
                ans = self._call("POST", f"/boxes/{self._seg(b['box_id'])}/reclaim{query}")
                if ans.get("skipped"):
                    entry.update(idle_ms=ans.get("idle_ms"), skipped=True)
                else:
                    entry["freed_bytes"] = ans.get("freed_bytes")
            except (InvalidState, NotFound) as e:  # stopped or removed meanwhile
                entry["error"] = str(e)
            out.append(entry)
        return out

    def set_registries(self, registries: Optional[dict]) -> None:
        raise Unsupported("set_registries: a server pulls with its own registry settings "
                          "(Boxlite.rest)")

    def notices(self) -> List[str]:
        raise Unsupported("notices: what opening the home said is the server's (Boxlite.rest)")

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._token = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _create_request(o, name):
    doc = {"auto_remove": bool(o.auto_remove), "detach": bool(o.detach)}
    for key in ("image", "rootfs_path", "cpus", "memory_mib", "disk_size_gb", "working_dir",
                "user"):
        v = getattr(o, key)
        if v is not None:
            doc[key] = v
    if name or o.name:
        doc["name"] = name or o.name
    if o.env:
        doc["env"] = {str(k): str(v) for k, v in o.env.items()}
    if o.cmd is not None:
        doc["cmd"] = [str(c) for c in o.cmd]
    if o.entrypoint is not None:
        doc["entrypoint"] = [str(c) for c in o.entrypoint]
    if o.network in (False, "none"):
        doc["network"] = "disabled"
    if o.ports:
        from .options import _port
        doc["ports"] = []
        for p in o.ports:
            q = dict(_port(p))
            if "host_addr" in q:
                q["host_ip"] = q.pop("host_addr")
            doc["ports"].append(q)
    # what the REST API has no field for: refused, never silently dropped
    for key, default in (("volumes", []), ("allow_net", []), ("deny_net", []),
                         ("allow_host", []), ("engine", None), ("cpu_template", None),
                         ("healthcheck", None), ("restart", None), ("idle_pause_s", None),
                         ("balloon_target_mib", None), ("ksm", False), ("platform", None),
                         ("main_process", False), ("stdin_open", False), ("tty", False),
                         ("ready_timeout_ms", None), ("log_max_size", None),
                         ("log_max_files", None)):
        v = getattr(o, key)
        if v is None or v == default or (isinstance(default, list) and not v):
            continue
        raise Unsupported(f"{key}: not carried by the REST API (Boxlite.rest)")
    if not o.free_page_reporting:
        raise Unsupported("free_page_reporting: not carried by the REST API (Boxlite.rest)")
    return doc


def _local_keys(doc: dict) -> dict:
    """The API's Box with the local info()'s names beside its own, so code written for
    either runtime reads "id" and "state"."""
    if isinstance(doc.get("box_id"), str):
        doc.setdefault("id", doc["box_id"])
    if isinstance(doc.get("status"), str):
        doc.setdefault("state", doc["status"])
    return doc


class RestBox:
    """A box of a RestRuntime, with the local Box's calls the API carries."""

    def __init__(self, rt: RestRuntime, doc: dict):
        self._rt = rt
        bid = doc.get("box_id") if isinstance(doc, dict) else None
        if not isinstance(bid, str) or not bid or len(bid) > 128:
            raise ProtocolError("the server's Box has no box_id")
        self.id = bid
        self._set(doc)

    def _set(self, doc: dict) -> dict:
        self._doc = _local_keys(doc)
        n = doc.get("name")
        self.name = n if isinstance(n, str) else None
        return doc

    def __repr__(self):
        return f"<RestBox {self.id[:12]} {self.name or ''}>"

    def _path(self, tail="") -> str:
        return "/boxes/" + RestRuntime._seg(self.id) + tail

    def _post(self, tail, doc=None):
        return self._rt._call("POST", self._path(tail), doc)

    def info(self) -> dict:
        """The API's Box (box_id, name, status, created_at, image, cpus, memory_mib, ports,
        ...), with the local info()'s "id" and "state" beside box_id and status."""
        return self._set(self._rt._call("GET", self._path()))

    @property
    def state(self) -> str:
        return self.info().get("status")

    @property
    def status(self) -> str:
        """The state with what explains it, as locally: "running (healthy)", "stopped (main
        process exited with status 3)" (the server's status_text)."""
        info = self.info()
        return info.get("status_text") or info.get("status")

    @property
    def stop_reason(self) -> Optional[str]:
        """Why a stopped box stopped ("stopped" when asked to, "main process killed by
        OOM", ...), None while it runs or if it never ran."""
        return self.info().get("stop_reason")

    @property
    def exit_code(self) -> Optional[int]:
        """The main process's exit status once the box has stopped (the server's wait, which
        answers at once for a stopped box); None while it runs or when none ended it."""
        if self.info().get("status") != "stopped":
            return None
        code = self._post("/wait").get("exit_code")
        return code if isinstance(code, int) else None

    @property
    def health(self) -> Optional[str]:
        """"starting", "healthy" or "unhealthy" while a box with a health check runs."""
        return self.info().get("health")

    async def start(self) -> None:
        await _aio.blocking(self._rt._call, "POST", self._path("/start"))

    async def stop(self, timeout: float = 10.0) -> None:
        await _aio.blocking(self._rt._call, "POST", self._path("/stop"),
                            {"timeout_seconds": timeout})

    async def metrics(self) -> dict:
        """The API's BoxMetrics (the library's own figures under "boxlite")."""
        return await _aio.blocking(self._rt._call, "GET", self._path("/metrics"))

    async def kill(self, sig: int = 9) -> None:
        """Sends signal sig to the box's main process (POST .../kill); InvalidState when
        none is running."""
        await _aio.blocking(self._post, "/kill", {"signal": int(sig)})

    async def pause(self, timeout: float = 120.0) -> None:
        """Saves the box's memory and ends its VM, as the local pause (QEMU engine; refused
        while executions are open), within timeout seconds (0 or less: two minutes, as the
        library's own)."""
        await _aio.blocking(self._post, "/pause", {"timeout_seconds": max(0.0, float(timeout))})

    async def resume(self) -> None:
        await _aio.blocking(self._post, "/resume")

    async def fork(self, *names: str) -> list:
        """New running boxes from this box's memory and disk, one per name (at most 16):
        their RestBoxes."""
        if not names:
            raise ValueError("fork: give at least one name")
        ans = await _aio.blocking(self._post, "/fork", {"names": [str(n) for n in names]})
        boxes = ans.get("boxes") if ans else None
        if not isinstance(boxes, list) or len(boxes) != len(names):
            raise ProtocolError("fork: the answer does not list the forks")
        return [RestBox(self._rt, b) for b in boxes]

    async def set_balloon(self, target_mib: int) -> None:
        await _aio.blocking(self._post, "/balloon", {"target_mib": int(target_mib)})

    async def reclaim(self) -> dict:
        """{"id", "name", "freed_bytes"}, as the local reclaim()."""
        ans = await _aio.blocking(self._post, "/reclaim")
        return {"id": self.id, "name": self.name, "freed_bytes": ans.get("freed_bytes")}

    def console(self) -> str:
        """The last lines of the box's console log (GET .../logs?tail=1000, as much as the
        local console() gives)."""
        r, c = self._rt._open("GET", self._path("/logs?tail=1000"),
                              headers={"Accept": "text/event-stream"})
        out, total = [], 0
        try:
            if r.status != 200:
                _raise_for(r.status, r.read(65536), "console")
            for ev in _sse_events(r, "console"):
                doc = _event_json(ev, "console")
                if ev["event"] != "log":
                    break  # "end": what the log holds now was sent
                out.append(_event_bytes(doc, "console"))
                total += len(out[-1])
                if total > JSON_MAX:
                    raise ProtocolError(f"console: more than {JSON_MAX} bytes")
        finally:
            c.close()
        return b"".join(out).decode("utf-8", "replace")

    # ---- disk snapshots (the API's Snapshots), as the local Box has them ----
    async def snapshot_create(self, name: str) -> None:
        await _aio.blocking(self._rt._call, "POST", self._path("/snapshots"), {"name": name})

    def snapshots(self) -> list:
        """[{"name", "created" (unix seconds), "size_bytes"}], oldest first, as locally."""
        doc = self._rt._call("GET", self._path("/snapshots"))
        return [{"name": s.get("name"), "created": s.get("created_at"),
                 "size_bytes": s.get("size_bytes")}
                for s in doc.get("snapshots") or [] if isinstance(s, dict)]

    async def snapshot_restore(self, name: str) -> None:
        await _aio.blocking(self._rt._call, "POST",
                            self._path("/snapshots/" + RestRuntime._seg(name) + "/restore"))

    async def snapshot_remove(self, name: str) -> None:
        await _aio.blocking(self._rt._call, "DELETE",
                            self._path("/snapshots/" + RestRuntime._seg(name)))

    async def exec(self, cmd, *args: str, env: Optional[Dict[str, str]] = None,
                   cwd: Optional[str] = None, user: Optional[str] = None, tty: bool = False,
                   timeout: Optional[float] = None, rows: int = 24,
                   cols: int = 80) -> "RestExecution":
        """Starts cmd with args (booting the box first if needed); its output streams as
        Server-Sent Events. A program that cannot start is reported by wait()."""
        if isinstance(cmd, (list, tuple)):
            if args:
                raise TypeError("exec: give the command as one list or as arguments, not both")
            cmd, *args = cmd
        doc = {"command": str(cmd), "args": [str(a) for a in args]}
        if user is not None:
            doc["user"] = str(user)
        if env:
            doc["env"] = {str(k): str(v) for k, v in env.items()}
        if cwd is not None:
            doc["working_dir"] = cwd
        if tty:
            doc["tty"] = True
        if timeout is not None:
            if timeout <= 0:
                raise ValueError("exec: timeout must be positive")
            doc["timeout_seconds"] = max(0.1, float(timeout))
        ans = await _aio.blocking(self._rt._call, "POST", self._path("/exec"), doc)
        xid = ans.get("execution_id") if ans else None
        if not isinstance(xid, str) or not xid or len(xid) > 128:
            raise ProtocolError("exec: the server answered no execution_id")
        ex = RestExecution(self, xid, tty)
        if tty:
            ex.resize(rows, cols)
        return ex

    async def copy_in(self, src: str, dst: str) -> None:
        """Copies a host file or directory to dst in the box (dst becomes the copy)."""
        src = os.path.abspath(os.fspath(src))
        if not os.path.lexists(src):
            raise NotFound(f"copy {src} into the box: No such file or directory")
        await _aio.blocking(self._copy_in, src, dst)

    def _copy_in(self, src, dst):
        with tempfile.TemporaryFile() as f:
            with tarfile.open(fileobj=f, mode="w", format=tarfile.PAX_FORMAT) as t:
                t.add(src, arcname=".")
            size = f.tell()
            f.seek(0)
            r, c = self._rt._open("PUT", self._path("/files?path=" + RestRuntime._seg(dst)),
                                  body=f, headers={"Content-Type": "application/x-tar",
                                                   "Content-Length": str(size)})
            try:
                data = r.read(65536)
            finally:
                c.close()
            if r.status not in (200, 204):
                _raise_for(r.status, data, f"copy {src} into the box")

    async def copy_out(self, src: str, dst: str, max_bytes: int = 0) -> None:
        """Copies src (in the box) to dst on the host, as the local copy_out does: into
        dst/<name> when dst is a directory. max_bytes (0 = no limit) refuses a copy that
        would bring more."""
        await _aio.blocking(self._copy_out, src, os.path.abspath(os.fspath(dst)), max_bytes)

    def _copy_out(self, src, dst, max_bytes):
        name = src.rstrip("/").rsplit("/", 1)[-1]
        if not name or name in (".", ".."):
            raise InvalidArgument(f"copy out {src!r}: name a file or folder of the box")
        scratch = tempfile.mkdtemp(prefix=".boxlite-cp.", dir=os.path.dirname(dst) or ".")
        try:
            bound = max_bytes + max_bytes // 8 + 65536 if max_bytes else 0
            with open(os.path.join(scratch, "t.tar"), "w+b") as f:
                r, c = self._rt._open("GET", self._path("/files?path=" + RestRuntime._seg(src)),
                                      headers={"Accept": "application/x-tar"})
                try:
                    if r.status != 200:
                        _raise_for(r.status, r.read(65536), f"copy {src} out of the box")
                    got = 0
                    while True:
                        chunk = r.read(CHUNK)
                        if not chunk:
                            break
                        got += len(chunk)
                        if bound and got > bound:
                            raise InvalidArgument(f"copy {src} out of the box: more than "
                                                  f"{max_bytes} bytes")
                        f.write(chunk)
                finally:
                    c.close()
                f.seek(0)
                x = os.path.join(scratch, "x")
                os.mkdir(x, 0o700)
                try:
                    with tarfile.open(fileobj=f, mode="r:") as t:
                        _safe_extract(t, x, name, max_bytes, src)
                except (tarfile.TarError, OSError) as e:
                    raise ProtocolError(f"copy {src} out of the box: the archive: {e}") from None
            frm = os.path.join(x, name)
            if not os.path.lexists(frm):
                raise ProtocolError(f"copy {src}: the archive does not hold {name}")
            to = os.path.join(dst, name) if os.path.isdir(dst) else dst
            os.rename(frm, to)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    async def export(self, path: str) -> None:
        """Writes the box (options, image, disk) to an archive at path; the file appears
        whole or not at all."""
        await _aio.blocking(self._export, os.path.abspath(os.fspath(path)))

    def _export(self, path):
        fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".",
                                   dir=os.path.dirname(path))
        try:
            with os.fdopen(fd, "wb") as f:
                r, c = self._rt._open("POST", self._path("/export"), body=b"",
                                      headers={"Accept": "application/octet-stream"})
                try:
                    if r.status != 200:
                        _raise_for(r.status, r.read(65536), "export")
                    shutil.copyfileobj(r, f, CHUNK)
                finally:
                    c.close()
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o644)
            os.rename(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise

    def close(self) -> None:
        """Nothing to release (each call has its own connection); kept for the local API."""

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        """Stops the box if it runs, as the local Box does."""
        try:
            state = self.info().get("status")
        except NotFound:
            state = None
        if state == "running":
            await self.stop()


def _safe_extract(t, root: str, name: str, max_bytes: int, what: str) -> None:
    """Unpacks an archive from the box (the guest wrote it) under root, by our own rules
    (tarfile's "data" filter is not in every Python 3.11): names relative, without "..",
    beneath the copy's own name; regular files, folders and symlinks only; never through a
    symlink an earlier entry made; no setuid, setgid or sticky bits; owned by us; at most
    max_bytes (0: no bound) of file data."""
    total = 0
    for m in t:
        parts = [p for p in m.name.split("/") if p not in ("", ".")]
        if m.name.startswith("/") or ".." in parts or not parts or parts[0] != name:
            raise ProtocolError(f"copy {what}: an entry {m.name[:80]!r} outside the copy")
        if not (m.isreg() or m.isdir() or m.issym()):
            raise ProtocolError(f"copy {what}: {m.name[:80]!r} is not a file, folder or link")
        total += m.size if m.isreg() else 0
        if max_bytes and total > max_bytes:
            raise InvalidArgument(f"copy {what} out of the box: more than {max_bytes} bytes")
        parent = root
        for p in parts[:-1]:
            parent = os.path.join(parent, p)
            if not os.path.isdir(parent) or os.path.islink(parent):
                raise ProtocolError(f"copy {what}: {m.name[:80]!r} is not beneath a folder "
                                    "of the copy")
        path = os.path.join(parent, parts[-1])
        mode = (m.mode & 0o777) | (0o700 if m.isdir() else 0)
        if m.isdir():
            if os.path.lexists(path):
                if os.path.islink(path) or not os.path.isdir(path):
                    raise ProtocolError(f"copy {what}: {m.name[:80]!r} twice")
                os.chmod(path, mode)
            else:
                os.mkdir(path, mode)
        elif m.issym():
            os.symlink(m.linkname, path)
        else:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
            with os.fdopen(fd, "wb") as out, t.extractfile(m) as data:
                shutil.copyfileobj(data, out, CHUNK)


class _RestStdin:
    def __init__(self, ex: "RestExecution"):
        self._ex = ex
        self._lock = threading.Lock()

    def _send(self, data: bytes, close: bool):
        with self._lock:
            hdrs = {"Content-Type": "application/octet-stream"}
            if close:
                hdrs["X-Close-Stdin"] = "true"
            r, c = self._ex._box._rt._open("POST", self._ex._path("/input"), body=data,
                                           headers=hdrs)
            try:
                body = r.read(65536)
            finally:
                c.close()
            if r.status not in (200, 202, 204):
                _raise_for(r.status, body, "stdin")

    async def write(self, data) -> None:
        """Sends data to the process's stdin (in pieces of at most 1 MiB)."""
        if isinstance(data, str):
            data = data.encode()
        data = bytes(data)
        for off in range(0, len(data), CHUNK):
            await _aio.blocking(self._send, data[off:off + CHUNK], False)

    async def close(self) -> None:
        """End-of-file on the process's stdin."""
        await _aio.blocking(self._send, b"", True)


class RestExecution:
    """A process started by RestBox.exec: its output read from the server's event stream by
    a thread of its own (reconnecting with Last-Event-ID when cut), stdin, signals, resize,
    the result.

    Output nobody has read yet is bounded (QUEUE_MAX bytes): when it is full, the reader
    thread stops reading the stream, TCP pushes back on the server, the server's own bounded
    buffer fills and the process waits on its full pipe, as a local execution's does. As
    locally, wait() lifts the bound while it waits, so waiting without reading never stalls
    and the output is still there for stdout()/stderr() afterwards."""

    def __init__(self, box: RestBox, xid: str, tty: bool):
        self._box = box
        self.id = xid
        self.tty = tty
        self.stdin = _RestStdin(self)
        self._cond = threading.Condition()
        self._chunks = {"stdout": collections.deque(), "stderr": collections.deque()}
        self._queued = 0         # bytes in _chunks
        self._waiting = 0        # wait() calls under way: the bound is lifted
        self._conn = None        # the output stream's connection, shut by close()
        self._result = None
        self._error = None
        self._closed = False
        self._th = threading.Thread(target=self._reader, name="boxlite-rest-exec", daemon=True)
        self._th.start()

    def _path(self, tail="") -> str:
        return self._box._path("/executions/" + RestRuntime._seg(self.id) + tail)

    # ---- the event stream ----
    def _reader(self):
        last = None
        try:
            for _ in range(5):
                if self._stream(last_box := [last]):
                    return
                last = last_box[0]
            raise NetworkError("the output stream ended 5 times without the exit event")
        except BoxliteError as e:
            with self._cond:
                self._error = e
                self._cond.notify_all()
        except Exception as e:  # a reader thread must never die silently
            with self._cond:
                self._error = ProtocolError(f"output: {e}")
                self._cond.notify_all()

    def _stream(self, last) -> bool:
        hdrs = {"Accept": "text/event-stream"}
        if last[0]:
            hdrs["Last-Event-ID"] = last[0]
        r, c = self._box._rt._open("GET", self._path("/output"), headers=hdrs, timeout=3600)
        self._conn = c
        try:
            if self._closed:  # closed before the stream was there to shut
                return True
            if r.status != 200:
                _raise_for(r.status, r.read(65536), "output")
            for ev in _sse_events(r, "output", lambda: self._closed):
                if self._event(ev):
                    return True
                last[0] = ev["id"] or last[0]
            return self._closed  # cut midway: the next try asks for what follows `last`
        finally:
            self._conn = None
            c.close()

    def _event(self, ev) -> bool:
        kind = ev["event"]
        doc = _event_json(ev, "output")
        if kind in ("stdout", "stderr"):
            raw = _event_bytes(doc, f"output {kind}")
            with self._cond:
                # full: stop reading the stream until a reader (or a wait) makes room
                while self._queued >= QUEUE_MAX and not self._waiting and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return True
                self._chunks[kind].append(raw)
                self._queued += len(raw)
                self._cond.notify_all()
            return False
        if kind == "exit":
            code, sig = doc.get("exit_code"), doc.get("signal") or 0
            if not isinstance(code, int) or not -1 <= code <= 255 or not isinstance(sig, int):
                raise ProtocolError("output: a malformed exit event")
            timed_out = doc.get("timed_out") is True
            with self._cond:
                if code < 0:
                    why = doc.get("error") if isinstance(doc.get("error"), str) else ""
                    why = "".join(ch if ch.isprintable() else "?" for ch in why)[:500]
                    self._error = (NotFound if "No such file" in why else BoxliteError)(
                        why or "the server could not read the execution's end")
                else:
                    ms = doc.get("duration_ms") if isinstance(doc.get("duration_ms"), int) else 0
                    self._result = ExecResult(code - 128 if sig else code, sig, timed_out,
                                              ms / 1000.0)
                self._cond.notify_all()
            return True
        raise ProtocolError(f"output: an event of unknown type {kind[:16]!r}")

    def _ended(self) -> bool:
        return self._result is not None or self._error is not None or self._closed

    def _next(self, which: str) -> bytes:
        with self._cond:
            while True:
                chunks = self._chunks[which]
                if chunks:
                    chunk = chunks.popleft()
                    self._queued -= len(chunk)
                    self._cond.notify_all()
                    return chunk
                if self._ended():
                    return b""
                self._cond.wait()

    async def _chunks_of(self, which: str) -> AsyncIterator[bytes]:
        while True:
            chunk = await _aio.blocking(self._next, which)
            if not chunk:
                return
            yield chunk

    # ---- output, as the local Execution ----
    def stdout(self) -> AsyncIterator[str]:
        return _decode(self._chunks_of("stdout"))

    def stderr(self) -> AsyncIterator[str]:
        return _decode(self._chunks_of("stderr"))

    def stdout_bytes(self) -> AsyncIterator[bytes]:
        return self._chunks_of("stdout")

    def stderr_bytes(self) -> AsyncIterator[bytes]:
        return self._chunks_of("stderr")

    def _wait(self) -> ExecResult:
        with self._cond:
            self._waiting += 1
            self._cond.notify_all()
            try:
                while not self._ended():
                    self._cond.wait()
            finally:
                self._waiting -= 1
            if self._error is not None:
                raise self._error
            if self._result is None:
                raise InvalidState("the execution was closed")
            return self._result

    async def wait(self) -> ExecResult:
        """Waits for the process to end; raises NotFound for a program the box does not
        have, as the local wait() does."""
        return await _aio.blocking(self._wait)

    def kill(self, signal: int = _signal.SIGKILL) -> None:
        self._box._rt._call("POST", self._path("/signal"), {"signal": int(signal)})

    def resize(self, rows: int, cols: int) -> None:
        self._box._rt._call("POST", self._path("/resize"), {"cols": int(cols), "rows": int(rows)})

    def close(self) -> None:
        """Releases the execution: its output stream is shut and, as locally, a process still
        running is killed. Readers see end-of-file; a pending wait() raises InvalidState."""
        with self._cond:
            if self._closed:
                return
            running = self._result is None and self._error is None
            self._closed = True
            self._cond.notify_all()
            c = self._conn
        if c is not None and c.sock is not None:
            try:
                c.sock.shutdown(socket.SHUT_RDWR)  # the reader thread's read returns
            except OSError:
                pass
        if running:
            try:
                self.kill(_signal.SIGKILL)
            except BoxliteError:
                pass  # it ended meanwhile, or the server is gone: nothing is left to release

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        self.close()


async def _decode(chunks: AsyncIterator[bytes]) -> AsyncIterator[str]:
    dec = codecs.getincrementaldecoder("utf-8")("replace")
    async for chunk in chunks:
        text = dec.decode(chunk)
        if text:
            yield text
    tail = dec.decode(b"", final=True)
    if tail:
        yield tail
