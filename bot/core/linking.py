"""One family across messengers: a one-time code shown in one messenger and typed
in another joins the two profiles into one.

The family that *shows* the code is the target; the family that *types* it is
the source and is merged into the target in the typing turn's transaction:
identities, cases, organisation requests and vouchers move over; of two family
cards the better one stays (verified > pending > rejected; on a tie the
target's), the other is deleted on purpose (audited), never by the cascade; the
earliest consent and any "safe exit" are kept; the target's language,
conversation position and announcements choice stay (a "yes" to announcements is
never widened by a merge); the target's answers win, the source's answers the
target lacks are added; then the source family row is deleted. Two
conversations each with a live consultation are not joined: one chat is
finished first (in practice the typing side cannot be in one: its words would
go to the consultant, see bot/actions/linking.py).

The code: 8 Crockford base32 symbols from `secrets` (40 random bits), shown as
`XXXX-XXXX`, valid 15 minutes, once; only its SHA-256 is stored. It is read
the way voucher codes are (any case, spaces and dashes, O as 0, I and L as 1).
Wrong or expired codes count against the typing family: 5 within an hour lock
it for an hour (bot/storage/throttle.py), far beyond what guessing 2^40 needs.

Only the input «У меня есть код» reads a code: a bare `XXXX-XXXX` typed anywhere
else is *not* taken for one, because it could be an answer (a document number,
an organisation's contact) or a message for a consultant, and eating it would
lose the family's words (and count as a wrong attempt).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from bot.storage import audit, throttle
from bot.storage.models import (
    Case,
    Conversation,
    Family,
    FamilyCard,
    Identity,
    OrgRequest,
    Voucher,
    utcnow,
)
from bot.vouchers.codes import ALPHABET, GROUP

log = logging.getLogger(__name__)

LENGTH = 8  # symbols: 40 random bits
LIFETIME = timedelta(minutes=15)
LIMIT = throttle.Limit(failures=5, window=timedelta(hours=1), lockout=timedelta(hours=1))
TYPED_MAX = 40  # longer text is not a code (and is not hashed)
# Messengers a notice can reach outside a turn (the CLI is a developer's console).
NOTICE_CHANNELS = ("telegram", "vk", "web")
_IGNORED = str.maketrans("", "", " -–—_.\u00a0\t")
_LOOKALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})


def new_code() -> str:
    """A fresh code, normalised (no dash)."""
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def normalise(typed: str) -> str | None:
    """The code as it is hashed, from whatever was typed; None if it cannot be one."""
    if len(typed) > TYPED_MAX:
        return None
    code = typed.upper().translate(_IGNORED).translate(_LOOKALIKES)
    if len(code) != LENGTH or any(symbol not in ALPHABET for symbol in code):
        return None
    return code


def display(code: str) -> str:
    """`ABCD1234` → `ABCD-1234`."""
    return "-".join(code[i : i + GROUP] for i in range(0, len(code), GROUP))


def code_hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def throttle_key(family_id: int) -> str:
    return f"famlink:{family_id}"


def offer_code(family: Family) -> str:
    """A fresh code for `family` (any earlier one stops working); shown once, kept hashed."""
    code = new_code()
    family.link_hash = code_hash(code)
    family.link_expires = utcnow() + LIFETIME
    return display(code)


class Result(StrEnum):
    LINKED = "linked"
    NOT_A_CODE = "not_a_code"  # not the shape of a code: not counted as an attempt
    WRONG = "wrong"
    EXPIRED = "expired"
    LOCKED = "locked"  # too many wrong codes: try later
    SAME_FAMILY = "same_family"  # their own code, or this messenger is linked already
    SAME_CHANNEL = "same_channel"  # the profile already has this messenger (another account)
    BOTH_LIVE = "both_live"  # a consultant talks to each profile now: one chat ends first


@dataclass(frozen=True, slots=True)
class Linking:
    result: Result
    target: Family | None = None  # the merged family, loaded afresh (LINKED)
    identity: Identity | None = None  # the typing identity, loaded afresh (LINKED)
    channels: tuple[str, ...] = ()  # the merged family's messengers (LINKED)
    # The target's identities in the other messenger(s), to be told (LINKED).
    others: tuple[Identity, ...] = ()
    locked_until: datetime | None = None


async def link(session: AsyncSession, source: Family, identity: Identity, typed: str) -> Linking:
    """`typed` in `source`'s chat: merge `source` into the family that showed that code.

    The session's pending changes are flushed first; on success everything the
    session held is expunged (the source rows are gone) and the merged family,
    with its conversation, and the typing identity are returned loaded afresh.
    """
    key = throttle_key(source.id)
    locked = await throttle.locked_until(session, [key])
    if locked is not None:
        return Linking(Result.LOCKED, locked_until=locked)
    code = normalise(typed)
    if code is None:
        return Linking(Result.NOT_A_CODE)
    digest = code_hash(code)
    if source.link_hash == digest:
        return Linking(Result.SAME_FAMILY)
    target_id = await session.scalar(select(Family.id).where(Family.link_hash == digest))
    if target_id is None:
        return await _failed(session, key, Result.WRONG)
    # Both rows locked, lowest id first; then the code is checked again. (On
    # PostgreSQL the turn holds its own family's row already (FrontDoor._open),
    # so two families typing each other's codes in the same instant can still
    # deadlock: the database then fails one of the two turns, the other links.)
    first, second = sorted((source.id, target_id))
    await session.execute(
        select(Family.id)
        .where(Family.id.in_((first, second)))
        .order_by(Family.id)
        .with_for_update()
    )
    target = await session.scalar(
        select(Family)
        .where(Family.id == target_id)
        .execution_options(populate_existing=True)
        .with_for_update()
    )
    if target is None or target.link_hash != digest:
        return await _failed(session, key, Result.WRONG)
    expires = target.link_expires
    if expires is None or expires <= utcnow():
        return await _failed(session, key, Result.EXPIRED)
    theirs = (await session.scalars(select(Identity).where(Identity.family_id == target.id))).all()
    ours = (await session.scalars(select(Identity).where(Identity.family_id == source.id))).all()
    if identity.id in {i.id for i in theirs}:
        return Linking(Result.SAME_FAMILY)
    if {i.channel for i in theirs} & {i.channel for i in ours}:
        return Linking(Result.SAME_CHANNEL)
    if await _live_case(session, target.id) and await _live_case(session, source.id):
        return Linking(Result.BOTH_LIVE)  # not a wrong code: not counted
    others = tuple(i for i in theirs if i.blocked_at is None and i.channel in NOTICE_CHANNELS)
    await throttle.clear(session, key)
    await _merge(session, source, target)
    log.info(
        "messengers linked into one profile (%s)",
        "+".join(sorted({i.channel for i in (*theirs, *ours)})),
    )
    session.expunge_all()
    merged = await session.scalar(
        select(Family).options(joinedload(Family.conversation)).where(Family.id == target_id)
    )
    mine = await session.get(Identity, identity.id)
    assert merged is not None and mine is not None
    channels = tuple(sorted({i.channel for i in (*theirs, *ours)}))
    return Linking(Result.LINKED, merged, mine, channels, others)


async def _failed(session: AsyncSession, key: str, result: Result) -> Linking:
    until = await throttle.fail(session, key, LIMIT)
    if until is not None:
        return Linking(Result.LOCKED, locked_until=until)
    return Linking(result)


async def _live_case(session: AsyncSession, family_id: int) -> int | None:
    """The case a consultant holds in this family's conversation now, if any."""
    return await session.scalar(
        select(Case.id)
        .join(Conversation, Conversation.live_case_id == Case.id)
        .where(Conversation.family_id == family_id, Case.status == "open")
    )


