"""The `safeguard` command: start and stop the local stack, run a service, mint tokens, tools."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deploy.local.processes import StartupError

if TYPE_CHECKING:
    from fastapi import FastAPI

    from deploy.local.stack import LocalStack

SERVICE_NAMES = ("intake", "routing", "audit", "web", "delivery", "receiver")
# services.common.auth.Role's values, without importing it (and JWT) for every command.
TOKEN_ROLES = ("agency_system", "caseworker", "auditor", "partnership_auditor", "delivery_admin")


def _stack(args: argparse.Namespace) -> LocalStack:
    from deploy.local.stack import from_environment

    return from_environment()


def cmd_up(args: argparse.Namespace) -> int:
    """Start Kafka, PostgreSQL and the services and web pages; write .safeguard/stack.env."""
    stack = _stack(args)
    try:
        env = stack.up(args.partnership)
    except StartupError as error:
        print(f"safeguard up failed: {error}", file=sys.stderr)
        return 1
    print()
    print(f"  Kafka       {env['KAFKA_BOOTSTRAP_SERVERS']}")
    print(f"  PostgreSQL  {_without_password(env['DATABASE_URL'])}")
    for name in SERVICE_NAMES:
        print(f"  {name:<11} {env[name.upper() + '_URL']}")
    print(
        "\nMint a token:  safeguard token --agency nm-hospital-ed --role agency_system --subject ed"
    )
    return 0


def _without_password(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def cmd_down(args: argparse.Namespace) -> int:
    """Stop everything `up` started."""
    stopped = _stack(args).down()
    print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """Which parts of the local stack run."""
    for name, running in _stack(args).status().items():
        print(f"{name:<11} {'running' if running else 'stopped'}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """Run one service in the foreground."""
    import uvicorn

    from services.common.http_server import server_options

    app, host, port = _build_service(args.service, args.port)
    # Header and connection limits; the body's own are in each app's middleware.
    uvicorn.run(app, host=host, port=port, **server_options(getattr(app.state, "settings", None)))
    return 0


def _build_service(name: str, port: int | None) -> tuple[FastAPI, str, int]:
    overrides: dict[str, Any] = {"port": port} if port else {}
    if name == "intake":
        from services.intake.app import build_app as build_intake
        from services.intake.settings import IntakeSettings

        intake = IntakeSettings(**overrides)
        return build_intake(intake), intake.host, intake.port
    if name == "routing":
        from services.routing.app import build_app as build_routing
        from services.routing.settings import RoutingSettings

        routing = RoutingSettings(**overrides)
        return build_routing(routing), routing.host, routing.port
    if name == "audit":
        from services.audit.app import build_app as build_audit
        from services.audit.settings import AuditSettings

        audit = AuditSettings(**overrides)
        return build_audit(audit), audit.host, audit.port
    if name == "delivery":
        from services.delivery.app import build_app as build_delivery
        from services.delivery.settings import DeliverySettings

        delivery = DeliverySettings(**overrides)
        return build_delivery(delivery), delivery.host, delivery.port
    if name == "receiver":
        from deploy.local.receiver import ReceiverSettings
        from deploy.local.receiver import build_app as build_receiver

        receiver = ReceiverSettings(**overrides)
        return build_receiver(receiver), receiver.host, receiver.port
    from services.web.app import build_app as build_web
    from services.web.settings import WebSettings

    web = WebSettings(**overrides)
    return build_web(web), web.host, web.port


def cmd_token(args: argparse.Namespace) -> int:
    """Print a signed bearer token (on the last line) for an agency, role and subject."""
    from datetime import timedelta

    from services.common.auth import Role, mint_token
    from services.common.keys import load_or_create_signing_key
    from services.common.settings import ServiceSettings

    key_path = (
        Path(os.environ.get("JWT_SIGNING_KEY_PATH", ""))
        if os.environ.get("JWT_SIGNING_KEY_PATH")
        else _stack(args).signing_key
    )
    if not key_path.exists():
        print(f"No signing key at {key_path}: run `safeguard up` first.", file=sys.stderr)
        return 1
    defaults = ServiceSettings.model_fields
    token = mint_token(
        load_or_create_signing_key(key_path),
        agency=args.agency,
        role=Role(args.role),
        subject=args.subject,
        issuer=os.environ.get("JWT_ISSUER", str(defaults["jwt_issuer"].default)),
        audience=os.environ.get("JWT_AUDIENCE", str(defaults["jwt_audience"].default)),
        lifetime=timedelta(minutes=args.minutes),
    )
    print(token)
    return 0


def cmd_keys(args: argparse.Namespace) -> int:
    """Make the token signing and audit tree-head key pairs in a folder (private halves 0600)."""
    from services.common.keys import load_or_create_signing_key

    folder = Path(args.directory)
    for name in ("token-signing.pem", "audit-tree-head.pem"):
        load_or_create_signing_key(folder / name)
        print(folder / name)
    return 0


def cmd_schemas_export(args: argparse.Namespace) -> int:
    """Write JSON Schema for every model and the AsyncAPI document of the services."""
    from deploy.export import export_all

    written = export_all(Path(args.directory))
    for path in written:
        print(path)
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    """Benchmark the running local stack end to end against raw baselines (the bench extra)."""
    # Imported only now: a production install has no bench extra, and the rest of the
    # command must not pay for hdrhistogram or matplotlib.
    import bench

    return bench.run(args.bench_options)


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(prog="safeguard", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    up = commands.add_parser("up", help=cmd_up.__doc__)
    up.add_argument("--partnership", type=Path, default=None, help="partnership YAML file")
    up.set_defaults(func=cmd_up)
    commands.add_parser("down", help=cmd_down.__doc__).set_defaults(func=cmd_down)
    commands.add_parser("status", help=cmd_status.__doc__).set_defaults(func=cmd_status)

    run = commands.add_parser("run", help=cmd_run.__doc__)
    run.add_argument("service", choices=SERVICE_NAMES)
    run.add_argument("--port", type=int, default=None)
    run.set_defaults(func=cmd_run)

    token = commands.add_parser("token", help=cmd_token.__doc__)
    token.add_argument("--agency", required=True)
    token.add_argument("--role", required=True, choices=TOKEN_ROLES)
    token.add_argument("--subject", required=True)
    token.add_argument("--minutes", type=int, default=480, help="lifetime (default 8 hours)")
    token.set_defaults(func=cmd_token)

    from deploy import cli_audit, cli_policy

    cli_policy.register(commands)
    cli_audit.register(commands)
    # Its options are bench's own, parsed only once it is imported (see cmd_bench).
    bench = commands.add_parser("bench", help=cmd_bench.__doc__, add_help=False)
    bench.set_defaults(func=cmd_bench)

    keys = commands.add_parser("keys", help=cmd_keys.__doc__)
    keys.add_argument("directory")
    keys.set_defaults(func=cmd_keys)

    schemas = commands.add_parser("schemas", help="the published contract")
    schema_commands = schemas.add_subparsers(dest="schemas_command", required=True)
    export = schema_commands.add_parser("export", help=cmd_schemas_export.__doc__)
    export.add_argument("directory")
    export.set_defaults(func=cmd_schemas_export)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `safeguard` console command."""
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    if args.command == "bench":
        args.bench_options = rest
    elif rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
