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
from services.partnership.loader import Problem

log = structlog.get_logger()
OnApplied = Callable[[PolicyVersion, str], Awaitable[None]]
# Asked before a new version is applied: a problem refuses it (e.g. its name is on record
# elsewhere under another text, which the holder, knowing only this process, cannot see).
Admit = Callable[[PolicyVersion], Awaitable[Problem | None]]
POLL_SECONDS = 3.0


def operator_of(path: Path) -> str:
    """Who applied the file: `<file>.operator`, else $SAFEGUARD_OPERATOR, else the OS user."""
    # `safeguard policy apply --operator` writes the sidecar file before it replaces the policy.
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


# Every watcher of the process (a test runs several services in one) wakes on one SIGHUP.
_WAKERS: set[asyncio.Event] = set()
# The loop that took SIGHUP, if one could: only the main thread's loop may (a watcher on another
# thread's loop polls the file only, and must not keep a later main-loop watcher from taking it).
_SIGNAL_LOOP: list[asyncio.AbstractEventLoop] = []


def _wake_all() -> None:
    for wake in _WAKERS:
        wake.set()


def _listen(wake: asyncio.Event) -> None:
    if not _SIGNAL_LOOP:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signal.SIGHUP, _wake_all)
            _SIGNAL_LOOP.append(loop)
    _WAKERS.add(wake)


def _stop_listening(wake: asyncio.Event) -> None:
    _WAKERS.discard(wake)
    if not _WAKERS and _SIGNAL_LOOP and _SIGNAL_LOOP[0] is asyncio.get_running_loop():
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            _SIGNAL_LOOP.pop().remove_signal_handler(signal.SIGHUP)


async def _reload(holder: PartnershipHolder, admit: Admit | None) -> Reload:
    candidate = holder.read()
    if isinstance(candidate, Reload):
        return candidate
    if admit is not None and candidate.sha256 != holder.in_force.sha256:
        problem = await admit(candidate)
        if problem is not None:
            return Reload(problems=(problem,))
    return holder.offer(candidate)


async def reload_once(holder: PartnershipHolder, admit: Admit | None = None) -> Reload:
    """Read the file again; log a refusal (places only) or the version that came into force.

    `admit`, if given, is asked about a new version before the holder applies it; if it fails
    (raises), nothing is applied and the error propagates, so the caller can look again later.
    """
    outcome = await _reload(holder, admit)
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
    admit: Admit | None = None,
    interval: float = POLL_SECONDS,
) -> None:
    """Reload on SIGHUP or a changed file until cancelled; announce each version put in force.

    A new version is applied only if `admit` (when given) finds no problem with it.
    """
    # The mtime and size only say when to look: the SHA-256 decides whether anything changed.
    wake = asyncio.Event()
    _listen(wake)
    seen = _stamp(holder.path)
    # Each version in force is announced, in order, even one soon replaced.
    unannounced: list[PolicyVersion] = [holder.in_force]
    look_again = False
    try:
        while True:
            while unannounced and on_applied is not None:
                pending = unannounced[0]
                try:
                    await on_applied(pending, operator_of(holder.path))
                    unannounced.pop(0)
                except Exception as error:  # e.g. the database is away: try again next time
                    log.warning(
                        "partnership.announce_failed",
                        policy_version=pending.version,
                        error=type(error).__name__,
                        retry_in=interval,
                    )
                    break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=interval)
            asked, stamp = wake.is_set(), _stamp(holder.path)
            wake.clear()
            if asked or look_again or stamp != seen:
                try:
                    outcome = await reload_once(holder, admit)
                except Exception as error:  # the admission could not be decided: look again
                    log.warning(
                        "partnership.admission_failed",
                        policy_version=holder.current.policy_version,
                        error=type(error).__name__,
                        retry_in=interval,
                    )
                    look_again = True
                    continue
                seen, look_again = stamp, False
                if outcome.applied is not None:
                    unannounced.append(outcome.applied)
    finally:
        _stop_listening(wake)
