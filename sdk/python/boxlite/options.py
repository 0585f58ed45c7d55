# SPDX-License-Identifier: Apache-2.0
"""BoxOptions: what a box is made of. Serialised to the C library's JSON options."""
import json
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple, Union

# A volume: (host_path, guest_path) or (host_path, guest_path, read_only) or a dict.
Volume = Union[Tuple[str, str], Tuple[str, str, bool], Dict]
# A port: (host_port, guest_port) or (host_port, guest_port, "udp") or a dict.
Port = Union[Tuple[int, int], Tuple[int, int, str], Dict]
# A host loopback port the box may reach: 5432, "5432", "53/udp" or a dict.
HostPort = Union[int, str, Dict]


@dataclass
class BoxOptions:
    image: Optional[str] = None
    rootfs_path: Optional[str] = None
    cpus: Optional[int] = None
    memory_mib: Optional[int] = None
    disk_size_gb: Optional[int] = None
    working_dir: Optional[str] = None
    user: Optional[str] = None
    env: Dict[str, str] = field(default_factory=dict)
    volumes: Sequence[Volume] = field(default_factory=list)
    ports: Sequence[Port] = field(default_factory=list)
    # True / "default": the internet, nothing of the host; False / "none": no network at all;
    # "netns:/run/netns/NAME": a tap in that network namespace, mirrored to its interface
    # (include/boxlite.h boxlite_options_set_network_mode)
    network: Union[bool, str] = True
    # rules: "198.51.100.0/24", "[2001:db8::1]:443", "api.example.com:443", "*.example.com"
    allow_net: Sequence[str] = field(default_factory=list)
    deny_net: Sequence[str] = field(default_factory=list)
    allow_host: Sequence[HostPort] = field(default_factory=list)
    auto_remove: bool = True
    detach: bool = False
    name: Optional[str] = None
    ready_timeout_ms: Optional[int] = None
    engine: Optional[str] = None
    # The box's main process (its exit stops the box; its output is the console log): cmd,
    # an entrypoint override, or main_process=True for the image's Entrypoint/Cmd.
    cmd: Optional[List[str]] = None
    # The KVM engine's CPU template: "auto" (None), "v3", "baseline" or "host".
    cpu_template: Optional[str] = None
    entrypoint: Optional[List[str]] = None
    main_process: bool = False
    # Docker's HEALTHCHECK: {"test": ["CMD-SHELL", "..."], "interval_ms": 30000,
    # "timeout_ms": 30000, "retries": 3, "start_period_ms": 0}; ["NONE"] disables the image's.
    healthcheck: Optional[Dict] = None
    # Console and per-box logs rotate at this size, keeping this many files.
    log_max_size: Optional[int] = None
    log_max_files: Optional[int] = None
    # Docker's restart policy for the main process, applied inside the box by its agent
    # (so it works whoever started the box): "no", "on-failure", "on-failure:N", "always"
    # or "unless-stopped"; the box's info counts restarts ("restart_count").
    restart: Optional[str] = None
    # Docker's -i for the main process: its stdin stays open for boxlite_box_attach_stdin.
    stdin_open: bool = False
    # Docker's -t for the main process: it runs on a terminal (its output is the log's).
    tty: bool = False
    # Auto-pause: seconds without an exec, copy or other use before the box pauses itself
    # (memory saved, nothing runs; its next use resumes it). None/0: never.
    idle_pause_s: Optional[int] = None
    # Density: the guest memory (MiB) the guest may keep (the balloon holds the rest; None/0:
    # no target), free page reporting (memory the guest frees goes back to the host; on by
    # default), and KSM (off by default: merging pages across boxes opens a side channel
    # between them; turn it on only for boxes that trust each other).
    balloon_target_mib: Optional[int] = None
    free_page_reporting: bool = True
    ksm: bool = False
    # The box's platform, "linux/arm64" or "linux/amd64" (None: the host's): the image
    # index's variant it runs and the guest's architecture (another than the host's runs
    # on the QEMU engine under TCG).
    platform: Optional[str] = None

    def to_json(self, name: Optional[str] = None) -> str:
        doc = {"network": self.network, "auto_remove": self.auto_remove, "detach": self.detach}
        for key in ("image", "rootfs_path", "cpus", "memory_mib", "disk_size_gb", "working_dir",
                    "user", "ready_timeout_ms", "engine", "cpu_template", "platform"):
            value = getattr(self, key)
            if value is not None:
                doc[key] = value
        if name or self.name:
            doc["name"] = name or self.name
        if self.env:
            doc["env"] = {str(k): str(v) for k, v in self.env.items()}
        if self.cmd is not None:
            doc["cmd"] = [str(c) for c in self.cmd]
        if self.entrypoint is not None:
            doc["entrypoint"] = [str(c) for c in self.entrypoint]
        if self.main_process:
            doc["main_process"] = True
        if self.healthcheck is not None:
            doc["healthcheck"] = dict(self.healthcheck)
        if self.idle_pause_s:
            doc["idle_pause_s"] = int(self.idle_pause_s)
        if self.balloon_target_mib:
            doc["balloon_target_mib"] = int(self.balloon_target_mib)
        if not self.free_page_reporting:
            doc["free_page_reporting"] = False
        if self.ksm:
            doc["ksm"] = True
        for key in ("log_max_size", "log_max_files"):
            value = getattr(self, key)
            if value is not None:
                doc[key] = int(value)
        if self.restart is not None:
            policy, _, count = str(self.restart).partition(":")
            doc["restart"] = policy
            if count:
                doc["restart_max"] = int(count)
        if self.stdin_open:
            doc["stdin_open"] = True
        if self.tty:
            doc["tty"] = True
        doc["volumes"] = [_volume(v) for v in self.volumes]
        doc["ports"] = [_port(p) for p in self.ports]
        if self.allow_net:
            doc["allow_net"] = [str(r) for r in self.allow_net]
        if self.deny_net:
            doc["deny_net"] = [str(r) for r in self.deny_net]
        if self.allow_host:
            doc["allow_host"] = [_host_port(h) for h in self.allow_host]
        return json.dumps(doc)


def _volume(v) -> dict:
    if isinstance(v, dict):
        return v
    host, guest, *rest = v
    return {"host_path": str(host), "guest_path": str(guest), "read_only": bool(rest and rest[0])}


def _port(p) -> dict:
    if isinstance(p, dict):
        return p
    host, guest, *rest = p
    return {"host_port": int(host), "guest_port": int(guest),
            "protocol": rest[0] if rest else "tcp"}


def _host_port(h) -> dict:
    if isinstance(h, dict):
        return h
    if isinstance(h, int) and not isinstance(h, bool):
        return {"port": h, "protocol": "tcp"}
    port, _, proto = str(h).partition("/")
    try:
        number = int(port)
    except ValueError:
        raise ValueError(f"allow_host {h!r}: expected PORT or PORT/udp") from None
    return {"port": number, "protocol": proto or "tcp"}
