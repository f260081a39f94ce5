"""`safeguard up` brings the whole stack up on real Kafka and PostgreSQL; `down` leaves nothing."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from deploy.local.processes import port_open
from tests.builders import a_concern_body
from tests.infrastructure import free_port

pytestmark = pytest.mark.e2e


def safeguard(*args: str, env: dict[str, str], timeout: float = 300) -> str:
    """Run the safeguard command; its output, or the test fails with it."""
    result = subprocess.run(
        [sys.executable, "-m", "deploy.cli", *args],
        env=env, capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip
    assert result.returncode == 0, (
        f"safeguard {' '.join(args)} failed:\n{result.stdout}{result.stderr}"
    )
    return result.stdout


def test_up_serves_the_whole_path_and_down_stops_everything(tmp_path: Path) -> None:
    ports = {
        name: free_port()
        for name in ("INTAKE", "ROUTING", "AUDIT", "WEB", "DELIVERY", "RECEIVER", "POSTGRES")
    }
    kafka_port = free_port()
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS")
    }
    env |= {f"{name}_PORT": str(port) for name, port in ports.items()}
    env |= {"KAFKA_PORT": str(kafka_port), "SAFEGUARD_HOME": str(tmp_path / ".safeguard")}
    try:
        printed = safeguard("up", env=env)
        assert "intake" in printed
        assert "ready" in printed
        safeguard("up", env=env)  # harmless to repeat
        stack_env = dict(
            line.split("=", 1)
            for line in (tmp_path / ".safeguard" / "stack.env").read_text().split()
        )
        assert {
            "KAFKA_BOOTSTRAP_SERVERS",
            "DATABASE_URL",
            "INTAKE_URL",
            "ROUTING_URL",
            "AUDIT_URL",
        } <= set(stack_env)
        assert oct((tmp_path / ".safeguard" / "stack.env").stat().st_mode & 0o777) == "0o600"

        def token(agency: str, role: str, subject: str) -> str:
            out = safeguard(
                "token", "--agency", agency, "--role", role, "--subject", subject, env=env
            )
            return out.strip().splitlines()[-1]

        body = a_concern_body(category="neglect", severity="immediate")
        posted = httpx.post(
            f"{stack_env['INTAKE_URL']}/v1/concerns",
            json=body,
            headers={"Authorization": f"Bearer {token('nm-hospital-ed', 'agency_system', 'ed')}"},
        )
        assert posted.status_code == 202, posted.text
        concern_id = posted.json()["concern_id"]

        worker = {"Authorization": f"Bearer {token('nm-csc', 'caseworker', 'sw')}"}
        deadline = time.monotonic() + 30
        items: list[dict[str, object]] = []
        while not items and time.monotonic() < deadline:
            items = httpx.get(
                f"{stack_env['ROUTING_URL']}/v1/notifications", params={"concern_id": concern_id},
                headers=worker,
            ).json()["items"]  # fmt: skip
            time.sleep(0.2)
        assert items
        assert items[0]["severity"] == "immediate"

        # Immediate goes to the police: its stand-in records system took the signed webhook.
        police = httpx.get(
            f"{stack_env['ROUTING_URL']}/v1/notifications", params={"concern_id": concern_id},
            headers={"Authorization": f"Bearer {token('nme-police', 'caseworker', 'ppu')}"},
        ).json()["items"]  # fmt: skip
        assert len(police) == 1
        taken: list[dict[str, object]] = []
        deadline = time.monotonic() + 30
        while not taken and time.monotonic() < deadline:
            taken = httpx.get(f"{stack_env['RECEIVER_URL']}/received").json()["items"]
            time.sleep(0.2)
        assert [t["agency"] for t in taken] == ["nme-police"]
        partnership = Path(stack_env["SAFEGUARD_PARTNERSHIP"]).read_text()
        assert "records-system" in partnership
        secret = tmp_path / ".safeguard" / "keys" / "receiver-webhook.secret"
        assert oct(secret.stat().st_mode & 0o777) == "0o600"
        assert secret.read_text().strip() not in (tmp_path / ".safeguard" / "stack.env").read_text()

        auditor = {"Authorization": f"Bearer {token('nm-csc', 'auditor', 'ig-lead')}"}
        verified = httpx.get(f"{stack_env['AUDIT_URL']}/v1/audit/verify", headers=auditor).json()
        assert verified["ok"] is True
        for name in ("INTAKE", "ROUTING", "AUDIT", "WEB"):
            assert httpx.get(f"{stack_env[name + '_URL']}/readyz").json()["status"] == "ready"
        login = httpx.get(f"{stack_env['WEB_URL']}/login")
        assert login.status_code == 200
        assert "nm-csc" in login.text
    finally:
        safeguard("down", env=env)
    for port in (*ports.values(), kafka_port):
        assert not port_open("127.0.0.1", port), f"port {port} still open after down"
