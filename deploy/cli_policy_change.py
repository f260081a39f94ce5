"""`safeguard policy diff` and `apply`: preview a change on past concerns, then put it in force."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from services.common.db import async_url
from services.partnership import Partnership
from services.partnership.fields import Duration
from services.partnership.holder import sha256_of
from services.routing.policy_diff import AgencyChange, PastConcern, PolicyDiff, diff_policies
from services.routing.store_history import concerns_received_since

STACK_ENV = Path(".safeguard") / "stack.env"
# Reads and checks a partnership file, printing every problem; None when it fails.
Loader = Callable[[Path], Partnership | None]


def register(actions: argparse._SubParsersAction, load: Loader) -> None:  # type: ignore[type-arg]
    """Add `diff` and `apply` to the `policy` command group."""
    diff = actions.add_parser("diff", help=cmd_policy_diff.__doc__)
    diff.add_argument("old", type=Path, help="The partnership file in force (YAML).")
    diff.add_argument("new", type=Path, help="The changed partnership file (YAML).")
    diff.add_argument(
        "--since",
        type=period,
        default=timedelta(days=30),
        help="Replay the concerns received in this period before now (ISO 8601; default P30D).",
    )
    diff.add_argument("--json", action="store_true", help="Print one JSON object.")
    diff.add_argument(
        "--database-url",
        default=None,
        help="Routing's database (default: $DATABASE_URL, else .safeguard/stack.env's).",
    )
    diff.set_defaults(func=cmd_policy_diff, load=load)

    apply = actions.add_parser("apply", help=cmd_policy_apply.__doc__)
    apply.add_argument("path", type=Path, help="The checked partnership file to put in force.")
    apply.add_argument(
        "--operator",
        default=None,
        help="Who applies it, for the audit record (default: $SAFEGUARD_OPERATOR, else you).",
    )
    apply.add_argument(
        "--target",
        type=Path,
        default=None,
        help="The file the services read (default: $SAFEGUARD_PARTNERSHIP or the stack's).",
    )
    apply.set_defaults(func=cmd_policy_apply, load=load)


def period(text: str) -> timedelta:
    """An ISO 8601 duration from the command line, such as P30D or PT12H."""
    try:
        return TypeAdapter(Duration).validate_python(text)
    except ValidationError as error:
        raise argparse.ArgumentTypeError(error.errors()[0]["msg"]) from error


def stack_setting(name: str) -> str | None:
    """A setting from the environment, else from the local stack's .safeguard/stack.env."""
    if os.environ.get(name):
        return os.environ[name]
    try:
        lines = STACK_ENV.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    for line in lines:
        key, _, value = line.partition("=")
        if key.strip() == name:
            return value.strip().strip("'\"")
    return None


async def _history(database_url: str, since: datetime) -> list[PastConcern]:
    engine = create_async_engine(async_url(database_url))
    try:
        async with AsyncSession(engine) as session, session.begin():
            return await concerns_received_since(session, since)
    finally:
        await engine.dispose()


def cmd_policy_diff(args: argparse.Namespace) -> int:
    """Replay past concerns under two partnership files; show who would be told differently."""
    old, new = args.load(args.old), args.load(args.new)
    if old is None or new is None:
        return 1
    database_url = args.database_url or stack_setting("DATABASE_URL")
    if not database_url:
        print("no database: set DATABASE_URL, give --database-url, or start the stack first")
        return 2
    since = datetime.now(UTC) - args.since
    diff = diff_policies(asyncio.run(_history(database_url, since)), old=old, new=new)
    if args.json:
        print(json.dumps({"since": since.isoformat(), **diff.as_json()}))
    else:
        print("\n".join(diff_text(diff, old=old, new=new, since=since)))
    return 0


def diff_text(
    diff: PolicyDiff, *, old: Partnership, new: Partnership, since: datetime
) -> list[str]:
    """The diff as a person reads it: ids, counts, rule ids and field names only."""
    lines = [
        f"partnership {new.partnership}: policy {diff.old_version} -> {diff.new_version}",
        f"{diff.replayed} concerns received since {since.isoformat(timespec='seconds')} "
        f"replayed; {diff.affected} would be routed or disclosed differently",
    ]
    if diff.sample_affected:
        lines.append("for example: " + ", ".join(str(i) for i in diff.sample_affected))
    if not diff.agencies:
        lines.append("no agency would be told differently")
    for change in diff.agencies:
        lines += ["", _agency_title(change.agency, old, new), *_agency_lines(change)]
    return lines


def _agency_title(agency: str, old: Partnership, new: Partnership) -> str:
    for partnership, note in ((new, ""), (old, ", leaves the partnership")):
        if partnership.has_agency(agency):
            joins = "" if old.has_agency(agency) else ", joins the partnership"
            return f"{agency} ({partnership.agency(agency).name}{note or joins})"
    return agency


def _by_rule(counts: dict[str, int]) -> str:
    return ", ".join(f"{rule} {count}" for rule, count in sorted(counts.items()))


def _agency_lines(change: AgencyChange) -> list[str]:
    lines: list[str] = []
    if change.gained:
        lines.append(f"  would gain {change.gained}: {_by_rule(change.gained_by_rule)}")
        lines.append("    e.g. " + ", ".join(str(i) for i in change.sample_gained))
    if change.lost:
        lines.append(f"  would lose {change.lost}: {_by_rule(change.lost_by_rule)}")
        lines.append("    e.g. " + ", ".join(str(i) for i in change.sample_lost))
    if change.rerouted:
        lines.append(f"  would receive {change.rerouted} by other rules")
    if change.fields_newly_seen:
        lines.append("  would newly see: " + ", ".join(change.fields_newly_seen))
    if change.fields_no_longer_seen:
        lines.append("  would no longer see: " + ", ".join(change.fields_no_longer_seen))
    if change.disclosure_changed:
        lines.append(f"  on {change.disclosure_changed} concerns it receives under both")
    return lines


def cmd_policy_apply(args: argparse.Namespace) -> int:
    """Check a partnership file and put it in force: the services pick it up within seconds."""
    candidate = args.load(args.path)
    if candidate is None:
        return 1
    target_name = args.target or stack_setting("SAFEGUARD_PARTNERSHIP")
    if not target_name:
        print("no target: give --target or set SAFEGUARD_PARTNERSHIP to the file the services read")
        return 2
    target = Path(target_name)
    content = args.path.read_text(encoding="utf-8")
    in_force = args.load(target) if target.exists() else None
    if in_force is not None and in_force.policy_version == candidate.policy_version:
        if sha256_of(target.read_text(encoding="utf-8")) != sha256_of(content):
            print(
                f"{args.path}: refused: policy_version {candidate.policy_version} is in force "
                "with other rules; give the change a new policy_version"
            )
            return 1
        print(f"{target}: policy {candidate.policy_version} is already in force")
        return 0
    operator = args.operator or os.environ.get("SAFEGUARD_OPERATOR") or getpass.getuser()
    # The operator first, then the file (each replaced whole): a service that sees the new file
    # reads the operator who put it there.
    for path, text in ((target.with_name(target.name + ".operator"), operator), (target, content)):
        staged = path.with_name(f".{path.name}.{os.getpid()}")
        staged.write_text(text + ("\n" if path != target else ""), encoding="utf-8")
        os.replace(staged, path)
    print(
        f"{target}: policy {candidate.policy_version} (sha256 {sha256_of(content)}) applied by "
        f"{operator}; running services pick it up within seconds (or at once on SIGHUP)"
    )
    return 0
