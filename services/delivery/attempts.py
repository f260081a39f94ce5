"""One attempt at one destination: a signed Standard Webhooks POST, or a record on its feed."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import ssl
from collections.abc import Mapping
from datetime import UTC, datetime

import aiohttp
import certifi
import structlog
from faststream.kafka import KafkaBroker
from standardwebhooks import Webhook

from services.delivery.deliveries import Delivery
from services.delivery.policy import AttemptResult
from services.partnership import WebhookDestination, feed_topic

log = structlog.get_logger()
SECRET_PREFIX = "whsec_"  # noqa: S105 - the format of a secret, not one
USER_AGENT = "safeguarding-exchange-delivery/1"
# An answer's body is drained up to this, then dropped: a short one leaves the connection to be
# reused for the next attempt, a longer one closes it rather than be read.
DRAINED_BYTES = 16 * 1024
DRAIN_SECONDS = 1.0


def signing_key(destination: WebhookDestination, environ: Mapping[str, str]) -> Webhook | None:
    """The destination's signer, from `whsec_<base64>` in its secret_env; None if unusable."""
    secret = environ.get(destination.secret_env, "")
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        if not secret.startswith(SECRET_PREFIX) or not base64.b64decode(encoded, validate=True):
            raise ValueError("empty")
        return Webhook(secret)
    except (ValueError, binascii.Error):
        # The name of the variable only: its value is the secret.
        log.error(
            "delivery.secret_unusable",
            destination=destination.id,
            secret_env=destination.secret_env,
        )
        return None


def signed_headers(webhook: Webhook, delivery: Delivery, now: datetime) -> dict[str, str]:
    """webhook-id (the routed event's, stable across retries), -timestamp and -signature (v1)."""
    seconds = int(now.timestamp())
    webhook_id = str(delivery.event_id)
    signature = webhook.sign(webhook_id, datetime.fromtimestamp(seconds, UTC), delivery.body)
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(seconds),
        "webhook-signature": signature,
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


def webhook_client(*, connect_timeout: float, read_timeout: float) -> aiohttp.ClientSession:
    """The HTTP client of every webhook: no redirects followed, no cookies kept, timeouts as set.

    aiohttp rather than httpx: a POST costs a quarter of httpx's CPU time, and delivery's CPU per
    concern in a burst falls by a third (docs/bench/README.md, sessions 9 and 10).
    """
    # Trusted as before, when httpx brought certifi's bundle: the same roots on every machine.
    trusted = ssl.create_default_context(cafile=certifi.where())
    timeout = aiohttp.ClientTimeout(
        total=None, connect=connect_timeout, sock_connect=connect_timeout, sock_read=read_timeout
    )
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(ssl=trusted),
        timeout=timeout,
        cookie_jar=aiohttp.DummyCookieJar(),
        trust_env=False,
        auto_decompress=False,
        skip_auto_headers=("accept-encoding",),
    )


async def post_webhook(
    client: aiohttp.ClientSession,
    delivery: Delivery,
    destination: WebhookDestination,
    webhook: Webhook | None,
    *,
    now: datetime,
) -> AttemptResult:
    """POST the delivery's body, signed; how it ended (the answer's body is never kept)."""
    if webhook is None:
        log.error("delivery.secret_missing", delivery_id=str(delivery.delivery_id),
                  agency=delivery.agency, destination=delivery.destination)  # fmt: skip
        return AttemptResult(error="secret_missing")
    headers = signed_headers(webhook, delivery, now)
    try:
        async with client.post(
            destination.url, data=delivery.body.encode(), headers=headers, allow_redirects=False
        ) as response:
            result = AttemptResult(
                status_code=response.status, retry_after=response.headers.get("retry-after")
            )
            await _drain(response)
            return result
    except TimeoutError:  # aiohttp's connect and read timeouts are TimeoutErrors too
        return AttemptResult(error="timeout")
    except (aiohttp.ClientConnectionError, OSError):
        return AttemptResult(error="connection")
    except aiohttp.ClientError:
        return AttemptResult(error="request")


async def _drain(response: aiohttp.ClientResponse) -> None:
    """Read and drop a short answer's body, so its connection can serve the next attempt.

    The status already decided the attempt: a body that is long, slow or broken only costs the
    connection (closed here, or by aiohttp on leaving an answer not read to its end), never the
    outcome.
    """
    drained = 0
    with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
        async with asyncio.timeout(DRAIN_SECONDS):
            while chunk := await response.content.read(DRAINED_BYTES):
                drained += len(chunk)
                if drained > DRAINED_BYTES:
                    response.close()
                    return


async def publish_feed(broker: KafkaBroker, delivery: Delivery, *, within: float) -> AttemptResult:
    """Put the body on the agency's feed, keyed by notification, webhook-id in a header."""
    try:
        await asyncio.wait_for(
            broker.publish(
                delivery.body.encode(),
                feed_topic(delivery.agency),
                key=str(delivery.notification_id).encode(),
                headers={"webhook-id": str(delivery.event_id), "content-type": "application/json"},
                correlation_id=delivery.correlation_id,
            ),
            timeout=within,
        )
    except TimeoutError:
        return AttemptResult(error="timeout")
    except Exception as error:
        log.warning("delivery.feed_failed", destination=delivery.destination,
                    agency=delivery.agency, error=type(error).__name__)  # fmt: skip
        return AttemptResult(error="connection")
    return AttemptResult()
