"""Delivery's settings."""

from datetime import timedelta
from typing import Literal

from pydantic import AliasChoices, Field

from services.common.settings import ServiceSettings
from services.delivery.policy import RetrySchedule
from services.partnership.settings import PartnershipSettings


class DeliverySettings(ServiceSettings, PartnershipSettings):
    """Delivery: sends each agency's notifications into its own systems, retried until they land."""

    port: int = Field(default=8005, validation_alias=AliasChoices("port", "DELIVERY_PORT"))
    delivery_connect_timeout_seconds: float = Field(
        default=5.0, gt=0, description="How long to wait for a webhook's TCP and TLS handshake."
    )
    delivery_read_timeout_seconds: float = Field(
        default=10.0, gt=0, description="How long to wait for a webhook's answer (and a feed's)."
    )
    delivery_first_retry_seconds: float = Field(
        default=5.0, gt=0, description="The wait before the first retry."
    )
    delivery_retry_factor: float = Field(
        default=2.0, ge=1, description="How much longer each wait is than the one before."
    )
    delivery_longest_retry_seconds: float = Field(
        default=600.0, gt=0, description="No two attempts further apart than this."
    )
    delivery_retry_jitter: Literal["full", "equal"] = Field(
        default="equal", description="Full jitter (0 to the wait) or equal (half to all of it)."
    )
    delivery_concurrency_per_destination: int = Field(
        default=4, ge=1, le=64, description="Attempts in flight at once to one destination."
    )
    delivery_claim_batch: int = Field(
        default=16,
        ge=1,
        le=1000,
        description="Most deliveries one destination takes in one claim (a fast one's backlog).",
    )
    delivery_poll_interval_seconds: float = Field(
        default=1.0, gt=0, description="How often each destination looks for deliveries now due."
    )

    @property
    def retry_schedule(self) -> RetrySchedule:
        """The backoff between attempts."""
        return RetrySchedule(
            first=timedelta(seconds=self.delivery_first_retry_seconds),
            factor=self.delivery_retry_factor,
            longest=timedelta(seconds=self.delivery_longest_retry_seconds),
            jitter=self.delivery_retry_jitter,
        )

    @property
    def attempt_timeout(self) -> float:
        """The longest one attempt may take, end to end, in seconds."""
        return self.delivery_connect_timeout_seconds + 2 * self.delivery_read_timeout_seconds

    @property
    def lease(self) -> timedelta:
        """How long a claimed delivery is hidden for each round of attempts until its own is
        settled: longer than any attempt can take."""
        return timedelta(seconds=self.attempt_timeout + 2.0)
