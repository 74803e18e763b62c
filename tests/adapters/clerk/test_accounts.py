"""Accounts outside HTTP: password hashing, the session secret rule, ``madoguchi user add``."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from adapters.clerk import ClerkError, open_store
from adapters.clerk.auth import session_secret
from adapters.clerk.store import hash_password, verify_password


def test_passwords_are_salted_scrypt_hashes() -> None:
    a, b = hash_password("correct horse 1"), hash_password("correct horse 1")
    assert a != b and a.startswith("scrypt$") and "correct" not in a
    assert verify_password("correct horse 1", a) and not verify_password("wrong", a)
    assert not verify_password("x", "garbage")


def test_placeholder_secret_is_refused_outside_dev(settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    s = copy.deepcopy(settings)
    s.storage.data_dir = tmp_path
    s.mode = "production"
    for bad in ("", "changeme", "short"):
        s.clerk.session_secret = SecretStr(bad)
        with pytest.raises(ClerkError, match="SESSION_SECRET"):
            session_secret(s)
    s.clerk.session_secret = SecretStr("a-long-random-value-0123456789")
    assert session_secret(s) == b"a-long-random-value-0123456789"


def test_dev_generates_and_keeps_a_secret(settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    s = copy.deepcopy(settings)
    s.storage.data_dir = tmp_path
    s.mode = "dev"
    first = session_secret(s)
    assert len(first) >= 32 and session_secret(s) == first
    assert (tmp_path / "clerk" / "session_secret").stat().st_mode & 0o077 == 0


def test_user_add_from_the_command_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from adapters.cli import app

    monkeypatch.setenv("MADOGUCHI_STORAGE__DATA_DIR", str(tmp_path))
    runner = CliRunner()
    r = runner.invoke(app, ["user", "add", "tanaka", "--role", "admin", "--password-stdin"],
                      input="long enough pw\n")
    assert r.exit_code == 0, r.output
    assert "tanaka (admin)" in r.output
    r = runner.invoke(app, ["user", "add", "x", "--role", "boss", "--password-stdin"],
                      input="long enough pw\n")
    assert r.exit_code == 2 and "role must be one of clerk, admin" in r.output
    r = runner.invoke(app, ["user", "add", "y", "--password-stdin"], input="short\n")
    assert r.exit_code == 2 and "at least 8 characters" in r.output
    from adapters.settings import Settings

    store = open_store(Settings(_env_file=None))
    try:
        assert store.authenticate("tanaka", "long enough pw").role == "admin"  # type: ignore[union-attr]
    finally:
        store.close()
