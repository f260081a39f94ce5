"""Start, find and stop the background processes of the local stack."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path


class StartupError(RuntimeError):
    """A part of the local stack did not come up; the message says what to do."""


def pid_of(pidfile: Path) -> int | None:
    """The pid recorded in pidfile when that process is still alive."""
    try:
        pid = int(pidfile.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    # A zombie child counts as gone.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except (FileNotFoundError, IndexError):
        return pid
    return None if state == "Z" else pid


def start_daemon(
    command: Sequence[str],
    *,
    pidfile: Path,
    logfile: Path,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> int:
    """Start command detached from this terminal, logging to logfile; return its pid."""
    logfile.parent.mkdir(parents=True, exist_ok=True)
    with logfile.open("ab") as log:
        process = subprocess.Popen(
            list(command),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            start_new_session=True,
        )
    pidfile.write_text(str(process.pid))
    return process.pid


def stop_process(pidfile: Path, *, timeout: float = 20.0) -> bool:
    """Stop the process in pidfile (TERM, then KILL); True if one was running."""
    pid = pid_of(pidfile)
    if pid is None:
        pidfile.unlink(missing_ok=True)
        return False
    _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and pid_of(pidfile) is not None:
        _reap(pid)
        time.sleep(0.1)
    if pid_of(pidfile) is not None:
        _signal_group(pid, signal.SIGKILL)
        time.sleep(0.2)
        _reap(pid)
    pidfile.unlink(missing_ok=True)
    return True


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def port_open(host: str, port: int) -> bool:
    """Whether something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_until(
    ready: Callable[[], bool],
    *,
    timeout: float,
    what: str,
    alive: Callable[[], bool] | None = None,
    logfile: Path | None = None,
) -> None:
    """Poll ready() until true; fail with the log's tail if the process dies or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        if alive is not None and not alive():
            raise StartupError(f"{what} exited while starting.{_tail(logfile)}")
        time.sleep(0.2)
    raise StartupError(f"{what} was not ready after {timeout:.0f} s.{_tail(logfile)}")


def _tail(logfile: Path | None, lines: int = 25) -> str:
    if logfile is None or not logfile.exists():
        return ""
    text = logfile.read_text(errors="replace").splitlines()[-lines:]
    return f"\nLast lines of {logfile}:\n" + "\n".join(text)
