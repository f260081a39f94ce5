"""Pure: which answers are worth another attempt, when it comes, and when delivery gives up."""

from __future__ import annotations

import email.utils
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Literal

from schemas.v1.audit import AuditAction
from schemas.v1.delivery import DeliveryStatus

# A request timeout, a conflict and "too many requests" are the receiver's passing state.
RETRIED_STATUSES = frozenset({408, 409, 429})
RETRY_AFTER_STATUSES = frozenset({429, 503})
# No answer at all: the receiver or the network is down, or slower than our timeout.
RETRIED_ERRORS = frozenset({"timeout", "connection"})
GONE = 410


@dataclass(frozen=True)
class RetrySchedule:
    """Exponential backoff with jitter: `first`, each wait `factor` times longer, to `longest`."""

    first: timedelta = timedelta(seconds=5)
    factor: float = 2.0
    longest: timedelta = timedelta(minutes=10)
    jitter: Literal["full", "equal"] = "equal"

    def ceiling(self, attempts: int) -> timedelta:
        """The wait after the `attempts`-th failed attempt, before jitter."""
        exponent = max(attempts - 1, 0)
        if self.factor <= 1 or self.first >= self.longest:
            return min(self.first, self.longest)
        # Compared as exponents: the wait itself would overflow long before attempts run out.
        if exponent >= math.log(self.longest / self.first, self.factor):
            return self.longest
        return min(self.first * self.factor**exponent, self.longest)

    def wait(self, attempts: int, draw: float) -> timedelta:
        """The jittered wait after the `attempts`-th failure; `draw` is uniform in [0, 1)."""
        ceiling = self.ceiling(attempts)
        if self.jitter == "full":
            return ceiling * draw
        return ceiling / 2 + (ceiling / 2) * draw


class Verdict(StrEnum):
    """What one attempt's outcome means for the delivery."""

    DELIVERED = "delivered"
    RETRY = "retry"
    FAILED = "failed"
    DISABLE = "disable"


@dataclass(frozen=True)
class AttemptResult:
    """How one attempt ended: an HTTP status, an error when no answer came, or neither when the
    broker acknowledged a feed record."""

    status_code: int | None = None
    error: str | None = None
    retry_after: str | None = None

    @property
    def reason(self) -> str | None:
        """Why it failed in a word (never a body): timeout, connection, http_503...; else None."""
        if self.error is not None:
            return self.error
        if self.status_code is not None and not 200 <= self.status_code < 300:
            return f"http_{self.status_code}"
        return None


def classify(result: AttemptResult) -> Verdict:
    """Delivered on 2xx; retried on no answer, 5xx, 408, 409, 429; 410 disables; else failed."""
    if result.error is not None:
        return Verdict.RETRY if result.error in RETRIED_ERRORS else Verdict.FAILED
    status = result.status_code
    if status is None or 200 <= status < 300:
        return Verdict.DELIVERED
    if status == GONE:
        return Verdict.DISABLE
    if status >= 500 or status in RETRIED_STATUSES:
        return Verdict.RETRY
    # A redirect is not followed (it could point anywhere), and any other 4xx will not change.
    return Verdict.FAILED


def retry_after(value: str | None, now: datetime) -> timedelta | None:
    """A Retry-After header (seconds or an HTTP date) as a wait from now; None if absent or bad."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return timedelta(seconds=int(text))
    try:
        moment = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(moment - now, timedelta(0))


@dataclass(frozen=True)
class Lease:
    """How long claimed deliveries stay hidden: a round of `per_round` (one attempt, settled) for
    every `bound` of them, counting the `ahead` attempts already in flight before them."""

    per_round: timedelta
    bound: int
    ahead: int = 0

    def rounds(self, claimed: int) -> int:
        """How many rounds of attempts until the last of `claimed` deliveries has been settled."""
        return max(1, -(-(self.ahead + claimed) // self.bound))

    def until(self, now: datetime, claimed: int) -> datetime:
        """When `claimed` deliveries claimed at `now` may be claimed again."""
        return now + self.per_round * self.rounds(claimed)


def claim_size(free: int, *, pace: float | None, lease: Lease, most: int) -> int:
    """How many deliveries to claim with `free` attempts to spare: as many as the destination's
    pace (its slowest recent attempt, in seconds) gets through within one round, up to `most`;
    only the free ones while its pace is unknown."""
    if pace is None:
        return max(1, min(free, most))
    within = int(lease.bound * lease.per_round.total_seconds() / max(pace, 0.001))
    return max(1, min(most, max(free, within)))


@dataclass(frozen=True)
class NextStep:
    """A delivery's state after an attempt, and what the audit record says of it."""

    status: DeliveryStatus
    next_attempt_at: datetime | None
    actions: tuple[AuditAction, ...]
    disables_destination: bool = False


def after_attempt(
    result: AttemptResult,
    *,
    attempts: int,
    window_started_at: datetime,
    window: timedelta,
    now: datetime,
    schedule: RetrySchedule,
    draw: float,
) -> NextStep:
    """Where a delivery goes after its `attempts`-th attempt ended in `result`."""
    verdict = classify(result)
    if verdict is Verdict.DELIVERED:
        return NextStep(DeliveryStatus.DELIVERED, None, (AuditAction.DELIVERY_SUCCEEDED,))
    failed = (AuditAction.DELIVERY_FAILED,)
    if verdict is Verdict.DISABLE:
        return NextStep(DeliveryStatus.DISABLED, None, failed, disables_destination=True)
    if verdict is Verdict.FAILED:
        return NextStep(DeliveryStatus.FAILED, None, failed)
    wait = schedule.wait(attempts, draw)
    asked = retry_after(result.retry_after, now)
    if asked is not None and result.status_code in RETRY_AFTER_STATUSES:
        # Honoured as far as the schedule's longest wait: no two attempts further apart.
        wait = max(wait, min(asked, schedule.longest))
    due = now + wait
    if due > window_started_at + window:
        return NextStep(
            DeliveryStatus.DEAD_LETTERED, None, (*failed, AuditAction.DELIVERY_DEAD_LETTERED)
        )
    return NextStep(DeliveryStatus.PENDING, due, failed)
