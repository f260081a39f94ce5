"""A stand-in agency records system for the local stack: it takes signed webhooks on loopback.

The local stack's partnership points one destination of Eastvale Police at it, so a fresh
`safeguard up` delivers webhooks end to end, and `safeguard bench` measures that path. Every
request is verified with `standardwebhooks`' own `Webhook.verify`. Each webhook-id is taken once,
and a resend of one already taken is answered 204 and counted, as the specification asks of a
receiver. It keeps ids and arrival times only, never a body.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from pathlib import Path
from typing import Annotated

from fastapi import FastAPI, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import AliasChoices, BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

KEPT = 200_000


class ReceiverSettings(BaseSettings):
    """Where the stand-in listens and the file holding the secret its sender signs with."""

    model_config = SettingsConfigDict(extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=8006, validation_alias=AliasChoices("port", "RECEIVER_PORT"))
    webhook_secret_path: Path = Field(
        validation_alias=AliasChoices("webhook_secret_path", "RECEIVER_WEBHOOK_SECRET_PATH")
    )


class Receipt(BaseModel):
    """One webhook taken: its id, the agency path it came to, and when (seconds since the epoch)."""

    seq: int
    webhook_id: str
    agency: str
    received_at: float


class Receipts(BaseModel):
    """Webhooks taken after a position, oldest first, and how many resends came in all."""

    items: list[Receipt]
    last_seq: int
    resent: int
    refused: int


class Inbox:
    """The webhook-ids taken, newest last; the oldest are forgotten past `kept`."""

    def __init__(self, kept: int = KEPT) -> None:
        self._kept = kept
        self._receipts: OrderedDict[str, Receipt] = OrderedDict()
        self._next = 1
        self.resent = 0
        self.refused = 0

    def take(self, webhook_id: str, agency: str, at: float) -> bool:
        """Record a verified webhook; False if its id was taken before (a resend)."""
        if webhook_id in self._receipts:
            self.resent += 1
            return False
        self._receipts[webhook_id] = Receipt(
            seq=self._next, webhook_id=webhook_id, agency=agency, received_at=at
        )
        self._next += 1
        if len(self._receipts) > self._kept:
            self._receipts.popitem(last=False)
        return True

    def after(self, seq: int, limit: int) -> Receipts:
        """Receipts past `seq`, oldest first, at most `limit`."""
        items: list[Receipt] = []
        for receipt in reversed(self._receipts.values()):
            if receipt.seq <= seq:
                break
            items.append(receipt)
        items.reverse()
        return Receipts(items=items[:limit], last_seq=self._next - 1, resent=self.resent,
                        refused=self.refused)  # fmt: skip


def read_secret(path: Path) -> str:
    """The `whsec_` secret its sender signs with (never logged)."""
    return path.read_text(encoding="utf-8").strip()


def build_app(settings: ReceiverSettings | None = None) -> FastAPI:
    """The stand-in records system as an ASGI app."""
    settings = settings or ReceiverSettings()
    webhook = Webhook(read_secret(settings.webhook_secret_path))
    inbox = Inbox()
    app = FastAPI(title="Safeguarding Exchange: stand-in records system (local stack only)")
    app.state.inbox = inbox

    @app.post("/{agency}", status_code=204)
    async def take(agency: str, request: Request) -> Response:
        """Verify a webhook and take it once."""
        body = await request.body()
        try:
            webhook.verify(body, dict(request.headers))
        except WebhookVerificationError:
            inbox.refused += 1
            return JSONResponse(
                {"title": "Signature not verified", "status": 401}, status_code=401,
                media_type="application/problem+json",
            )  # fmt: skip
        inbox.take(request.headers["webhook-id"], agency, time.time())
        return Response(status_code=204)

    @app.get("/received")
    async def received(
        after: Annotated[int, Query(ge=0)] = 0, limit: Annotated[int, Query(ge=1)] = 10_000
    ) -> Receipts:
        """Webhooks taken after position `after`, oldest first."""
        return inbox.after(after, min(limit, 50_000))

    @app.get("/readyz")
    async def ready() -> dict[str, str]:
        return {"status": "ready"}

    return app


SECRET_ENV = "LOCAL_RECEIVER_WEBHOOK_SECRET"  # noqa: S105 - the name of a variable, not a secret
STAND_IN_AGENCY = "nme-police"
STAND_IN_DESTINATION = "records-system"


def local_partnership(reference: str, receiver_url: str) -> str:
    """The reference partnership with Eastvale Police's stand-in records system added: the
    partnership a fresh local stack runs under (its own policy_version, since its text differs)."""
    import yaml

    document = yaml.safe_load(reference)
    document["policy_version"] = f"{document['policy_version']}-local"
    for agency in document["agencies"]:
        if agency["id"] == STAND_IN_AGENCY:
            agency.setdefault("deliveries", []).append(
                {"id": STAND_IN_DESTINATION, "kind": "webhook",
                 "url": f"{receiver_url}/{STAND_IN_AGENCY}", "secret_env": SECRET_ENV}
            )  # fmt: skip
    header = (
        "# The local stack's partnership: the reference one, with a stand-in records system for\n"
        "# Eastvale Police (the stack's webhook receiver on loopback). Written by `safeguard up`\n"
        "# when absent; `safeguard policy apply` changes it like any partnership file.\n"
    )
    return header + yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
