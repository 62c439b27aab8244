"""`family-window users …`: the first admin is made from the command line, with
no default password, and can then log in."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from admin.auth import verify_password
from bot.storage.db import Database
from bot.storage.models import AuditRecord, StaffUser

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def users(database_url: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url, "LOG_LEVEL": "WARNING"}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "users", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
        check=False,
    )


async def _user(database_url: str, login: str) -> StaffUser | None:
    db = Database(database_url)
    try:
        async with db.session() as session:
            return await session.scalar(select(StaffUser).where(StaffUser.login == login))
    finally:
        await db.dispose()


async def test_create_the_first_admin_and_manage_it(database_url: str) -> None:
    done = users(
        database_url,
        "create",
        "--login",
        "Marina",
        "--role",
        "admin",
        "--name",
        "Марина",
        "--password-stdin",
        stdin="a long enough secret\n",
    )
    assert done.returncode == 0, done.stderr
    assert "created marina (admin)" in done.stdout
    user = await _user(database_url, "marina")
    assert user is not None and user.role == "admin" and not user.must_change_password
    assert verify_password(user.password_hash, "a long enough secret")
    assert "a long enough secret" not in done.stdout + done.stderr

    listed = users(database_url, "list")
    assert "marina\tadmin" in listed.stdout

    again = users(
        database_url,
        "create",
        "--login",
        "marina",
        "--role",
        "admin",
        "--password-stdin",
        stdin="another long secret\n",
    )
    assert again.returncode == 1 and "уже занят" in again.stderr

    changed = users(
        database_url, "passwd", "marina", "--password-stdin", stdin="a new long secret\n"
    )
    assert changed.returncode == 0
    user = await _user(database_url, "marina")
    assert user is not None and verify_password(user.password_hash, "a new long secret")

    unlocked = users(database_url, "unlock", "marina")
    assert unlocked.returncode == 0 and "unlocked: marina" in unlocked.stdout

    disabled = users(database_url, "disable", "marina")
    assert disabled.returncode == 0
    user = await _user(database_url, "marina")
    assert user is not None and not user.active
    assert not verify_password(user.password_hash, "a new long secret")

    db = Database(database_url)
    try:
        async with db.session() as session:
            actions = (await session.scalars(select(AuditRecord.action))).all()
    finally:
        await db.dispose()
    assert actions == ["create", "passwd", "unlock", "disable"]


def test_there_is_no_default_password(database_url: str) -> None:
    short = users(
        database_url,
        "create",
        "--login",
        "boss",
        "--role",
        "admin",
        "--password-stdin",
        stdin="\n",
    )
    assert short.returncode == 1
    assert "не короче 10" in short.stderr


def test_roles_need_their_details(database_url: str) -> None:
    consultant = users(
        database_url,
        "create",
        "--login",
        "psy",
        "--role",
        "consultant",
        "--password-stdin",
        stdin="a long enough secret\n",
    )
    assert consultant.returncode == 1 and "специальность" in consultant.stderr
    partner = users(
        database_url,
        "create",
        "--login",
        "shop",
        "--role",
        "partner",
        "--partner-id",
        "999",
        "--password-stdin",
        stdin="a long enough secret\n",
    )
    assert partner.returncode == 1 and "no partner" in partner.stderr
    ok = users(
        database_url,
        "create",
        "--login",
        "psy",
        "--role",
        "consultant",
        "--specialty",
        "psychologist",
        "--specialty",
        "crisis",
        "--password-stdin",
        stdin="a long enough secret\n",
    )
    assert ok.returncode == 0, ok.stderr
