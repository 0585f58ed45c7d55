"""BoxOptions: what a box is made of. Serialised to the C library's JSON options."""
import json
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple, Union

# A volume: (host_path, guest_path) or (host_path, guest_path, read_only) or a dict.
Volume = Union[Tuple[str, str], Tuple[str, str, bool], Dict]
# A port: (host_port, guest_port) or (host_port, guest_port, "udp") or a dict.
Port = Union[Tuple[int, int], Tuple[int, int, str], Dict]


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
    network: bool = True
    auto_remove: bool = True
    detach: bool = False
    name: Optional[str] = None
    ready_timeout_ms: Optional[int] = None
    engine: Optional[str] = None
    # The box's main process (its exit stops the box; its output is the console log): cmd,
    # an entrypoint override, or main_process=True for the image's Entrypoint/Cmd.
    cmd: Optional[List[str]] = None
    entrypoint: Optional[List[str]] = None
    main_process: bool = False
    # Docker's HEALTHCHECK: {"test": ["CMD-SHELL", "..."], "interval_ms": 30000,
    # "timeout_ms": 30000, "retries": 3, "start_period_ms": 0}; ["NONE"] disables the image's.
    healthcheck: Optional[Dict] = None
    # Console and per-box logs rotate at this size, keeping this many files.
    log_max_size: Optional[int] = None
    log_max_files: Optional[int] = None

    def to_json(self, name: Optional[str] = None) -> str:
        doc = {"network": self.network, "auto_remove": self.auto_remove, "detach": self.detach}
        for key in ("image", "rootfs_path", "cpus", "memory_mib", "disk_size_gb", "working_dir",
                    "user", "ready_timeout_ms", "engine"):
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
        for key in ("log_max_size", "log_max_files"):
            value = getattr(self, key)
            if value is not None:
                doc[key] = int(value)
        doc["volumes"] = [_volume(v) for v in self.volumes]
        doc["ports"] = [_port(p) for p in self.ports]
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
