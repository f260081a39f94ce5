"""Fixtures: real Kafka and PostgreSQL, signing keys, the three services in this process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.common.auth import Role, mint_token
from services.common.keys import load_or_create_signing_key, public_key_path
from tests.infrastructure import Infrastructure, test_infrastructure

ISSUER = "safeguarding-exchange-local"
AUDIENCE = "safeguarding-exchange"


@pytest.fixture(scope="session")
def infrastructure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Infrastructure]:
    """Real Kafka and a fresh PostgreSQL database for the whole run; never skipped."""
    try:
        with test_infrastructure(tmp_path_factory.mktemp("infrastructure")) as found:
            yield found
    except RuntimeError as error:
        pytest.fail(str(error), pytrace=False)


@pytest.fixture(scope="session")
def signing_key_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A token signing key for the run (0600), with its public half beside it."""
    path = tmp_path_factory.mktemp("keys") / "token-signing.pem"
    load_or_create_signing_key(path)
    return path


@pytest.fixture(scope="session")
def audit_key_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The key that signs the run's audit tree heads (0600)."""
    path = tmp_path_factory.mktemp("audit-key") / "audit-tree-head.pem"
    load_or_create_signing_key(path)
    return path


@pytest.fixture(scope="session")
def signing_key(signing_key_path: Path) -> Ed25519PrivateKey:
    """The private half of the run's token signing key."""
    return load_or_create_signing_key(signing_key_path)


@pytest.fixture(scope="session")
def token(signing_key: Ed25519PrivateKey):  # type: ignore[no-untyped-def]
    """token(agency, role, subject) -> a valid bearer token."""

    def make(agency: str, role: str = "agency_system", subject: str = "tester") -> str:
        return mint_token(signing_key, agency=agency, role=Role(role), subject=subject,
                          issuer=ISSUER, audience=AUDIENCE)  # fmt: skip

    return make


@pytest.fixture(scope="session")
def service_environment(infrastructure: Infrastructure, signing_key_path: Path) -> dict[str, str]:
    """Settings the services of the run share."""
    return {
        "database_url": infrastructure.database_url,
        "kafka_bootstrap_servers": infrastructure.kafka_bootstrap_servers,
        "jwt_public_key_path": str(public_key_path(signing_key_path)),
    }


@dataclass
class Services:
    """The three services running in this process, each with an HTTP client."""

    intake: httpx.AsyncClient
    routing: httpx.AsyncClient
    audit: httpx.AsyncClient
    # The apps themselves, for a test that runs one of a service's jobs on its runtime or
    # changes what one of them holds (its partnership).
    apps: dict[str, Any] = field(default_factory=dict)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def services(
    service_environment: dict[str, str], audit_key_path: Path
) -> AsyncIterator[Services]:
    """Intake, routing and audit on real Kafka and PostgreSQL, for the whole run."""
    from services.audit.app import build_app as build_audit
    from services.audit.settings import AuditSettings
    from services.intake.app import build_app as build_intake
    from services.intake.settings import IntakeSettings
    from services.routing.app import build_app as build_routing
    from services.routing.settings import RoutingSettings

    apps = {
        "intake": build_intake(IntakeSettings(**service_environment)),
        "routing": build_routing(RoutingSettings(**service_environment)),
        "audit": build_audit(
            AuditSettings(**service_environment, audit_signing_key_path=audit_key_path)
        ),
    }
    async with AsyncExitStack() as stack:
        clients = {}
        for name, app in apps.items():
            await stack.enter_async_context(app.router.lifespan_context(app))
            clients[name] = await stack.enter_async_context(
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://{name}")
            )
        yield Services(**clients, apps=apps)
