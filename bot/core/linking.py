"""One family across messengers: a one-time code shown in one messenger and typed
in another joins the two profiles into one.

The family that *shows* the code is the target; the family that *types* it is
the source and is merged into the target in the typing turn's transaction:
identities, cases, organisation requests, vouchers and (if the target has
none) the family card move over; the earliest consent and any "safe exit" are
kept; the target's language, conversation and announcements choice stay (a
"yes" to announcements is never widened by a merge); then the source family
row is deleted.

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

from bot.storage import throttle
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
    # Both rows locked, lowest id first (two families typing each other's codes
    # at once queue instead of deadlocking); then the code is checked again.
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
    has_card = await session.scalar(select(FamilyCard.id).where(FamilyCard.family_id == target.id))
    if has_card is None:
        await session.execute(
            update(FamilyCard)
            .where(FamilyCard.family_id == source.id)
            .values(family_id=target.id)
            .execution_options(**moved)
        )
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
    elif kept is not None and theirs is not None and kept.live_case_id is None:
        kept.live_case_id = theirs.live_case_id  # a live chat goes on (its case moved)
    await session.flush()
    await session.execute(delete(Conversation).where(Conversation.family_id == source.id))
    await session.execute(delete(Family).where(Family.id == source.id))
