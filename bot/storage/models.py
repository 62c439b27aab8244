"""Database tables.

Personal data is kept to the minimum the service needs (152-FZ): no names, no
message texts. A family's answers (`Conversation.vars`) and cases are stored
only after consent, except a crisis flag, kept to protect life (152-FZ art. 6 p. 1.6).
Everything tied to a family is deleted with it (ON DELETE CASCADE).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONType = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    type_annotation_map = {  # noqa: RUF012 (SQLAlchemy declares it a ClassVar)
        datetime: UTCDateTime(),
        dict[str, Any]: JSONType,
        list[Any]: JSONType,
    }


class Family(Base):
    """A family (the requester) as one profile across messengers."""

    __tablename__ = "families"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    language: Mapped[str] = mapped_column(String(8), default="ru")
    consent_at: Mapped[datetime | None] = mapped_column(default=None)
    consent_version: Mapped[str | None] = mapped_column(String(16), default=None)
    # Set by "safe exit": someone else may read this phone, so the service never
    # writes first again (vouchers, reminders); the family can still ask.
    quiet_at: Mapped[datetime | None] = mapped_column(default=None)
    # Announcements from the centre only with the family's own "yes" (opt-in).
    announcements_ok: Mapped[bool] = mapped_column(Boolean, default=False)
    # One-time code to join another messenger to this profile: only its hash is kept.
    link_hash: Mapped[str | None] = mapped_column(String(64), default=None, unique=True)
    link_expires: Mapped[datetime | None] = mapped_column(default=None)

    identities: Mapped[list[Identity]] = relationship(
        back_populates="family", cascade="all, delete-orphan", passive_deletes=True
    )
    conversation: Mapped[Conversation | None] = relationship(
        back_populates="family", cascade="all, delete-orphan", passive_deletes=True
    )


class Identity(Base):
    """How we reach a family in one messenger (a chat id is needed to answer)."""

    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("channel", "external_id", name="uq_identity_channel_user"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    family_id: Mapped[int] = mapped_column(
        ForeignKey("families.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(128))
    chat_id: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    blocked_at: Mapped[datetime | None] = mapped_column(default=None)
    # When the family last wrote from here: the service answers where they are now.
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)

    family: Mapped[Family] = relationship(back_populates="identities")


class Conversation(Base):
    """Where the family is in the journeys, and what they told us (with consent)."""

    __tablename__ = "conversations"

    family_id: Mapped[int] = mapped_column(
        ForeignKey("families.id", ondelete="CASCADE"), primary_key=True
    )
    journey: Mapped[str] = mapped_column(String(32))
    node: Mapped[str] = mapped_column(String(48))
    vars: Mapped[dict[str, Any]] = mapped_column(default=dict)
    stack: Mapped[list[Any]] = mapped_column(default=list)
    resume: Mapped[str | None] = mapped_column(String(96), default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A consultant holds this case now: the family's words go to them, not to
    # the journeys (crisis triage still runs first).
    live_case_id: Mapped[int | None] = mapped_column(
        ForeignKey("cases.id", ondelete="SET NULL"), default=None
    )

    family: Mapped[Family] = relationship(back_populates="conversation")


class Case(Base):
    """A request for a person (обращение): the live consultant side picks these up."""

    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_status_priority", "status", "priority", "created_at"),
        Index("ix_cases_thread_id", "thread_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    family_id: Mapped[int] = mapped_column(
        ForeignKey("families.id", ondelete="CASCADE"), index=True
    )
    topic: Mapped[str] = mapped_column(String(32))
    specialty: Mapped[str] = mapped_column(String(16))
    priority: Mapped[str] = mapped_column(String(8))  # urgent | high | normal
    status: Mapped[str] = mapped_column(String(12), default="new")  # new | open | closed
    summary: Mapped[str] = mapped_column(Text, default="")
    signals: Mapped[list[Any]] = mapped_column(default=list)
    channel: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    urgent_at: Mapped[datetime | None] = mapped_column(default=None)
    # The queue orders by priority, then by this: when the case (re)entered it.
    queued_at: Mapped[datetime] = mapped_column(default=utcnow)
    consultant_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL"), default=None, index=True
    )
    taken_at: Mapped[datetime | None] = mapped_column(default=None)
    closed_at: Mapped[datetime | None] = mapped_column(default=None)
    # The case's forum topic in the staff Telegram group, once created.
    thread_id: Mapped[int | None] = mapped_column(Integer, default=None)
    alerted_at: Mapped[datetime | None] = mapped_column(default=None)  # service-level alert
    rating: Mapped[int | None] = mapped_column(Integer, default=None)  # 1–5 from the family
    rating_comment: Mapped[str] = mapped_column(Text, default="")
    follow_up_at: Mapped[datetime | None] = mapped_column(default=None)
    follow_up_sent_at: Mapped[datetime | None] = mapped_column(default=None)


CASE_AUTHORS = ("family", "consultant", "note", "service")


class CaseMessage(Base):
    """One message of a consultation: what the family and the consultant wrote,
    and internal notes (never sent to the family). Deleted with the family."""

    __tablename__ = "case_messages"
    __table_args__ = (Index("ix_case_messages_case", "case_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    author: Mapped[str] = mapped_column(String(12))  # CASE_AUTHORS
    staff_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL"), default=None
    )
    text: Mapped[str] = mapped_column(Text, default="")
    attachment: Mapped[str | None] = mapped_column(String(16), default=None)
    file_id: Mapped[str | None] = mapped_column(String(255), default=None)  # Telegram's
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    edited_at: Mapped[datetime | None] = mapped_column(default=None)
    # Where the message is on each side, so an edit can follow it.
    family_message_id: Mapped[str | None] = mapped_column(String(64), default=None)
    staff_message_id: Mapped[str | None] = mapped_column(String(64), default=None)


class OutboxItem(Base):
    """A message waiting to be delivered: kept until the platform accepts it, so
    a restart or a flood limit (429) delays it but never loses or reorders it.

    Items of one lane (a chat) go strictly one after another, oldest first.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_lane", "lane", "id"),
        # What still waits (failed rows are kept a while to be looked at).
        Index(
            "ix_outbox_waiting",
            "priority",
            "id",
            sqlite_where=text("failed_at IS NULL"),
            postgresql_where=text("failed_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lane: Mapped[str] = mapped_column(String(160))  # "telegram:<chat>"
    channel: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))  # OUTBOX_KINDS (bot.outbound.outbox)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    case_id: Mapped[int | None] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), default=None, index=True
    )
    case_message_id: Mapped[int | None] = mapped_column(
        ForeignKey("case_messages.id", ondelete="CASCADE"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    not_before: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    failed_at: Mapped[datetime | None] = mapped_column(default=None)  # gave up (kept to see)
    error: Mapped[str] = mapped_column(String(200), default="")
    # PRIORITIES (bot.outbound.outbox): urgent first, announcements last.
    priority: Mapped[int] = mapped_column(Integer, default=2)
    # Set just before the platform is called: after a crash the item is "in doubt".
    claimed_at: Mapped[datetime | None] = mapped_column(default=None)
    announcement_id: Mapped[int | None] = mapped_column(
        ForeignKey("announcements.id", ondelete="CASCADE"), default=None, index=True
    )


class CannedReply(Base):
    """A ready answer a consultant can send (per language), managed by staff."""

    __tablename__ = "canned_replies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    language: Mapped[str] = mapped_column(String(8), default="ru")
    title: Mapped[str] = mapped_column(String(120))
    text: Mapped[str] = mapped_column(Text)
    specialty: Mapped[str] = mapped_column(String(16), default="")  # "" = every specialty
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class OrgRequest(Base):
    """An organisation, partner or volunteer asking to join the cluster."""

    __tablename__ = "org_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    family_id: Mapped[int | None] = mapped_column(
        ForeignKey("families.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))  # organisation | partner | volunteer
    org_name: Mapped[str] = mapped_column(String(200), default="")
    city: Mapped[str] = mapped_column(String(100), default="")
    contact: Mapped[str] = mapped_column(String(200), default="")
    message: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(12), default="new")  # ORG_REQUEST_STATUSES
    note: Mapped[str] = mapped_column(Text, default="")  # staff's own note, never sent
    channel: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


ORG_REQUEST_STATUSES = ("new", "in_progress", "done", "rejected")


# Telegram lets a bot delete messages this young: older ids are of no use.
MESSAGE_IDS_KEPT = timedelta(hours=48)


class ChatMessage(Base):
    """Ids (never texts) of recent messages in a chat, so "safe exit" can delete them."""

    __tablename__ = "chat_messages"
    # Also how a redelivered update is recognised (exact id, not "older than").
    __table_args__ = (Index("ix_chat_messages_identity_message", "identity_id", "message_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    identity_id: Mapped[int] = mapped_column(ForeignKey("identities.id", ondelete="CASCADE"))
    message_id: Mapped[str] = mapped_column(String(64))
    outgoing: Mapped[bool] = mapped_column(Boolean)
    sent_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class KnowledgeEntry(Base):
    """A support measure, organisation, hotline or article, in every language."""

    __tablename__ = "knowledge_entries"

    id: Mapped[str] = mapped_column(String(48), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), index=True)
    region: Mapped[str] = mapped_column(String(16))
    data: Mapped[dict[str, Any]] = mapped_column()
    published: Mapped[bool] = mapped_column(Boolean, default=True)
    source: Mapped[str] = mapped_column(Text)
    reviewed: Mapped[date] = mapped_column(Date)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ContentState(Base):
    """Version counters that tell every worker to reload cached content."""

    __tablename__ = "content_state"

    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)


class EventCount(Base):
    """Monitoring counters per hour: how many, of what kind — never who.

    Counts, not rows: single events in a sequence could be lined up with other
    tables; a counter cannot.
    """

    __tablename__ = "event_counts"
    __table_args__ = (
        UniqueConstraint(
            "hour", "kind", "journey", "topic", "channel", "language", name="uq_event_counts_key"
        ),
        Index("ix_event_counts_kind_hour", "kind", "hour"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hour: Mapped[datetime] = mapped_column()
    kind: Mapped[str] = mapped_column(String(24))
    journey: Mapped[str] = mapped_column(String(32), default="")
    topic: Mapped[str] = mapped_column(String(48), default="")
    channel: Mapped[str] = mapped_column(String(16), default="")
    language: Mapped[str] = mapped_column(String(8), default="")
    count: Mapped[int] = mapped_column(Integer, default=0)


# -- Staff side (admin panel) -------------------------------------------------------

ROLES = ("admin", "editor", "consultant", "partner")
SPECIALTIES = ("psychologist", "lawyer", "social", "crisis")


class Partner(Base):
    """A partner organisation of the cluster: a shop, salon, business or NGO."""

    __tablename__ = "partners"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(24))  # PARTNER_KINDS
    city: Mapped[str] = mapped_column(String(32), default="")  # a key of knowledge/cities.yaml
    addresses: Mapped[list[Any]] = mapped_column(default=list)
    phone: Mapped[str] = mapped_column(String(64), default="")
    email: Mapped[str] = mapped_column(String(200), default="")
    website: Mapped[str] = mapped_column(String(300), default="")
    contact_person: Mapped[str] = mapped_column(String(200), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    offers: Mapped[list[Offer]] = relationship(
        back_populates="partner", cascade="all, delete-orphan", passive_deletes=True
    )


PARTNER_KINDS = ("children_shop", "clothing_shop", "salon", "business", "ngo", "other")
PROGRAMMES = ("life_certificate", "new_life", "family_card")
# Who may receive a family-card offer (self-declared by the family, verified by staff).
FAMILY_CATEGORIES = (
    "large_family",
    "pregnancy",
    "child_under_3",
    "child_disability",
    "low_income",
    "single_parent",
)


class Offer(Base):
    """What a partner gives through a programme; vouchers are issued from these."""

    __tablename__ = "offers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    partner_id: Mapped[int] = mapped_column(
        ForeignKey("partners.id", ondelete="CASCADE"), index=True
    )
    programme: Mapped[str] = mapped_column(String(24))  # PROGRAMMES
    title: Mapped[str] = mapped_column(String(200))
    covers: Mapped[str] = mapped_column(Text, default="")  # what the family gets
    value_rub: Mapped[int | None] = mapped_column(Integer, default=None)
    discount_percent: Mapped[int | None] = mapped_column(Integer, default=None)
    monthly_quota: Mapped[int | None] = mapped_column(Integer, default=None)  # None: no limit
    valid_days: Mapped[int] = mapped_column(Integer, default=30)  # a voucher's life
    starts_on: Mapped[date | None] = mapped_column(Date, default=None)
    ends_on: Mapped[date | None] = mapped_column(Date, default=None)
    categories: Mapped[list[Any]] = mapped_column(default=list)  # FAMILY_CATEGORIES; [] = any
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    partner: Mapped[Partner] = relationship(back_populates="offers")


class StaffUser(Base):
    """A person who logs in to the admin panel (never a family)."""

    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    login: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120), default="")  # shown to families (issue 5)
    role: Mapped[str] = mapped_column(String(16))  # ROLES
    specialties: Mapped[list[Any]] = mapped_column(default=list)  # consultants: SPECIALTIES
    partner_id: Mapped[int | None] = mapped_column(
        ForeignKey("partners.id", ondelete="SET NULL"), default=None, index=True
    )
    password_hash: Mapped[str] = mapped_column(String(255))
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(default=None)
    # Partner staff may check codes in Telegram too: their Telegram user, once linked.
    telegram_user_id: Mapped[str | None] = mapped_column(
        String(32), default=None, unique=True, index=True
    )
    # A one-time code (its hash) typed as `/link CODE` in Telegram to link the account.
    telegram_link_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    telegram_link_expires: Mapped[datetime | None] = mapped_column(default=None)
    # Consultants: when they work ("" = the centre's hours) and how many chats at once.
    working_hours: Mapped[str] = mapped_column(String(200), default="")
    max_chats: Mapped[int] = mapped_column(Integer, default=3)


class StaffSession(Base):
    """A logged-in browser. Only the token's hash is kept: a leaked table logs no one in."""

    __tablename__ = "staff_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("staff_users.id", ondelete="CASCADE"), index=True
    )
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class Throttle(Base):
    """Failed attempts per key (a login, an address): rate limits that survive restarts
    and hold across workers."""

    __tablename__ = "throttles"

    key: Mapped[str] = mapped_column(String(160), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_start: Mapped[datetime] = mapped_column(default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(default=None, index=True)


class AuditRecord(Base):
    """Who changed what and when, with the values before and after (never secrets)."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_entity", "entity", "entity_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL"), default=None, index=True
    )
    user_login: Mapped[str] = mapped_column(String(64))  # kept if the account is deleted
    action: Mapped[str] = mapped_column(String(24))
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str] = mapped_column(String(64), default="")
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)


# -- Vouchers (Certificate of Life, clothing/services, family card) ------------------

VOUCHER_STATUSES = ("issued", "redeemed", "expired", "revoked")


class Voucher(Base):
    """One voucher: a code a shop redeems once, for one offer, until it expires.

    Who holds it and why (the family, the case) is here for the family's own
    view and for staff; partner pages never read those columns. When a family
    is forgotten the voucher stays valid for whoever holds the code, and counts
    in reports, but no longer points at anyone.
    """

    __tablename__ = "vouchers"
    __table_args__ = (
        Index("ix_vouchers_offer_month", "offer_id", "month"),
        Index("ix_vouchers_status_expires", "status", "expires_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    offer_id: Mapped[int] = mapped_column(ForeignKey("offers.id", ondelete="RESTRICT"))
    partner_id: Mapped[int] = mapped_column(
        ForeignKey("partners.id", ondelete="RESTRICT"), index=True
    )
    programme: Mapped[str] = mapped_column(String(24))
    family_id: Mapped[int | None] = mapped_column(
        ForeignKey("families.id", ondelete="SET NULL"), default=None, index=True
    )
    case_id: Mapped[int | None] = mapped_column(
        ForeignKey("cases.id", ondelete="SET NULL"), default=None
    )
    issued_by: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL"), default=None
    )
    status: Mapped[str] = mapped_column(String(12), default="issued")  # VOUCHER_STATUSES
    month: Mapped[str] = mapped_column(String(7))  # "2026-11": the quota month it counts in
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    redeemed_at: Mapped[datetime | None] = mapped_column(default=None)
    redeemed_by: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL"), default=None
    )
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    replaces_id: Mapped[int | None] = mapped_column(
        ForeignKey("vouchers.id", ondelete="SET NULL"), default=None
    )
    reminded_at: Mapped[datetime | None] = mapped_column(default=None)
    expiry_told_at: Mapped[datetime | None] = mapped_column(default=None)


CARD_STATUSES = ("pending", "verified", "rejected")


class FamilyCard(Base):
    """A family's social card: categories the family declared (with consent),
    checked by staff; a verified card opens the family-card offers."""

    __tablename__ = "family_cards"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    family_id: Mapped[int] = mapped_column(
        ForeignKey("families.id", ondelete="CASCADE"), unique=True
    )
    number: Mapped[str] = mapped_column(String(12), unique=True)  # random, never the id
    categories: Mapped[list[Any]] = mapped_column(default=list)  # FAMILY_CATEGORIES
    city: Mapped[str] = mapped_column(String(32), default="")
    status: Mapped[str] = mapped_column(String(12), default="pending")  # CARD_STATUSES
    applied_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(default=None)
    decided_by: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL"), default=None
    )
    note: Mapped[str] = mapped_column(Text, default="")  # staff's reason when rejected


ANNOUNCEMENT_STATUSES = ("draft", "sending", "stopped", "done")


class Announcement(Base):
    """A message from the centre to the families who agreed to receive them,
    optionally only in one language, city or family category. It is queued a
    batch at a time (`cursor`: the last family queued), so stopping it takes
    effect at once and a restart resumes without sending anyone a second copy."""

    __tablename__ = "announcements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(8), default="")  # "" = every language
    city: Mapped[str] = mapped_column(String(32), default="")  # "" = anywhere
    categories: Mapped[list[Any]] = mapped_column(default=list)  # any of these; [] = all
    status: Mapped[str] = mapped_column(String(12), default="draft")  # ANNOUNCEMENT_STATUSES
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    cursor: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)  # the audience when it started
    queued: Mapped[int] = mapped_column(Integer, default=0)
    sent: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    # Sent when the process died, with no answer from the platform: not resent.
    uncertain: Mapped[int] = mapped_column(Integer, default=0)


class WorkerLease(Base):
    """Which process runs a background worker (the outbox): one at a time per
    database, so nothing is sent twice when several processes serve the bot.
    The holder renews the lease; another process takes it over only after it
    has expired (the holder died)."""

    __tablename__ = "worker_leases"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column()
