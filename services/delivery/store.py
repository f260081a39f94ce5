"""Delivery's tables and queries: a row per notification and destination; gone destinations."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    Integer,
    Interval,
    MetaData,
    Row,
    String,
    Table,
    Text,
    Update,
    Uuid,
    bindparam,
    case,
    delete,
    exists,
    func,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from schemas.v1.delivery import DeliveryStatus
from services.delivery.deliveries import Delivery, DestinationKey, Kind, NewDelivery, Outcome
from services.delivery.policy import Lease

SCHEMA = "delivery"
metadata = MetaData(schema=SCHEMA)

deliveries = Table(
    "deliveries",
    metadata,
    Column("seq", BigInteger, Identity(), nullable=False, unique=True),
    Column("delivery_id", Uuid, primary_key=True),
    Column("event_id", Uuid, nullable=False),
    Column("notification_id", Uuid, nullable=False),
    Column("concern_id", Uuid, nullable=False),
    Column("agency", String(64), nullable=False),
    Column("destination", String(64), nullable=False),
    Column("kind", String(10), nullable=False),
    Column("body", Text, nullable=False),
    Column("correlation_id", String(100), nullable=False),
    Column("status", String(20), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", DateTime(timezone=True), nullable=True),
    Column("window_started_at", DateTime(timezone=True), nullable=False),
    Column("last_status_code", Integer, nullable=True),
    Column("last_error", String(100), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("delivered_at", DateTime(timezone=True), nullable=True),
    Index(
        "deliveries_due",
        "agency",
        "destination",
        "next_attempt_at",
        postgresql_where=text("status = 'pending'"),
    ),
    Index("deliveries_by_agency", "agency", "seq"),
)

disabled_destinations = Table(
    "disabled_destinations",
    metadata,
    Column("agency", String(64), primary_key=True),
    Column("destination", String(64), primary_key=True),
    Column("disabled_at", DateTime(timezone=True), nullable=False),
    Column("delivery_id", Uuid, nullable=False),
)


def _lock_key(key: DestinationKey) -> Any:
    """The advisory lock that orders recording deliveries for a destination and disabling it;
    record_deliveries() (migration 0002) takes the same key."""
    return func.hashtextextended(f"delivery.destination/{key.agency}/{key.destination}", 0)


def _delivery(row: Row[Any]) -> Delivery:
    values = row._mapping
    return Delivery(
        delivery_id=values["delivery_id"],
        seq=values["seq"],
        event_id=values["event_id"],
        notification_id=values["notification_id"],
        concern_id=values["concern_id"],
        agency=values["agency"],
        destination=values["destination"],
        kind=cast(Kind, values["kind"]),
        body=values["body"],
        correlation_id=values["correlation_id"],
        status=DeliveryStatus(values["status"]),
        attempts=values["attempts"],
        next_attempt_at=values["next_attempt_at"],
        window_started_at=values["window_started_at"],
        created_at=values["created_at"],
        last_status_code=values["last_status_code"],
        last_error=values["last_error"],
        delivered_at=values["delivered_at"],
    )


# The arguments of record_deliveries() (migration 0002), in its order: a column of each.
RECORDED_IDS = ("delivery_id", "event_id", "notification_id", "concern_id")
RECORDED_TEXTS = ("agency", "destination", "kind", "body", "correlation_id")
RECORDED_COLUMNS: dict[str, ARRAY[Any]] = {
    **{name: ARRAY(Uuid()) for name in RECORDED_IDS},
    **{name: ARRAY(Text()) for name in RECORDED_TEXTS},
}
# The destinations' recording locks, which of them are disabled, and the rows, in one round
# trip; the lookup's snapshot comes after the locks.
_RECORD = (
    text(
        f"SELECT * FROM {SCHEMA}.record_deliveries("
        + "".join(f":recorded_{name}, " for name in RECORDED_COLUMNS)
        + ":recorded_now)"
    )
    .bindparams(
        *(bindparam(f"recorded_{name}", type_=array) for name, array in RECORDED_COLUMNS.items()),
        bindparam("recorded_now", type_=DateTime(timezone=True)),
    )
    .columns(disabled_agency=String, disabled_destination=String)
)


async def record_deliveries(
    session: AsyncSession, new: Sequence[NewDelivery], *, now: datetime
) -> set[DestinationKey]:
    """Record these deliveries, due now, those for a disabled destination disabled; one already
    recorded is left as it is. The disabled destinations among them.

    None of their destinations is disabled until the transaction ends: deliveries recorded for
    one as pending meanwhile are disabled with the rest.
    """
    if not new:
        return set()
    parameters: dict[str, object] = {
        f"recorded_{name}": [getattr(d, name) for d in new] for name in RECORDED_COLUMNS
    }
    rows = await session.execute(_RECORD, parameters | {"recorded_now": now})
    return {DestinationKey(row.disabled_agency, row.disabled_destination) for row in rows}


def _claim_statement() -> Update:
    """Claim a destination's due deliveries, each hidden for as many rounds as wait before it."""
    agency = bindparam("claim_agency", type_=String)
    destination = bindparam("claim_destination", type_=String)
    now = bindparam("claim_now", type_=DateTime(timezone=True))
    due = (
        select(deliveries.c.delivery_id)
        .where(
            deliveries.c.agency == agency,
            deliveries.c.destination == destination,
            deliveries.c.status == DeliveryStatus.PENDING.value,
            deliveries.c.next_attempt_at <= now,
            # One recorded while its destination was being disabled waits for it to come back.
            ~exists().where(
                disabled_destinations.c.agency == agency,
                disabled_destinations.c.destination == destination,
            ),
        )
        .order_by(deliveries.c.next_attempt_at)
        .limit(bindparam("claim_limit", type_=Integer))
        .with_for_update(skip_locked=True)
        .cte("due")
    )
    # Lease.rounds(), here, as the number claimed is only known here.
    claimed = select(func.count()).select_from(due).scalar_subquery()
    bound, ahead = bindparam("claim_bound", type_=Integer), bindparam("claim_ahead", type_=Integer)
    rounds = func.greatest(1, (ahead + claimed + bound - 1) // bound)
    return (
        update(deliveries)
        .where(deliveries.c.delivery_id.in_(select(due.c.delivery_id)))
        .values(
            attempts=deliveries.c.attempts + 1,
            next_attempt_at=now + rounds * bindparam("claim_per_round", type_=Interval),
        )
        .returning(*deliveries.c)
    )


CLAIM = _claim_statement()


async def claim_due(
    session: AsyncSession,
    key: DestinationKey,
    *,
    now: datetime,
    limit: int,
    lease: Lease,
) -> list[Delivery]:
    """Take the destination's due deliveries (none another process holds): one attempt each.

    The attempt is counted and the delivery hidden until its lease ends, so a process killed
    while sending leaves it to be taken again then, with the same webhook-id.
    """
    claimed = await session.execute(
        CLAIM,
        {
            "claim_agency": key.agency, "claim_destination": key.destination, "claim_now": now,
            "claim_limit": limit, "claim_ahead": lease.ahead, "claim_bound": lease.bound,
            "claim_per_round": lease.per_round,
        },
    )  # fmt: skip
    return sorted((_delivery(row) for row in claimed), key=lambda d: d.seq)


OUTCOME_COLUMNS: dict[str, ARRAY[Any]] = {
    "delivery_id": ARRAY(Uuid()),
    "status": ARRAY(String()),
    "next_attempt_at": ARRAY(DateTime(timezone=True)),
    "last_status_code": ARRAY(Integer()),
    "last_error": ARRAY(String()),
    "delivered_at": ARRAY(DateTime(timezone=True)),
}


def _outcomes_statement() -> Update:
    """Set many deliveries' states at once, from column arrays unnested side by side."""
    outcome = select(
        *(
            func.unnest(bindparam(f"outcome_{name}", type_=array)).label(name)
            for name, array in OUTCOME_COLUMNS.items()
        )
    ).subquery("outcome")
    # A retry of one its destination's disabling took while it was in flight stays disabled.
    kept = case(
        (
            (deliveries.c.status == DeliveryStatus.DISABLED.value)
            & (outcome.c.status == DeliveryStatus.PENDING.value),
            DeliveryStatus.DISABLED.value,
        ),
        else_=outcome.c.status,
    )
    return (
        update(deliveries)
        .where(deliveries.c.delivery_id == outcome.c.delivery_id)
        .values(
            status=kept,
            next_attempt_at=outcome.c.next_attempt_at,
            last_status_code=outcome.c.last_status_code,
            last_error=outcome.c.last_error,
            delivered_at=outcome.c.delivered_at,
        )
    )


RECORD_OUTCOMES = _outcomes_statement()


async def record_outcomes(session: AsyncSession, outcomes: Sequence[Outcome]) -> None:
    """Set deliveries' states after their attempts, in one statement.

    One its destination's disabling took while this attempt was in flight stays disabled unless
    this attempt delivered it or failed it for good: a retry would wait on a destination that is
    gone, listed as pending.
    """
    if not outcomes:
        return
    parameters = {
        f"outcome_{name}": [getattr(outcome, name) for outcome in outcomes]
        for name in OUTCOME_COLUMNS
    }
    parameters["outcome_status"] = [outcome.status.value for outcome in outcomes]
    await session.execute(RECORD_OUTCOMES, parameters)


async def get_delivery(session: AsyncSession, delivery_id: UUID) -> Delivery | None:
    """A delivery by id, whichever agency it is for."""
    row = (
        await session.execute(select(deliveries).where(deliveries.c.delivery_id == delivery_id))
    ).first()
    return _delivery(row) if row else None


async def find_deliveries(
    session: AsyncSession,
    *,
    agency: str,
    status: DeliveryStatus | None,
    limit: int,
    before_seq: int | None,
) -> list[Delivery]:
    """An agency's deliveries, newest first, before a position, of one status if given."""
    query = select(deliveries).where(deliveries.c.agency == agency)
    if status is not None:
        query = query.where(deliveries.c.status == status.value)
    if before_seq is not None:
        query = query.where(deliveries.c.seq < before_seq)
    rows = await session.execute(query.order_by(deliveries.c.seq.desc()).limit(limit))
    return [_delivery(row) for row in rows]


async def make_due(session: AsyncSession, delivery_ids: Sequence[UUID], *, now: datetime) -> None:
    """Put deliveries back to pending, due now, with a fresh retry window; attempts kept."""
    await session.execute(
        update(deliveries)
        .where(deliveries.c.delivery_id.in_(list(delivery_ids)))
        .values(status=DeliveryStatus.PENDING.value, next_attempt_at=now, window_started_at=now)
    )


async def disable_destination(
    session: AsyncSession, key: DestinationKey, *, now: datetime, delivery_id: UUID
) -> list[UUID] | None:
    """Mark a destination gone and its pending deliveries disabled; the ids disabled, or None
    if it was disabled already."""
    # Waits for deliveries being recorded for it to commit, so none is left pending behind it.
    await session.execute(select(func.pg_advisory_xact_lock(_lock_key(key))))
    newly = await session.execute(
        pg_insert(disabled_destinations)
        .values(agency=key.agency, destination=key.destination, disabled_at=now,
                delivery_id=delivery_id)
        .on_conflict_do_nothing()
        .returning(disabled_destinations.c.agency)
    )  # fmt: skip
    first = newly.first() is not None
    disabled = await session.execute(
        update(deliveries)
        .where(
            deliveries.c.agency == key.agency,
            deliveries.c.destination == key.destination,
            deliveries.c.status == DeliveryStatus.PENDING.value,
        )
        .values(status=DeliveryStatus.DISABLED.value)
        .returning(deliveries.c.delivery_id)
    )
    ids = list(disabled.scalars())
    return ids if first else None


async def enable_destination(session: AsyncSession, key: DestinationKey) -> list[UUID]:
    """Take a destination back into use; the ids of its disabled deliveries."""
    await session.execute(
        delete(disabled_destinations).where(
            disabled_destinations.c.agency == key.agency,
            disabled_destinations.c.destination == key.destination,
        )
    )
    found = await session.execute(
        select(deliveries.c.delivery_id).where(
            deliveries.c.agency == key.agency,
            deliveries.c.destination == key.destination,
            deliveries.c.status == DeliveryStatus.DISABLED.value,
        )
    )
    return list(found.scalars())
