"""The whole local stack: PostgreSQL, Kafka, topics, keys and the services and web pages."""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from deploy.local.kafka import LocalKafka
from deploy.local.postgres import LocalPostgres
from deploy.local.processes import StartupError, pid_of, start_daemon, stop_process, wait_until
from services.common.keys import load_or_create_signing_key, public_key_path

SERVICES = {
    "intake": 8001, "routing": 8002, "audit": 8003, "web": 8004, "delivery": 8005,
    "receiver": 8006,
}  # fmt: skip


def from_environment(home: Path | None = None) -> LocalStack:
    """This checkout's stack; KAFKA_PORT, POSTGRES_PORT and <SERVICE>_PORT override ports."""
    return LocalStack(
        home or default_home(),
        kafka_port=int(os.environ.get("KAFKA_PORT", 9092)),
        postgres_port=int(os.environ.get("POSTGRES_PORT", 5432)),
        service_ports={
            name: int(os.environ.get(f"{name.upper()}_PORT", port))
            for name, port in SERVICES.items()
        },
    )


def service_pidfile(home: Path, name: str) -> Path:
    """Where a stack kept under `home` records a service's process id."""
    return home / "run" / f"{name}.pid"


def default_home() -> Path:
    """Where the stack keeps its state: $SAFEGUARD_HOME, else ./.safeguard."""
    return Path(os.environ.get("SAFEGUARD_HOME", Path.cwd() / ".safeguard")).resolve()


def say(message: str) -> None:
    """Progress for the person waiting."""
    print(message, flush=True)


