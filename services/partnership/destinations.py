"""Pure: where an agency's own case system takes its notifications (webhooks, Kafka feeds)."""

from __future__ import annotations

import ipaddress
import re
from datetime import timedelta
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field

from services.partnership.fields import Duration, Loc, Slug, Strict, repeated

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
FEED_TOPIC_PREFIX = "deliveries."


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _webhook_url(value: str) -> str:
    try:
        parts = urlsplit(value)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError as error:
        raise ValueError(f"{value!r} is not a URL: {error}") from None
    if parts.scheme not in ("https", "http") or not host:
        raise ValueError("give an https:// URL with a host")
    if parts.username is not None or parts.password is not None:
        raise ValueError("no credentials in the URL: the secret belongs in secret_env")
    if parts.fragment:
        raise ValueError("a webhook URL has no #fragment")
    if parts.scheme == "http" and not _is_loopback(host):
        raise ValueError("outside loopback (127.0.0.0/8, ::1, localhost) a webhook must be https")
    return value


def _env_name(value: str) -> str:
    if value.startswith("whsec_"):
        raise ValueError("that is a secret: give the NAME of the variable that holds it")
    if not ENV_NAME.match(value):
        raise ValueError(f"{value!r} is not an environment variable name (A-Z, 0-9, _)")
    return value


WebhookUrl = Annotated[str, AfterValidator(_webhook_url)]
EnvName = Annotated[str, Field(max_length=128), AfterValidator(_env_name)]


class WebhookDestination(Strict):
    """A Standard Webhooks endpoint, signed with the secret held in an environment variable."""

    id: Slug
    kind: Literal["webhook"]
    url: WebhookUrl
    secret_env: EnvName = Field(
        description="The NAME of the variable holding `whsec_<base64>`; never the secret itself."
    )


class KafkaDestination(Strict):
    """The agency's own topic, `deliveries.<agency-id>`, for its consumer alone."""

    id: Slug
    kind: Literal["kafka"]


Destination = Annotated[WebhookDestination | KafkaDestination, Field(discriminator="kind")]


class DeliveryPolicy(Strict):
    """How long deliveries are retried before they are dead-lettered."""

    retry_window: Duration = timedelta(days=1)


def feed_topic(agency_id: str) -> str:
    """The Kafka topic of an agency's feed."""
    return f"{FEED_TOPIC_PREFIX}{agency_id}"


def destination_problems(
    index: int, destinations: list[WebhookDestination | KafkaDestination]
) -> list[tuple[Loc, str]]:
    """Ids repeated within one agency's destinations, and a second Kafka feed."""
    problems: list[tuple[Loc, str]] = []
    twice = repeated([destination.id for destination in destinations])
    feeds = 0
    for j, destination in enumerate(destinations):
        if destination.id in twice:
            problems.append(
                (("agencies", index, "deliveries", j, "id"), f"{destination.id!r} is used twice")
            )
        if isinstance(destination, KafkaDestination):
            feeds += 1
            if feeds > 1:
                problems.append(
                    (("agencies", index, "deliveries", j, "kind"), "an agency has one Kafka feed")
                )
    return problems
