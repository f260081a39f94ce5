"""Picking up a changed partnership file without a restart: on SIGHUP, or when the file changes."""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import os
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path

import structlog

from services.partnership.holder import PartnershipHolder, PolicyVersion, Reload

log = structlog.get_logger()
OnApplied = Callable[[PolicyVersion, str], Awaitable[None]]
POLL_SECONDS = 3.0


def operator_of(path: Path) -> str:
    """Who applied the file: `<file>.operator` (written by `safeguard policy apply`), else the
    SAFEGUARD_OPERATOR environment variable, else the service's OS user."""
    sidecar = path.with_name(path.name + ".operator")
    with contextlib.suppress(OSError, UnicodeDecodeError):
        named = sidecar.read_text(encoding="utf-8").strip()
        if named:
            return named[:100]
    return os.environ.get("SAFEGUARD_OPERATOR") or getpass.getuser()


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        found = path.stat()
    except OSError:
        return None
    return found.st_mtime_ns, found.st_size


async def reload_once(holder: PartnershipHolder) -> Reload:
    """Read the file again; log a refusal (places only) or the version that came into force."""
    outcome = holder.reload()
    if outcome.refused:
        log.warning(
            "partnership.refused",
            policy_version=holder.current.policy_version,
            problems=len(outcome.problems),
            places=[f"{p.place}:{p.line}" if p.line else p.place for p in outcome.problems],
        )
    elif outcome.applied is not None:
        log.info(
            "partnership.applied",
            policy_version=outcome.applied.version,
            sha256=outcome.applied.sha256,
        )
    return outcome


async def watch_partnership(
    holder: PartnershipHolder,
    on_applied: OnApplied | None = None,
    *,
    interval: float = POLL_SECONDS,
) -> None:
    """Reload on SIGHUP at once, and whenever the file's mtime or size changes (checked by
    SHA-256 before anything is applied), until cancelled; announce each version in force,
    the first one included, retrying until the announcement succeeds."""
    wake = asyncio.Event()
    loop = asyncio.get_running_loop()
    hooked = False
    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
        # Only the main thread's loop may take signals; a test's app in a thread polls only.
        loop.add_signal_handler(signal.SIGHUP, wake.set)
        hooked = True
    seen = _stamp(holder.path)
    unannounced: PolicyVersion | None = holder.in_force
    try:
        while True:
            if unannounced is not None and on_applied is not None:
                try:
                    await on_applied(unannounced, operator_of(holder.path))
                    unannounced = None
                except Exception:
                    log.exception(
                        "partnership.announce_failed", policy_version=holder.current.policy_version
                    )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=interval)
            asked, stamp = wake.is_set(), _stamp(holder.path)
            wake.clear()
            if asked or stamp != seen:
                seen = stamp
                outcome = await reload_once(holder)
                unannounced = outcome.applied or unannounced
    finally:
        if hooked:
            loop.remove_signal_handler(signal.SIGHUP)