@dataclass
class LocalStack:
    """Everything `safeguard up` starts, under one folder, on chosen ports."""

    home: Path
    kafka_port: int = 9092
    postgres_port: int = 5432
    service_ports: dict[str, int] | None = None

    def __post_init__(self) -> None:
        self.ports = dict(self.service_ports or SERVICES)
        self.kafka = LocalKafka(self.home / "kafka", port=self.kafka_port,
                                controller_port=self.kafka_port + 1)  # fmt: skip
        self.postgres = LocalPostgres(self.home / "postgres", port=self.postgres_port)

    @property
    def signing_key(self) -> Path:
        return self.home / "keys" / "token-signing.pem"

    @property
    def audit_key(self) -> Path:
        return self.home / "keys" / "audit-tree-head.pem"

    @property
    def receiver_secret(self) -> Path:
        return self.home / "keys" / "receiver-webhook.secret"

    @property
    def local_partnership(self) -> Path:
        return self.home / "partnership.yaml"

    @property
    def env_file(self) -> Path:
        return self.home / "stack.env"

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def environment(self, partnership: Path | None) -> dict[str, str]:
        """The settings every service and tool of this stack reads."""
        env = {
            "DATABASE_URL": os.environ.get("DATABASE_URL") or self.postgres.url(),
            "KAFKA_BOOTSTRAP_SERVERS": os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
            or self.kafka.bootstrap_servers,
            "JWT_PUBLIC_KEY_PATH": str(public_key_path(self.signing_key)),
            "JWT_SIGNING_KEY_PATH": str(self.signing_key),
            "AUDIT_SIGNING_KEY_PATH": str(self.audit_key),
            "RECEIVER_WEBHOOK_SECRET_PATH": str(self.receiver_secret),
            **{f"{name.upper()}_URL": self.url(name) for name in self.ports},
            **{f"{name.upper()}_PORT": str(port) for name, port in self.ports.items()},
        }
        env["SAFEGUARD_PARTNERSHIP"] = str((partnership or self.local_partnership).resolve())
        return env

    def up(self, partnership: Path | None = None) -> dict[str, str]:
        """Start every part not yet running, wait until each is ready; the stack's settings.

        The partnership is the one given, else $SAFEGUARD_PARTNERSHIP, else the stack's own.
        """
        named = os.environ.get("SAFEGUARD_PARTNERSHIP")
        partnership = partnership or (Path(named) if named else None)
        started = time.monotonic()
        self.home.mkdir(parents=True, exist_ok=True)
        say("[1/5] keys")
        load_or_create_signing_key(self.signing_key)
        load_or_create_signing_key(self.audit_key)
        self._prepare_receiver(write_partnership=partnership is None)
        if os.environ.get("DATABASE_URL"):
            say("[2/5] PostgreSQL: using DATABASE_URL")
        else:
            say(f"[2/5] PostgreSQL on 127.0.0.1:{self.postgres_port}")
            self.postgres.start()
        if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
            say("[3/5] Kafka: using KAFKA_BOOTSTRAP_SERVERS")
        else:
            say(f"[3/5] Kafka (KRaft) on {self.kafka.bootstrap_servers}")
            self.kafka.start()
        env = self.environment(partnership)
        say("[4/5] topics and database schemas")
        self._prepare(env)
        say("[5/5] services")
        for name in self.ports:
            self._start_service(name, env)
        for name in self.ports:
            self._wait_ready(name)
            say(f"      {name:<8} ready at {self.url(name)}")
        self._write_env(env)
        say(f"Up in {time.monotonic() - started:.0f} s; settings in {self.env_file}")
        return env

    def down(self) -> list[str]:
        """Stop everything this stack started; the names of what was running."""
        stopped = [name for name in self.ports if stop_process(self._pidfile(name))]
        if self.kafka.stop():
            stopped.append("kafka")
        if self.postgres.stop():
            stopped.append("postgresql")
        return stopped

    def status(self) -> dict[str, bool]:
        """Which parts are running."""
        running = {name: pid_of(self._pidfile(name)) is not None for name in self.ports}
        return {**running, "kafka": self.kafka.running(), "postgresql": self.postgres.running()}

    def _pidfile(self, name: str) -> Path:
        return service_pidfile(self.home, name)

    def _prepare(self, env: dict[str, str]) -> None:
        from services.audit.app import migrate_audit
        from services.common.kafka import ensure_topics
        from services.common.settings import ServiceSettings
        from services.delivery.app import migrate_delivery
        from services.intake.app import migrate_intake
        from services.routing.app import migrate_routing

        settings = ServiceSettings(
            database_url=env["DATABASE_URL"], kafka_bootstrap_servers=env["KAFKA_BOOTSTRAP_SERVERS"]
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                asyncio.run(ensure_topics(settings))
                break
            except Exception as error:
                if time.monotonic() > deadline:
                    raise StartupError(f"Could not create Kafka topics: {error}") from error
                time.sleep(1)
        for migrate in (migrate_intake, migrate_routing, migrate_audit, migrate_delivery):
            migrate(env["DATABASE_URL"])

    def _prepare_receiver(self, *, write_partnership: bool) -> None:
        """The stand-in records system's signing secret (0600), and the partnership pointing
        at it unless another was given; each made once, kept after."""
        from deploy.local.receiver import local_partnership
        from services.partnership import default_partnership_path

        if not self.receiver_secret.exists():
            self.receiver_secret.parent.mkdir(parents=True, exist_ok=True)
            secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
            descriptor = os.open(self.receiver_secret, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w") as handle:
                handle.write(secret)
        if write_partnership and not self.local_partnership.exists():
            reference = default_partnership_path().read_text(encoding="utf-8")
            self.local_partnership.write_text(
                local_partnership(reference, self.url("receiver")), encoding="utf-8"
            )

    def _start_service(self, name: str, env: dict[str, str]) -> None:
        pidfile = self._pidfile(name)
        pidfile.parent.mkdir(parents=True, exist_ok=True)
        if pid_of(pidfile) is not None:
            return
        if name == "delivery":
            # Only delivery signs with it; it is never written to stack.env or a log.
            from deploy.local.receiver import SECRET_ENV

            env = {**env, SECRET_ENV: self.receiver_secret.read_text(encoding="utf-8").strip()}
        start_daemon(
            [sys.executable, "-m", "deploy.cli", "run", name],
            pidfile=pidfile,
            logfile=self.home / "logs" / f"{name}.log",
            env=env,
        )

    def _wait_ready(self, name: str) -> None:
        def ready() -> bool:
            try:
                return httpx.get(f"{self.url(name)}/readyz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        dead: list[str] = []

        def alive() -> bool:
            # Any service, not only this one: web is ready only when routing and audit are, so
            # a dead routing would otherwise show as web not ready after the whole timeout.
            dead[:] = [other for other in self.ports if pid_of(self._pidfile(other)) is None]
            return not dead

        try:
            wait_until(
                ready,
                timeout=90,
                what=f"The {name} service",
                alive=alive,
                logfile=self.home / "logs" / f"{name}.log",
            )
        except StartupError as error:
            if dead and dead != [name]:
                logs = ", ".join(str(self.home / "logs" / f"{other}.log") for other in dead)
                raise StartupError(
                    f"{', '.join(dead)} exited while {name} was starting; see {logs}"
                ) from error
            raise

    def _write_env(self, env: dict[str, str]) -> None:
        keys = [
            *("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL", "INTAKE_URL", "ROUTING_URL", "AUDIT_URL"),
            *("WEB_URL", "DELIVERY_URL", "RECEIVER_URL", "SAFEGUARD_PARTNERSHIP"),
            *("JWT_PUBLIC_KEY_PATH", "JWT_SIGNING_KEY_PATH", "AUDIT_SIGNING_KEY_PATH"),
        ]
        descriptor = os.open(self.env_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.writelines(f"{key}={env[key]}\n" for key in keys if key in env)
        # The file holds the database password.
        self.env_file.chmod(0o600)
