"""Inserts a unit of work holds back until its next statement or its commit, then sends as one.

Each statement sent to PostgreSQL is a round trip that a batch handler waits out. Inserts that
nothing in the same transaction reads before the commit (notifications, the outbox, the change
log) need not go one by one: `defer()` keeps them, and the session sends everything kept as a
single statement (data-modifying CTEs) just before its next statement of any kind, or just
before it commits. A rollback, or closing the session, drops them.

The statements sent together see one snapshot and run in no set order, so only inserts are
deferred, and never one that another deferred insert reads; foreign keys are checked at the end
of the statement, so a deferred row may still refer to one inserted alongside it. Each deferred
statement takes arrays (one per column, unnested), so the same statement deferred twice in one
transaction is sent once, with its arrays joined.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Executable, Select, event, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction
from sqlalchemy.sql.dml import Insert

_KEY = "deferred_inserts"
# A combined statement per set of deferred statements, built (and cache-keyed) once.
_combined: dict[tuple[int, ...], tuple[tuple[Insert, ...], Select[Any]]] = {}
_COMBINED_AT_MOST = 256


def defer(
    session: AsyncSession, statement: Insert, parameters: Mapping[str, Sequence[Any]]
) -> None:
    """Send this insert with the session's next statement or commit (see the module's doc)."""
    if session.in_nested_transaction():
        # A savepoint rolled back would take with it what was deferred before it began.
        raise RuntimeError("inserts are not deferred inside a savepoint")
    pending: dict[Insert, dict[str, list[Any]]] = session.info.setdefault(_KEY, {})
    kept = pending.get(statement)
    if kept is None:
        pending[statement] = {name: list(values) for name, values in parameters.items()}
        return
    for name, values in parameters.items():
        kept[name].extend(values)


def flush_deferred(session: Session) -> None:
    """Send what is deferred, as one statement (on the sync session, inside SQLAlchemy's
    greenlet: both hooks below run there)."""
    pending: dict[Insert, dict[str, list[Any]]] | None = session.info.pop(_KEY, None)
    if not pending:
        return
    parameters: dict[str, list[Any]] = {}
    for kept in pending.values():
        clash = parameters.keys() & kept.keys()
        if clash:
            raise ValueError(f"deferred inserts share parameter names: {sorted(clash)}")
        parameters.update(kept)
    statements = tuple(pending)
    session.execute(_one_statement(statements), parameters)


def _one_statement(statements: tuple[Insert, ...]) -> Executable:
    if len(statements) == 1:
        return statements[0]
    key = tuple(id(statement) for statement in statements)
    found = _combined.get(key)
    if found is None:
        if len(_combined) >= _COMBINED_AT_MOST:
            _combined.clear()
        ctes = [statement.cte(f"deferred_{i}") for i, statement in enumerate(statements)]
        # The statements are kept with the combination so that their ids stay theirs.
        found = _combined[key] = (statements, select(literal(1)).add_cte(*ctes))
    return found[1]


@event.listens_for(Session, "do_orm_execute")
def _before_statement(state: ORMExecuteState) -> None:
    if _KEY in state.session.info:
        flush_deferred(state.session)


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    if _KEY in session.info:
        flush_deferred(session)


@event.listens_for(Session, "after_transaction_end")
def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    # A commit has sent everything (before_commit); a rollback, or a close, drops it.
    if transaction.parent is None:
        session.info.pop(_KEY, None)