# Which of two family cards a merged profile keeps (on a tie: the target's).
CARD_RANK = {"verified": 2, "pending": 1, "rejected": 0}


async def _merge_cards(session: AsyncSession, source: Family, target: Family) -> None:
    """One card per family: the better one is kept and moved to the target; the
    other is deleted here, audited, so the source's deletion cascades to no card."""
    cards = (
        await session.scalars(
            select(FamilyCard).where(FamilyCard.family_id.in_((source.id, target.id)))
        )
    ).all()
    ours = next((c for c in cards if c.family_id == target.id), None)
    theirs = next((c for c in cards if c.family_id == source.id), None)
    if theirs is None:
        return
    kept: FamilyCard = theirs
    dropped: FamilyCard | None = ours
    if ours is not None and CARD_RANK.get(theirs.status, 0) <= CARD_RANK.get(ours.status, 0):
        kept, dropped = ours, theirs
    if dropped is not None:
        # The family's categories and ids stay out of the log; the card's status is the point.
        audit.add(
            session,
            None,
            "delete",
            "family_card",
            dropped.id,
            before={"status": dropped.status},
            after={"reason": "profiles linked", "kept_card": kept.id, "kept_status": kept.status},
        )
        await session.execute(
            delete(FamilyCard)
            .where(FamilyCard.id == dropped.id)
            .execution_options(synchronize_session=False)
        )
        log.info("linked profiles had two family cards: kept a %s one", kept.status)
    if kept.family_id != target.id:
        await session.execute(
            update(FamilyCard)
            .where(FamilyCard.id == kept.id)
            .values(family_id=target.id)
            .execution_options(synchronize_session=False)
        )


async def _merge(session: AsyncSession, source: Family, target: Family) -> None:
    """Move everything of `source` to `target` and delete `source` (one transaction)."""
    await session.flush()  # this turn's own changes go first (and then go with the rest)
    moved = {"synchronize_session": False}
    for model in (Identity, Case, OrgRequest, Voucher):
        await session.execute(
            update(model)
            .where(model.family_id == source.id)
            .values(family_id=target.id)
            .execution_options(**moved)
        )
    await _merge_cards(session, source, target)
    # The earliest consent that was given (with its version); never one that was not.
    given = [(f.consent_at, f.consent_version) for f in (target, source) if f.consent_at]
    if given:
        target.consent_at, target.consent_version = min(given, key=lambda g: g[0])
    quiet = [f.quiet_at for f in (target, source) if f.quiet_at is not None]
    target.quiet_at = min(quiet) if quiet else None
    target.created_at = min(target.created_at, source.created_at)
    target.last_seen_at = max(target.last_seen_at, source.last_seen_at)
    target.link_hash = None
    target.link_expires = None
    # language and announcements_ok: the target's, as they are.
    kept = await session.scalar(select(Conversation).where(Conversation.family_id == target.id))
    theirs = await session.scalar(select(Conversation).where(Conversation.family_id == source.id))
    if kept is None and theirs is not None:  # the only conversation there is goes along
        await session.execute(
            update(Conversation)
            .where(Conversation.family_id == source.id)
            .values(family_id=target.id)
            .execution_options(**moved)
        )
    elif kept is not None and theirs is not None:
        # The target's answers win; what only the source was told is kept too.
        kept.vars = {**(theirs.vars or {}), **(kept.vars or {})}
        if await _live_case(session, target.id) is None:
            # A live chat goes on (its case moved); two live chats were refused above.
            kept.live_case_id = await _live_case(session, source.id)
    await session.flush()
    await session.execute(delete(Conversation).where(Conversation.family_id == source.id))
    await session.execute(delete(Family).where(Family.id == source.id))
