"""`safeguard token` mints a token for every role, the partnership auditor's included."""

from __future__ import annotations

from pathlib import Path

import jwt
import pytest

from deploy.cli import TOKEN_ROLES, main
from services.common.auth import Role
from services.common.keys import load_or_create_signing_key


def test_the_token_command_offers_every_role() -> None:
    assert set(TOKEN_ROLES) == {role.value for role in Role}


def test_a_partnership_auditor_token_names_its_role(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    key_path = tmp_path / "signing.pem"
    load_or_create_signing_key(key_path)
    monkeypatch.setenv("JWT_SIGNING_KEY_PATH", str(key_path))
    arguments = ["token", "--agency", "nm-csc", "--role", "partnership_auditor", "--subject", "ig"]
    assert main(arguments) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert (claims["role"], claims["agency"], claims["sub"]) == (
        "partnership_auditor",
        "nm-csc",
        "ig",
    )
