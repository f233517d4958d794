"""The small-team login's user file, its brake on guessing, and when `qa-bot ui` may start."""

from __future__ import annotations

import json
import stat
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from qa_bot.cli import app
from qa_bot.settings import get_settings
from qa_bot.team.users import (
    FAILURE_WINDOW_S,
    MAX_FAILURES,
    LoginThrottle,
    UsersFile,
    UsersFileError,
    hash_password,
    is_loopback,
    verify_password,
)
from tests.fixtures.servers import free_port

PASSWORD = "correct horse battery"


def test_a_password_is_stored_only_as_a_salted_scrypt_hash():
    first, second = hash_password(PASSWORD), hash_password(PASSWORD)

    assert first.startswith("scrypt$") and PASSWORD not in first
    assert first != second  # each hash has its own salt
    assert verify_password(PASSWORD, first) and verify_password(PASSWORD, second)
    assert not verify_password("correct horse battery ", first)
    assert not verify_password(PASSWORD, "not a hash")


def test_the_users_file_holds_names_and_hashes_readable_by_its_owner_only(tmp_path):
    users = UsersFile(tmp_path / "users.json")

    assert users.add("alice", PASSWORD) is True
    assert users.add("alice", "another long password") is False  # a new password, same user
    assert users.names() == ["alice"]
    assert users.check("alice", "another long password") and not users.check("alice", PASSWORD)
    assert not users.check("mallory", PASSWORD)
    assert stat.S_IMODE((tmp_path / "users.json").stat().st_mode) == 0o600
    assert "another long password" not in (tmp_path / "users.json").read_text()
    assert users.remove("alice") and not users.remove("alice") and users.names() == []


@pytest.mark.parametrize(
    ("name", "password", "says"),
    [("bob smith", PASSWORD, "not a usable user name"), ("bob", "short", "at least 10 characters")],
)
def test_unusable_names_and_short_passwords_are_refused_with_the_reason(tmp_path, name, password, says):
    with pytest.raises(UsersFileError, match=says):
        UsersFile(tmp_path / "users.json").add(name, password)


def test_a_damaged_users_file_is_named_with_what_to_do(tmp_path):
    (tmp_path / "users.json").write_text("{not json")

    with pytest.raises(UsersFileError, match=r"users.json: not a qa-bot users file.*qa-bot users add"):
        UsersFile(tmp_path / "users.json").names()


def test_after_five_wrong_passwords_a_name_is_refused_until_the_window_passes():
    now = [1000.0]
    throttle = LoginThrottle(clock=lambda: now[0])
    for _ in range(MAX_FAILURES - 1):
        throttle.failed("alice")
    assert throttle.wait_seconds("alice") == 0

    throttle.failed("alice")
    assert throttle.wait_seconds("alice") == FAILURE_WINDOW_S
    assert throttle.wait_seconds("bob") == 0  # other names are not affected
    now[0] += FAILURE_WINDOW_S + 1
    assert throttle.wait_seconds("alice") == 0


@pytest.mark.parametrize(
    ("address", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.1.1", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("192.168.1.20", False),
        ("::", False),
        (None, False),
        ("", False),
    ],
)
def test_only_loopback_addresses_count_as_this_machine(address, loopback):
    assert is_loopback(address) is loopback


# --- the CLI -----------------------------------------------------------------------------------------


@pytest.fixture
def cli_env(tmp_path, monkeypatch, clean_settings_env):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("QA_BOT_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_users_are_added_listed_and_removed_from_the_cli(cli_env):
    runner = CliRunner()

    added = runner.invoke(app, ["users", "add", "alice", "--password-stdin"], input=PASSWORD + "\n")
    stored = json.loads((cli_env / "data" / "users.json").read_text())
    listed = runner.invoke(app, ["users", "list"])
    removed = runner.invoke(app, ["users", "remove", "alice"])
    again = runner.invoke(app, ["users", "remove", "alice"])

    assert added.exit_code == 0 and "alice: added" in added.output
    assert PASSWORD not in json.dumps(stored)
    assert verify_password(PASSWORD, stored["users"]["alice"]["password"])
    assert listed.output.split() == ["alice"]
    assert removed.exit_code == 0 and again.exit_code == 1 and "No user alice" in again.output


def test_the_chat_refuses_to_serve_beyond_this_machine_without_a_login(cli_env):
    result = CliRunner().invoke(app, ["ui", "--address", "0.0.0.0"])

    assert result.exit_code == 2
    assert "served on 0.0.0.0, beyond this machine, without a login" in " ".join(result.output.split())


def test_password_login_without_any_user_refuses_to_start(cli_env, monkeypatch):
    monkeypatch.setenv("QA_BOT_AUTH", "password")
    get_settings.cache_clear()

    result = CliRunner().invoke(app, ["ui", "--address", "0.0.0.0"])

    assert result.exit_code == 2 and "has no users: add one with" in " ".join(result.output.split())


def test_no_auth_serves_beyond_this_machine_with_a_warning(cli_env):
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "qa_bot.cli",
        "ui",
        "--address",
        "0.0.0.0",
        "--port",
        str(port),
        "--no-auth",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        warning = process.stderr.readline()  # printed before Streamlit takes over the process
    finally:
        process.kill()
        process.wait()
    assert warning.startswith("Warning: This chat is served on 0.0.0.0 without a login (--no-auth)")
