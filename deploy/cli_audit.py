"""`safeguard audit`: ask the audit service to verify the log; check its proofs offline."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import ValidationError

from services.audit.proofs import (
    ConsistencyProof,
    InclusionProof,
    check_consistency,
    check_inclusion,
)

DEFAULT_URL = "http://127.0.0.1:8003"


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the `audit` command group to the `safeguard` command."""
    audit = commands.add_parser("audit", help="Verify the audit log and check its proofs.")
    actions = audit.add_subparsers(dest="audit_command", required=True)

    verify = actions.add_parser("verify", help=cmd_audit_verify.__doc__)
    verify.add_argument(
        "--url",
        default=os.environ.get("AUDIT_URL", DEFAULT_URL),
        help="The audit service (default: $AUDIT_URL or %(default)s).",
    )
    verify.add_argument(
        "--token",
        default=os.environ.get("SAFEGUARD_TOKEN"),
        help="An auditor's bearer token (default: $SAFEGUARD_TOKEN).",
    )
    verify.set_defaults(func=cmd_audit_verify)

    check = actions.add_parser("check-proof", help=cmd_audit_check_proof.__doc__)
    check.add_argument("proof", type=Path, help="An inclusion or consistency proof (JSON).")
    check.add_argument(
        "--public-key", type=Path, required=True, help="The audit tree-head public key (PEM)."
    )
    check.set_defaults(func=cmd_audit_check_proof)


def cmd_audit_verify(args: argparse.Namespace) -> int:
    """Have the audit service recompute its chain and tree; exit 1 unless they check out."""
    if not args.token:
        print("An auditor's token is needed: --token or $SAFEGUARD_TOKEN.", file=sys.stderr)
        return 2
    response = httpx.get(
        f"{args.url.rstrip('/')}/v1/audit/verify",
        headers={"Authorization": f"Bearer {args.token}"},
        timeout=300,
    )
    if not response.is_success:
        print(f"{response.status_code}: {response.text}", file=sys.stderr)
        return 2
    verdict = response.json()
    print(json.dumps(verdict, indent=2))
    return 0 if verdict.get("ok") is True else 1


def _public_key(path: Path) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(path.read_bytes())
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{path} is not an Ed25519 public key")
    return key


def check_proof_document(document: object, public_key: Ed25519PublicKey) -> str | None:
    """Why a proof document (inclusion or consistency) fails, or None if it checks out."""
    try:
        if isinstance(document, dict) and "audit_path" in document:
            return check_inclusion(InclusionProof.model_validate(document), public_key)
        return check_consistency(ConsistencyProof.model_validate(document), public_key)
    except ValidationError as error:
        return f"not a proof document: {error.error_count()} problem(s)"


def cmd_audit_check_proof(args: argparse.Namespace) -> int:
    """Check an inclusion or consistency proof offline, with nothing but the public key."""
    try:
        document = json.loads(args.proof.read_text())
        public_key = _public_key(args.public_key)
    except (OSError, ValueError) as error:
        print(str(error), file=sys.stderr)
        return 2
    fault = check_proof_document(document, public_key)
    if fault:
        print(f"FAILED: {fault}")
        return 1
    print("ok: the proof checks out against the signed tree head")
    return 0
