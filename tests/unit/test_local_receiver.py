"""The local stack's stand-in records system: verifies every webhook, takes each id once."""

from __future__ import annotations

import base64
import secrets
from datetime import UTC, datetime
from pathlib import Path

import httpx
from standardwebhooks import Webhook

from deploy.local.receiver import (
    SECRET_ENV,
    STAND_IN_AGENCY,
    STAND_IN_DESTINATION,
    ReceiverSettings,
    build_app,
    local_partnership,
)
from services.partnership import WebhookDestination, default_partnership_path
from services.partnership.loader import load_text


def a_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def signed(secret: str, webhook_id: str, body: str) -> dict[str, str]:
    now = datetime.now(UTC)
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(webhook_id, now, body),
        "content-type": "application/json",
    }


async def test_it_takes_each_signed_webhook_once_and_refuses_a_forged_one(
    tmp_path: Path,
) -> None:
    secret = a_secret()
    (tmp_path / "secret").write_text(secret)
    app = build_app(ReceiverSettings(webhook_secret_path=tmp_path / "secret"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://receiver") as client:
        body = '{"notification_id": "n-1"}'
        for _ in range(2):
            taken = await client.post(
                "/nme-police", content=body, headers=signed(secret, "w1", body)
            )
            assert taken.status_code == 204
        forged = await client.post(
            "/nme-police", content=body, headers=signed(a_secret(), "w2", body)
        )
        assert forged.status_code == 401
        later = '{"notification_id": "n-3"}'
        await client.post("/nme-police", content=later, headers=signed(secret, "w3", later))

        everything = (await client.get("/received")).json()
        since_first = (await client.get("/received", params={"after": 1})).json()

    assert [(r["seq"], r["webhook_id"], r["agency"]) for r in everything["items"]] == [
        (1, "w1", "nme-police"),
        (2, "w3", "nme-police"),
    ]
    assert everything["resent"] == 1
    assert everything["refused"] == 1
    assert everything["last_seq"] == 2
    assert [r["webhook_id"] for r in since_first["items"]] == ["w3"]
    assert "body" not in everything["items"][0]


def test_the_local_partnership_is_the_reference_one_with_a_webhook_to_the_stand_in() -> None:
    reference = default_partnership_path().read_text()
    reference_policy = load_text(reference, default_partnership_path())

    text = local_partnership(reference, "http://127.0.0.1:8006")
    local = load_text(text, Path("partnership.yaml"))

    assert local.policy_version == f"{reference_policy.policy_version}-local"
    police = next(a for a in local.agencies if a.id == STAND_IN_AGENCY)
    hook = next(d for d in police.deliveries if d.id == STAND_IN_DESTINATION)
    assert isinstance(hook, WebhookDestination)
    assert str(hook.url) == "http://127.0.0.1:8006/nme-police"
    assert hook.secret_env == SECRET_ENV
    assert [a.id for a in local.agencies] == [a.id for a in reference_policy.agencies]
    assert local.rules == reference_policy.rules
