"""CPU time of every process of the stack, read from each process's own counters (psutil).

The stack's processes: each service from its pid file (`<home>/run/<name>.pid`), Kafka's JVM
(`<home>/kafka/kafka.pid`) and PostgreSQL's postmaster (`<home>/postgres/data/postmaster.pid`),
or, when the stack uses a broker or database of its own, whatever listens on their ports.
A process's figure is its tree's: its own user + system time, that of its live descendants, and
that of the children it has reaped (how PostgreSQL's exited backends are still counted).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import psutil

from deploy.local.processes import pid_of


def _listening_pid(port: int) -> int | None:
    with contextlib.suppress(psutil.Error, OSError):
        for connection in psutil.net_connections(kind="tcp"):
            if connection.status == psutil.CONN_LISTEN and connection.laddr.port == port:
                return int(connection.pid)
    return None


def _port(url: str) -> int | None:
    first = url.split(",")[0]
    with contextlib.suppress(ValueError):
        return urlsplit(first if "://" in first else f"kafka://{first}").port
    return None


def stack_processes(home: Path, env: Mapping[str, str]) -> dict[str, int]:
    """The stack's processes by name (intake, ..., kafka, postgresql) and their pids."""
    pids: dict[str, int] = {}
    for pidfile in sorted((home / "run").glob("*.pid")):
        if (pid := pid_of(pidfile)) is not None:
            pids[pidfile.stem] = pid
    found = {
        "kafka": pid_of(home / "kafka" / "kafka.pid"),
        "postgresql": _postmaster(home / "postgres" / "data" / "postmaster.pid"),
    }
    listening = {"kafka": "KAFKA_BOOTSTRAP_SERVERS", "postgresql": "DATABASE_URL"}
    for name, pid in found.items():
        if pid is None and (port := _port(env.get(listening[name], ""))) is not None:
            pid = _listening_pid(port)
        if pid is not None:
            pids[name] = pid
    return pids


def _postmaster(path: Path) -> int | None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        pid = int(path.read_text().splitlines()[0])
        return pid if psutil.pid_exists(pid) else None
    return None


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of a process, its live descendants and the children they reaped."""
    process = psutil.Process(pid)
    total = 0.0
    for member in (process, *process.children(recursive=True)):
        with contextlib.suppress(psutil.NoSuchProcess):
            times = member.cpu_times()
            total += times.user + times.system + times.children_user + times.children_system
    return total


@dataclass
class CpuMeter:
    """CPU seconds each stack process spends between `start` and `stop`."""

    pids: dict[str, int]
    started: dict[str, float] = field(default_factory=dict)

    def start(self) -> None:
        self.started = self._read()

    def stop(self) -> dict[str, float]:
        """Seconds spent since `start`, by process (those gone meanwhile are left out)."""
        now = self._read()
        return {name: now[name] - self.started[name] for name in now if name in self.started}

    def _read(self) -> dict[str, float]:
        read = {}
        for name, pid in self.pids.items():
            with contextlib.suppress(psutil.NoSuchProcess):
                read[name] = tree_cpu_seconds(pid)
        return read


def ms_per_concern(spent: Mapping[str, float], concerns: int) -> dict[str, float]:
    """CPU milliseconds per concern, by process and in all (`total`)."""
    if concerns <= 0:
        return {name: 0.0 for name in (*spent, "total")}
    shares = {name: round(seconds * 1000 / concerns, 3) for name, seconds in spent.items()}
    return shares | {"total": round(sum(spent.values()) * 1000 / concerns, 3)}
