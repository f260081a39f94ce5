"""Where each service spends its time during the run: py-spy flame graphs, one per service."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from bench.report import say
from bench.soak import SERVICES
from deploy.local.processes import pid_of
from deploy.local.stack import default_home, service_pidfile


@dataclass(frozen=True)
class Profiling:
    """One py-spy process sampling one service."""

    service: str
    output: Path
    process: subprocess.Popen[bytes]


def _py_spy() -> str | None:
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


def start_profiles(directory: Path) -> list[Profiling]:
    """Start sampling every running service (nothing, with a note, if that is impossible)."""
    py_spy = _py_spy()
    if py_spy is None:
        say("  (no py-spy: install the bench extra to profile)")
        return []
    directory.mkdir(parents=True, exist_ok=True)
    started = []
    for service in SERVICES:
        pid = pid_of(service_pidfile(default_home(), service))
        if pid is None:
            say(f"  ({service} is not running from this stack's pid files: not profiled)")
            continue
        output = directory / f"profile-{service}.svg"
        process = subprocess.Popen(
            [py_spy, "record", "--pid", str(pid), "--rate", "100", "--output", str(output),
             "--format", "flamegraph"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        started.append(Profiling(service, output, process))
    return started


def finish_profiles(profiles: list[Profiling]) -> list[Path]:
    """Stop sampling (py-spy writes its graph on SIGINT); the flame graphs written."""
    written = []
    for profiling in profiles:
        profiling.process.send_signal(signal.SIGINT)
    for profiling in profiles:
        try:
            _, error = profiling.process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            profiling.process.kill()
            _, error = profiling.process.communicate()
        if profiling.output.exists():
            written.append(profiling.output)
        else:
            reason = error.decode(errors="replace").strip().splitlines()[-1:] or ["unknown"]
            say(f"  (no profile of {profiling.service}: {reason[0]})")
    return written
