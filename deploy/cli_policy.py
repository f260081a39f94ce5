"""`safeguard policy`: check a partnership file, explain where a concern would go, diff, apply."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path

from pydantic import ValidationError

from deploy import cli_policy_change
from schemas.v1.concern import ConcernSubmission
from services.partnership import Partnership, PartnershipError, load_partnership
from services.routing.policy import decide_recipients
from services.routing.profiles import apply_sharing_profile


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the `policy` command group to the `safeguard` command."""
    policy = commands.add_parser("policy", help="Check and explain a partnership's routing policy.")
    actions = policy.add_subparsers(dest="policy_command", required=True)

    check = actions.add_parser("check", help=cmd_policy_check.__doc__)
    check.add_argument("path", type=Path, help="The partnership file (YAML).")
    check.set_defaults(func=cmd_policy_check)

    explain = actions.add_parser("explain", help=cmd_policy_explain.__doc__)
    explain.add_argument("path", type=Path, help="The partnership file (YAML).")
    explain.add_argument("concern", type=Path, help="A concern as an agency posts it (JSON).")
    explain.add_argument(
        "--received-at",
        type=received_at,
        default=None,
        help="When the concern is taken to be received (ISO 8601; naive is UTC). Default: now.",
    )
    explain.add_argument(
        "--source-agency",
        default=None,
        help="The agency raising the concern; it never receives its own concern.",
    )
    explain.set_defaults(func=cmd_policy_explain)
    cli_policy_change.register(actions, _load)


def received_at(text: str) -> datetime:
    """An ISO 8601 time from the command line; a naive one is UTC."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 date and time") from error
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _load(path: Path) -> Partnership | None:
    try:
        return load_partnership(path)
    except PartnershipError as error:
        for problem in error.problems:
            line = f":{problem.line}" if problem.line else ""
            print(f"{path}{line}: {problem.place}: {problem.reason}")
        count = len(error.problems)
        print(f"{path}: {count} problem{'' if count == 1 else 's'}")
        return None


def cmd_policy_check(args: argparse.Namespace) -> int:
    """Validate a partnership file; list every problem with its place and reason."""
    partnership = _load(args.path)
    if partnership is None:
        return 1
    print(
        f"{args.path}: ok (partnership {partnership.partnership}, policy version "
        f"{partnership.policy_version}, {len(partnership.agencies)} agencies, "
        f"{len(partnership.rules)} rules)"
    )
    return 0


def _concern(path: Path) -> ConcernSubmission | None:
    try:
        return ConcernSubmission.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        print(f"{path}: cannot be read as JSON: {error}")
    except ValidationError as error:
        for found in error.errors():
            place = ".".join(str(part) for part in found["loc"]) or "(concern)"
            print(f"{path}: {place}: {found['msg']}")
    return None


def cmd_policy_explain(args: argparse.Namespace) -> int:
    """Show who would receive a concern, by which rules, seeing what, by when (no side effects)."""
    partnership = _load(args.path)
    concern = _concern(args.concern)
    if partnership is None or concern is None:
        return 1
    received = args.received_at or datetime.now(UTC)
    decision = decide_recipients(
        concern,
        source_agency=args.source_agency or "",
        received_at=received,
        partnership=partnership,
    )
    print(f"partnership {partnership.partnership}, policy version {decision.policy_version}")
    print(f"received at {received.isoformat()}, severity {concern.severity.value}")
    print(f"home area: {decision.home_local_authority or '(not covered)'}")
    print(f"incident area: {decision.incident_local_authority or '(not covered)'}")
    if not decision.recipients:
        print("no recipients")
    for recipient in decision.recipients:
        disclosure = apply_sharing_profile(concern, recipient.fields)
        print()
        print(f"{recipient.agency} ({partnership.agency(recipient.agency).name})")
        print(f"  rules:          {', '.join(recipient.reasons)}")
        print(f"  profile:        {recipient.profile}")
        print(f"  fields:         {', '.join(disclosure.disclosed_fields) or '(envelope only)'}")
        print(f"  acknowledge by: {recipient.acknowledge_by.isoformat()}")
    return 0
