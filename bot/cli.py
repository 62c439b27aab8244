"""The `family-window` command."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from bot.config import Settings, get_settings


def _setup_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # aiogram logs every handled update at INFO; we log what matters ourselves.
    logging.getLogger("aiogram.event").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    # Drivers log statements with their parameters at DEBUG: never, they hold answers.
    logging.getLogger("aiosqlite").setLevel(logging.INFO)
    logging.getLogger("asyncpg").setLevel(logging.INFO)


# -- commands -------------------------------------------------------------------
def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    from bot.app import serve

    if args.host:
        settings.web_host = args.host
    if args.port:
        settings.web_port = args.port
    asyncio.run(serve(settings, migrate=not args.no_migrate))
    return 0


def cmd_db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    from bot.storage.db import Database
    from bot.storage.migrate import upgrade

    async def main() -> None:
        db = Database(settings.database_url)
        try:
            await upgrade(db, args.revision)
        finally:
            await db.dispose()

    asyncio.run(main())
    print(f"database at {args.revision}: {_safe_url(settings.database_url)}")
    return 0


def cmd_content_load(args: argparse.Namespace, settings: Settings) -> int:
    from bot.knowledge.loader import KnowledgeLoadError, load_directory, store
    from bot.storage.db import Database

    try:
        files = load_directory(settings.knowledge_dir)
    except KnowledgeLoadError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        return 1

    async def main() -> int:
        db = Database(settings.database_url)
        try:
            async with db.session() as session:
                return await store(session, files.entries, replace=args.replace)
        finally:
            await db.dispose()

    written = asyncio.run(main())
    print(f"knowledge: {len(files.entries)} entries in files, {written} written to the database")
    return 0


def cmd_dialogs_check(args: argparse.Namespace, settings: Settings) -> int:
    import bot.actions  # noqa: F401  (registers actions)
    from bot.actions.registry import registry
    from bot.core.i18n import Translator
    from bot.journeys.book import JourneyBook, JourneyLoadError
    from bot.journeys.lint import lint
    from bot.knowledge.loader import KnowledgeLoadError, load_directory

    directory = args.dir or settings.dialogs_dir
    try:
        book = JourneyBook.load(directory)
    except JourneyLoadError as exc:
        for problem in exc.problems:
            print(f"error: {problem}")
        print(f"{len(exc.problems)} problem(s): journeys cannot be loaded")
        return 1
    translator = Translator(args.locales or settings.locales_dir, settings.default_language)
    entries = None
    knowledge_dir = args.knowledge or settings.knowledge_dir
    try:
        entries = {e.id for e in load_directory(knowledge_dir).entries}
    except KnowledgeLoadError as exc:
        print(
            f"note: knowledge entries not checked ({len(exc.problems)} problems in {knowledge_dir})"
        )
    problems = lint(book, translator, registry, entries)
    for found in problems:
        print(f"error: {found}")
    nodes = sum(len(j.nodes) for j in book.journeys.values())
    languages = ", ".join(translator.languages)
    if problems:
        print(f"{len(problems)} problem(s) in {len(book.journeys)} journeys ({nodes} nodes)")
        return 1
    print(f"ok: {len(book.journeys)} journeys, {nodes} nodes, languages: {languages}")
    return 0


def cmd_triage(args: argparse.Namespace, settings: Settings, stdin: TextIO = sys.stdin) -> int:
    from bot.core.triage import triage

    for line in stdin:
        text = line.rstrip("\n")
        if not text.strip():
            continue
        result = triage(text)
        print(
            json.dumps(
                {"text": text, "risk": result.risk.value, "signals": list(result.signals)},
                ensure_ascii=False,
            ),
            flush=True,
        )
    return 0


def cmd_ask(args: argparse.Namespace, settings: Settings, stdin: TextIO = sys.stdin) -> int:
    from bot.knowledge.base import KnowledgeBase
    from bot.knowledge.loader import load_directory
    from bot.knowledge.morph import lemmatizer
    from bot.knowledge.search import SearchIndex
    from bot.storage.db import Database

    async def build() -> SearchIndex:
        db = Database(settings.database_url)
        try:
            knowledge = KnowledgeBase(db, settings.knowledge_dir)
            await knowledge.refresh(force=True)
            if knowledge.index is not None and knowledge.entries:
                return knowledge.index
        except Exception as exc:  # no database yet: answer from the files
            print(
                f"note: database not ready ({type(exc).__name__}); using knowledge/*.yaml",
                file=sys.stderr,
            )
        finally:
            await db.dispose()
        files = load_directory(settings.knowledge_dir)
        return SearchIndex(files.entries, lemmatizer, files.synonyms)

    index = asyncio.run(build())
    for line in stdin:
        text = line.rstrip("\n")
        if not text.strip():
            continue
        result = index.search(text, limit=args.limit)
        print(
            json.dumps(
                {
                    "text": text,
                    "matches": [
                        {"id": m.id, "title": m.title, "score": m.score} for m in result.matches
                    ],
                    "answered": result.answered,
                },
                ensure_ascii=False,
            ),
            flush=True,
        )
    return 0


def cmd_chat(args: argparse.Namespace, settings: Settings) -> int:
    from bot.channels.terminal import TerminalChat
    from bot.core.frontdoor import FrontDoor
    from bot.core.services import Services
    from bot.knowledge.loader import seed_if_empty
    from bot.storage.migrate import upgrade

    async def main() -> None:
        services = Services.build(settings)
        await upgrade(services.db)
        async with services.db.session() as session:
            await seed_if_empty(session, settings.knowledge_dir)
        await services.knowledge.refresh(force=True)
        chat = TerminalChat(
            FrontDoor(services), user=args.user, language=args.language, as_json=args.json
        )
        try:
            if not args.no_start:
                await chat.send("/start")
            loop = asyncio.get_running_loop()
            while True:
                if not args.json:
                    print("> ", end="", flush=True)
                line = await loop.run_in_executor(None, sys.stdin.readline)
                if not line:
                    break
                line = line.rstrip("\n")
                if line.strip() in ("/quit", "/exit"):
                    break
                if line.strip():
                    await chat.send(line)
        finally:
            await services.db.dispose()

    asyncio.run(main())
    return 0


def cmd_cases(args: argparse.Namespace, settings: Settings) -> int:
    from sqlalchemy import select

    from bot.core.cases import card
    from bot.storage.db import Database
    from bot.storage.models import Case

    order = {"urgent": 0, "high": 1, "normal": 2}

    async def main() -> list[Case]:
        db = Database(settings.database_url)
        try:
            async with db.session() as session:
                query = select(Case)
                if not args.all:
                    query = query.where(Case.status.in_(("new", "open")))
                return list((await session.scalars(query)).all())
        finally:
            await db.dispose()

    cases = sorted(asyncio.run(main()), key=lambda c: (order.get(c.priority, 3), c.created_at))
    for case in cases:
        when = case.created_at.strftime("%Y-%m-%d %H:%M")
        print(
            f"#{case.id} [{case.priority}] {case.status} {when} {case.topic} → {case.specialty} "
            f"({case.channel}, {case.language})"
        )
        for line in card(case):
            print(f"    {line}")
    if not cases:
        print("no open cases")
    return 0


def _read_password(args: argparse.Namespace) -> str:
    """From stdin (scripts) or typed twice at a hidden prompt; never an argument
    (arguments show in `ps` and in shell history)."""
    import getpass

    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password (10+ characters): ")
    if getpass.getpass("Repeat the password: ") != first:
        raise SystemExit("the passwords differ; nothing was changed")
    return first


def cmd_users(args: argparse.Namespace, settings: Settings) -> int:
    from sqlalchemy import select

    from admin import audit, auth
    from bot.storage import throttle
    from bot.storage.db import Database
    from bot.storage.models import Partner, StaffUser

    async def main() -> int:
        db = Database(settings.database_url)
        try:
            async with db.session() as session:
                if args.action == "list":
                    users = (
                        await session.scalars(select(StaffUser).order_by(StaffUser.login))
                    ).all()
                    for account in users:
                        extra = ",".join(account.specialties) or (
                            f"partner {account.partner_id}" if account.partner_id else ""
                        )
                        state = "" if account.active else " (disabled)"
                        print(f"{account.login}\t{account.role}\t{extra}{state}")
                    return 0
                if args.action == "create":
                    if args.partner_id is not None and not await session.get(
                        Partner, args.partner_id
                    ):
                        print(f"no partner with id {args.partner_id}", file=sys.stderr)
                        return 1
                    created = await auth.create_user(
                        session,
                        login=args.login,
                        password=_read_password(args),
                        role=args.role,
                        name=args.name or "",
                        specialties=args.specialty or [],
                        partner_id=args.partner_id,
                        must_change_password=False,
                    )
                    await audit.record(
                        session,
                        None,
                        "create",
                        "staff_user",
                        created.id,
                        after=audit.snapshot(created),
                        login="cli",
                    )
                    print(f"created {created.login} ({created.role})")
                    return 0
                user = await session.scalar(
                    select(StaffUser).where(StaffUser.login == auth.normal_login(args.login))
                )
                if user is None:
                    print(f"no account {args.login!r}", file=sys.stderr)
                    return 1
                if args.action == "unlock":
                    await throttle.clear_prefix(session, f"login:{user.login}")
                    await audit.record(session, None, "unlock", "staff_user", user.id, login="cli")
                    print(f"unlocked: {user.login}")
                    return 0
                before = audit.snapshot(user)
                if args.action == "passwd":
                    await auth.set_password(session, user, _read_password(args), must_change=False)
                    user.active = True
                else:  # disable
                    user.active = False
                    await auth.set_password(session, user, auth.random_password(), must_change=True)
                # A new password shows in no column of the record (hashes are left
                # out), so it is recorded as an event rather than as a change.
                after = audit.snapshot(user) if args.action != "passwd" else None
                await audit.record(
                    session,
                    None,
                    args.action,
                    "staff_user",
                    user.id,
                    before=before if after else None,
                    after=after,
                    login="cli",
                )
                print(f"{args.action}: {user.login}")
                return 0
        except auth.AccountError as exc:
            print(str(exc), file=sys.stderr)
            return 1
        finally:
            await db.dispose()

    return asyncio.run(main())


def cmd_admin(args: argparse.Namespace, settings: Settings) -> int:
    """The admin panel alone (for a separate, staff-only host)."""
    import uvicorn

    from admin.app import standalone
    from bot.core.services import Services

    services = Services.build(settings)
    host = args.host or settings.web_host
    port = args.port or settings.web_port
    print(f"admin panel on http://{host}:{port}/admin/")
    uvicorn.run(
        standalone(services),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        proxy_headers=True,
        forwarded_allow_ips=settings.web_trusted_proxies,
    )
    return 0


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="family-window",
        description="Семейное окно — the single window of a Family Resource Centre",
    )
    sub = top.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="serve the web chat (and Telegram when TELEGRAM_TOKEN is set)")
    run.add_argument("--host")
    run.add_argument("--port", type=int)
    run.add_argument("--no-migrate", action="store_true", help="do not upgrade the database first")
    run.set_defaults(func=cmd_run)

    chat = sub.add_parser("chat", help="talk to the bot in this terminal")
    chat.add_argument("--json", action="store_true", help="one JSON line per reply")
    chat.add_argument("--user", default="local", help="who you are (each user has own state)")
    chat.add_argument("--language", help="messenger language hint, e.g. en")
    chat.add_argument("--no-start", action="store_true", help="do not send /start first")
    chat.set_defaults(func=cmd_chat)

    tri = sub.add_parser("triage", help="crisis triage of stdin lines → JSON lines")
    tri.set_defaults(func=cmd_triage)

    ask = sub.add_parser("ask", help="knowledge search of stdin lines → JSON lines")
    ask.add_argument("--limit", type=int, default=3)
    ask.set_defaults(func=cmd_ask)

    dialogs = sub.add_parser("dialogs", help="journeys").add_subparsers(
        dest="action", required=True
    )
    check = dialogs.add_parser("check", help="lint dialogs/*.yaml; non-zero exit on problems")
    check.add_argument("--dir", type=_path)
    check.add_argument("--locales", type=_path)
    check.add_argument("--knowledge", type=_path, help="knowledge folder for entry ids")
    check.set_defaults(func=cmd_dialogs_check)

    db = sub.add_parser("db", help="database").add_subparsers(dest="action", required=True)
    up = db.add_parser("upgrade", help="apply migrations")
    up.add_argument("revision", nargs="?", default="head")
    up.set_defaults(func=cmd_db_upgrade)

    content = sub.add_parser("content", help="knowledge content").add_subparsers(
        dest="action", required=True
    )
    load = content.add_parser("load", help="load knowledge/*.yaml into the database")
    load.add_argument("--replace", action="store_true", help="overwrite entries already there")
    load.set_defaults(func=cmd_content_load)

    cases = sub.add_parser("cases", help="list cases waiting for a consultant")
    cases.add_argument("--all", action="store_true", help="closed ones too")
    cases.set_defaults(func=cmd_cases)

    users = sub.add_parser("users", help="admin panel accounts").add_subparsers(
        dest="action", required=True
    )
    create = users.add_parser("create", help="create an account (the first admin, too)")
    create.add_argument("--login", required=True)
    create.add_argument(
        "--role", required=True, choices=["admin", "editor", "consultant", "partner"]
    )
    create.add_argument("--name", help="name or pseudonym shown to families (consultants)")
    create.add_argument(
        "--specialty",
        action="append",
        choices=["psychologist", "lawyer", "social", "crisis"],
        help="consultants: repeat for several",
    )
    create.add_argument("--partner-id", type=int, help="partner staff: their organisation's id")
    create.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin"
    )
    create.set_defaults(func=cmd_users)
    passwd = users.add_parser("passwd", help="set a new password (and re-enable the account)")
    passwd.add_argument("login")
    passwd.add_argument("--password-stdin", action="store_true")
    passwd.set_defaults(func=cmd_users)
    disable = users.add_parser("disable", help="disable an account and end its sessions")
    disable.add_argument("login")
    disable.set_defaults(func=cmd_users)
    unlock = users.add_parser("unlock", help="lift a login lock after wrong passwords")
    unlock.add_argument("login")
    unlock.set_defaults(func=cmd_users)
    users.add_parser("list", help="list accounts").set_defaults(func=cmd_users)

    adm = sub.add_parser("admin", help="serve only the admin panel (at /admin)")
    adm.add_argument("--host")
    adm.add_argument("--port", type=int)
    adm.set_defaults(func=cmd_admin)
    return top


def _path(value: str) -> Path:
    return Path(value)


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    settings = get_settings()
    _setup_logging(settings)
    result: int = args.func(args, settings)
    return result


if __name__ == "__main__":
    sys.exit(main())
