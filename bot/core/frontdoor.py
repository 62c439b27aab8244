"""The single window: every message from every channel goes through `FrontDoor.handle`.

identify the family → crisis triage → command / button / answer / question →
persist → replies. Triage runs before anything touches the database, and a
family in danger gets help even if everything after triage fails.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from bot.consult import family as consultation
from bot.core import cases, texts
from bot.core.ordering import InOrder
from bot.core.services import Services
from bot.core.textnorm import normalize, tokens
from bot.core.triage import Risk, TriageResult, triage
from bot.core.turn import Turn
from bot.core.types import Attachment, Button, Incoming, Outcome, Reply
from bot.journeys import payload
from bot.journeys.engine import menu_button
from bot.knowledge.render import entry_card
from bot.storage.models import ChatMessage, Conversation, EventCount, Family, Identity, utcnow

log = logging.getLogger(__name__)

# Which crisis node answers which signal, most dangerous first.
CRISIS_NODES = (
    ("suicide", "suicide"),
    ("self_harm", "suicide"),
    ("violence_now", "violence"),
    ("child_danger", "child"),
    ("pregnancy_emergency", "pregnancy"),
    ("medical_emergency", "medical"),
)
ELEVATED_NODES = {
    "distress": "elevated_distress",
    "violence_past": "elevated_violence",
    "abortion_intent": "elevated_pregnancy",
    "pregnancy_crisis": "elevated_pregnancy",
    "housing_loss": "elevated_hardship",
    "addiction": "elevated_distress",
}
COMMANDS = ("start", "menu", "help", "forget")
# Where buttons the core adds may lead (`go.<key>`); nothing else can be forged.
GO_TARGETS = {"person": "person", "hotlines": "menu:hotlines"}
NAV_WORDS = {
    "меню": "menu",
    "главное меню": "menu",
    "в меню": "menu",
    "в начало": "menu",
    "menu": "menu",
    "main menu": "menu",
    "назад": "back",
    "back": "back",
}
SEEN_EVERY = timedelta(minutes=1)  # Identity.last_seen_at is exact to this, or better
LONG_TEXT = 1500  # characters: a story rather than a question
SEARCH_CHARS = 600  # the part of a long message worth searching

ATTACHMENT_TEXTS = {
    Attachment.PHOTO: texts.ATTACHMENT_PHOTO,
    Attachment.VIDEO: texts.ATTACHMENT_PHOTO,
    Attachment.STICKER: texts.ATTACHMENT_STICKER,
    Attachment.VOICE: texts.ATTACHMENT_VOICE,
    Attachment.DOCUMENT: texts.ATTACHMENT_DOCUMENT,
    Attachment.LOCATION: texts.ATTACHMENT_LOCATION,
    Attachment.CONTACT: texts.ATTACHMENT_CONTACT,
}


class FrontDoor:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.engine = services.engine
        # One turn at a time per user, in arrival order.
        self._in_order = InOrder()

    # -- entry point ----------------------------------------------------------
    async def handle(self, incoming: Incoming) -> Outcome:
        """Answer one incoming message; never raises, never shows a traceback."""
        return await self.serve(incoming)

    async def serve(
        self, incoming: Incoming, deliver: Callable[[Outcome], Awaitable[None]] | None = None
    ) -> Outcome:
        """Answer and (optionally) deliver, one turn per user at a time, in arrival order.

        Delivery happens inside the per-user lock so a family's replies can
        never overtake each other when two messages arrive together.
        """
        risk = triage(incoming.text) if incoming.text else TriageResult(Risk.NONE, ())
        # Queue for the family's lock before the first `await`: messages that
        # arrive together are then answered in the order they were sent.
        async with self._in_order((incoming.channel.value, incoming.user_id)):
            try:
                await self.services.knowledge.refresh(wait=False)
            except Exception:  # the knowledge base is not needed to answer most messages
                log.exception("knowledge refresh failed")
            outcome = await self._answer(incoming, risk)
            if deliver is not None:
                try:
                    await deliver(outcome)
                except Exception:
                    log.exception("delivery failed (channel=%s)", incoming.channel.value)
        return outcome

    async def _answer(self, incoming: Incoming, risk: TriageResult) -> Outcome:
        for attempt in (1, 2):
            try:
                return await self._handle(incoming, risk)
            except IntegrityError:
                if attempt == 2:
                    log.exception("turn failed twice on a constraint")
                    break
                log.info("concurrent first message from one user; retrying")
            except Exception:
                log.exception("turn failed (channel=%s)", incoming.channel.value)
                break
        return self._failure(incoming, risk)

    def _failure(self, incoming: Incoming, risk: TriageResult) -> Outcome:
        translator = self.services.translator
        language = translator.pick(incoming.language_hint)
        message = texts.CRISIS_FALLBACK if risk.urgent else texts.ERROR
        text = translator.gettext(language, message)
        return Outcome([Reply(text=text, node="error", urgent=risk.urgent)], [], language)

    async def _handle(self, incoming: Incoming, risk: TriageResult) -> Outcome:
        async with self.services.db.session() as session:
            turn = await self._open(session, incoming)
            if turn is None:
                return Outcome(language=self.services.settings.default_language)
            if risk.urgent:
                live = turn.conversation.live_case_id
                await self._crisis(turn, risk)
                if live is not None:  # the consultant sees the words and the alarm too
                    await consultation.relay_after_crisis(turn, live)
            elif not await consultation.intercept(turn):
                if risk.risk is Risk.ELEVATED:
                    await self._elevated(turn, risk)
                await self._route(turn)
            await self._persist(session, turn)
        return Outcome(turn.replies, turn.effects, turn.language)

    # -- identity ---------------------------------------------------------------
    async def _open(self, session: AsyncSession, incoming: Incoming) -> Turn | None:
        """Find or create the family; None for a duplicate delivery of one message.

        One turn per family at a time: the in-process lock is per messenger
        account, and the identity's row lock too, so on PostgreSQL the family's
        row is locked as well (a linked family may write from Telegram and VK at
        once, served by different processes; the later turn then reads what the
        earlier one wrote). The family first, then the identity: the order the
        deletes take ("delete my data", retention, a merge), so they cannot
        deadlock with a turn. SQLite runs one writer at a time already.
        """
        stmt = (
            select(Identity)
            .options(
                joinedload(Identity.family).joinedload(Family.conversation),
                joinedload(Identity.family).joinedload(Family.identities),
            )
            .where(Identity.channel == incoming.channel.value)
            .where(Identity.external_id == incoming.user_id)
            .with_for_update(of=Identity)
        )
        identity: Identity | None = None
        found = False
        if session.get_bind().dialect.name == "postgresql":
            for _ in range(3):
                family_id = await session.scalar(
                    select(Identity.family_id)
                    .where(Identity.channel == incoming.channel.value)
                    .where(Identity.external_id == incoming.user_id)
                )
                if family_id is None:  # a new family: nothing to lock yet
                    found = True
                    break
                await session.execute(
                    select(Family.id).where(Family.id == family_id).with_for_update()
                )
                identity = (await session.scalars(stmt)).unique().first()
                if identity is None or identity.family_id == family_id:
                    found = True
                    break
                # Linked into another profile meanwhile: lock that one instead.
                session.expunge_all()
                identity = None
        if not found:
            identity = (await session.scalars(stmt)).unique().first()
        translator = self.services.translator
        new = identity is None
        if identity is None:
            family = Family(language=translator.pick(incoming.language_hint))
            identity = Identity(
                family=family,
                channel=incoming.channel.value,
                external_id=incoming.user_id,
                chat_id=incoming.chat_id,
            )
            session.add_all([family, identity])
        family = identity.family
        conversation = family.conversation
        if conversation is None:
            conversation = Conversation(
                family=family, journey="menu", node="start", vars={}, stack=[]
            )
            session.add(conversation)
        if incoming.message_id and not incoming.edited and not new:
            seen = await session.scalar(
                select(ChatMessage.id)
                .where(ChatMessage.identity_id == identity.id)
                .where(ChatMessage.message_id == incoming.message_id)
                .where(ChatMessage.outgoing.is_(False))
                .limit(1)
            )
            if seen is not None:  # a redelivery (webhook retry, restarted poll)
                log.info("duplicate delivery of a message ignored")
                return None
        if identity.chat_id != incoming.chat_id:
            identity.chat_id = incoming.chat_id
        identity.blocked_at = None
        # Where the family writes from now (answers go there): written at most once a
        # minute per messenger, and at once when they come back from another messenger.
        now = utcnow()
        last_seen = identity.last_seen_at
        if (
            last_seen is None
            or now - last_seen > SEEN_EVERY
            or any(i.last_seen_at >= last_seen for i in family.identities if i is not identity)
        ):
            identity.last_seen_at = now
        if family.language not in translator.languages:
            family.language = translator.pick(family.language)
        turn = Turn(
            incoming=incoming,
            services=self.services,
            session=session,
            family=family,
            identity=identity,
            conversation=conversation,
            language=family.language,
        )
        if new:
            turn.event("new_family")
        if incoming.message_id and not incoming.edited:
            await session.flush()
            session.add(
                ChatMessage(identity_id=identity.id, message_id=incoming.message_id, outgoing=False)
            )
        return turn

    async def _persist(self, session: AsyncSession, turn: Turn) -> None:
        now = utcnow()
        if turn.events:
            await count_events(session, turn, now)
        if not turn.forgotten:
            turn.family.last_seen_at = now
            turn.conversation.updated_at = now

    # -- routing ----------------------------------------------------------------
    async def _route(self, turn: Turn) -> None:
        incoming = turn.incoming
        if incoming.payload is not None:
            await self._payload(turn, incoming.payload)
        elif incoming.attachment is not None and not (incoming.text or "").strip():
            message = ATTACHMENT_TEXTS.get(incoming.attachment, texts.ATTACHMENT_OTHER)
            turn.say(turn.t(message), self.engine.current_rows(turn))
        elif incoming.text and incoming.text.strip():
            if incoming.attachment is not None:  # a caption: say we answer the words only
                turn.say(turn.t(texts.CAPTION_ONLY))
            await self._text(turn, incoming.text.strip())
        else:
            await self.engine.rerender(turn)

    async def _text(self, turn: Turn, text: str) -> None:
        command = _command(text)
        if command == "start":
            if turn.events and turn.events[0][0] == "new_family":
                await self.engine.enter(turn, "menu", "welcome")
            else:
                await self.engine.menu(turn)
        elif command == "menu":
            await self.engine.menu(turn)
        elif command == "forget":
            await self.engine.run_action(turn, "forget", {})
        elif command == "help":
            turn.say(turn.t(texts.HELP), [[menu_button(turn)]])
        elif turn.incoming.edited:
            spec = self.services.book.node(turn.conversation.journey, turn.conversation.node)
            if spec is not None and spec.input is not None:
                turn.say(turn.t(texts.EDITED_INPUT), self.engine.current_rows(turn))
            else:
                turn.say(turn.t(texts.EDITED_ANSWER))
                await self._question(turn, text)
        elif (nav := self._typed_nav(turn, text)) is not None:
            await self._payload(turn, payload.nav(nav))
        elif await self.engine.answer(turn, text) or await self.engine.understand(turn, text):
            return
        elif not tokens(text):  # only emoji or punctuation: a feeling, not a question
            self.engine.note(turn, "menu", "no_words")
        else:
            await self._question(turn, text)

    def _typed_nav(self, turn: Turn, text: str) -> str | None:
        """«меню», «назад» typed instead of pressed (VK text keyboards send labels)."""
        typed = normalize(text)
        if typed in NAV_WORDS:
            return NAV_WORDS[typed]
        for action, label in (("menu", texts.MENU), ("back", texts.BACK)):
            if typed == normalize(turn.t(label)):
                return action
        return None

    async def _payload(self, turn: Turn, data: str) -> None:
        ref = payload.parse(data)
        if isinstance(ref, payload.NavRef):
            if ref.action == "menu":
                await self.engine.menu(turn)
            elif ref.action == "back":
                await self.engine.back(turn)
            elif ref.action == "here" and turn.conversation.journey == "crisis":
                # "Back to the conversation" after a crisis answer: where they were before it.
                target = turn.conversation.resume or "menu:start"
                turn.conversation.resume = None
                await self.engine.go(turn, "crisis", target)
            else:
                await self.engine.rerender(turn)
            return
        # Only the places the core's own buttons lead to; crisis screens appear on
        # danger, never from a (possibly forged) payload.
        if isinstance(ref, payload.GoRef) and ref.journey in GO_TARGETS:
            await self.engine.go(turn, "menu", GO_TARGETS[ref.journey])
            return
        if isinstance(ref, payload.KnowledgeRef):
            self._show_entry(turn, ref.entry_id)
            return
        if isinstance(ref, payload.ButtonRef | payload.OptionRef) and await self.engine.press(
            turn, ref
        ):
            return
        log.warning("unknown or forged button payload ignored")
        await self.engine.rerender(turn, prefix=turn.t(texts.STALE_BUTTON))

    # -- free text: the knowledge base ------------------------------------------
    async def _question(self, turn: Turn, text: str) -> None:
        result = await self.services.knowledge.search(text[:SEARCH_CHARS])
        long_story = len(text) > LONG_TEXT
        if not result.answered and turn.noted:
            return  # the gentle note already offered help; a cold "no answer" would hurt
        if not result.answered:
            turn.event("kb_miss")
            if result.suggest and not long_story:
                ids = [m.id for m in result.matches]
                rows = self._after_answer(turn, ids, missed=True)
                turn.say(turn.t(texts.SUGGESTIONS), rows, node="kb:suggest")
                return
            message = texts.LONG_MESSAGE if long_story else texts.NO_ANSWER
            turn.say(turn.t(message), self._after_answer(turn, (), missed=True))
            return
        turn.event("kb_hit", result.matches[0].id)
        if long_story:
            turn.say(turn.t(texts.LONG_MESSAGE))
        others = [m.id for m in result.matches[1:] if m.score >= result.matches[0].score * 0.6]
        self._show_entry(turn, result.matches[0].id, others)

    def _show_entry(self, turn: Turn, entry_id: str, others: Iterable[str] = ()) -> None:
        knowledge = self.services.knowledge
        entry = knowledge.get(entry_id)
        if entry is None:
            turn.say(turn.t(texts.ENTRY_NOT_FOUND), [[menu_button(turn)]])
            return
        card = entry_card(
            entry, turn.language, turn.t, lambda c: knowledge.city_name(c, turn.language)
        )
        turn.say(card, self._after_answer(turn, others), node=f"kb:{entry.id}")

    def _after_answer(
        self, turn: Turn, others: Iterable[str], *, missed: bool = False
    ) -> list[list[Button]]:
        knowledge = self.services.knowledge
        rows: list[list[Button]] = []
        for entry_id in others:
            entry = knowledge.get(entry_id)
            if entry is not None:
                title = entry.text("title", turn.language)
                rows.append(
                    [Button(turn.t(texts.MORE_PREFIX, title=title), payload.knowledge(entry_id))]
                )
        rows.append([Button(turn.t(texts.TALK_TO_PERSON), payload.go("person"))])
        if missed:  # not understood: the way to urgent help stays one tap away
            rows.append([Button(turn.t(texts.HOTLINES_BUTTON), payload.go("hotlines"))])
        last = [menu_button(turn)]
        if (turn.conversation.journey, turn.conversation.node) != ("menu", "start"):
            last.insert(0, Button(turn.t(texts.RETURN), payload.nav("here")))
        rows.append(last)
        return rows

    # -- danger -----------------------------------------------------------------
    async def _crisis(self, turn: Turn, risk: TriageResult) -> None:
        node = next((n for signal, n in CRISIS_NODES if signal in risk.signals), "general")
        spec = self.services.book.node(turn.conversation.journey, turn.conversation.node)
        text = (turn.incoming.text or "").strip()
        story = bool(spec and spec.input and spec.input.story and text and turn.consented)
        if story and spec and spec.input:
            # They were telling a consultant what happens: their words go with the
            # urgent case (they consented), so no one asks them to repeat it.
            turn.set_var(spec.input.var, text[: spec.input.max or 4000])
        if turn.conversation.journey != "crisis":
            at_consent = turn.position in ("menu:consent", "menu:privacy")
            if not (at_consent and turn.conversation.resume):  # keep where consent leads
                turn.conversation.resume = turn.position
        await cases.mark_urgent(turn, risk.signals)
        if story:
            cases.forget_choices(turn)  # now in the crisis case; not a second time
        turn.event("crisis", node)
        await self.engine.enter(turn, "crisis", node)

    async def _elevated(self, turn: Turn, risk: TriageResult) -> None:
        node = next((ELEVATED_NODES[s] for s in risk.signals if s in ELEVATED_NODES), None)
        if node is not None:
            turn.event("elevated", risk.signals[0])
            self.engine.note(turn, "crisis", node)
            turn.noted = True

    # -- after sending ------------------------------------------------------------
    async def record_sent(self, incoming: Incoming, message_ids: list[str]) -> None:
        """Remember ids of messages the bot sent, for "safe exit" (no texts stored)."""
        if not message_ids:
            return
        try:
            async with self.services.db.session() as session:
                identity_id = await self._identity_id(session, incoming)
                if identity_id is None:  # the family has just deleted its data
                    return
                session.add_all(
                    ChatMessage(identity_id=identity_id, message_id=m, outgoing=True)
                    for m in message_ids
                )
        except Exception:
            log.exception("could not record sent message ids")

    async def record_received(self, incoming: Incoming) -> None:
        """A message answered together with others (an album): keep its id for safe exit."""
        if not incoming.message_id:
            return
        try:
            async with self.services.db.session() as session:
                identity_id = await self._identity_id(session, incoming)
                if identity_id is not None:
                    session.add(
                        ChatMessage(
                            identity_id=identity_id, message_id=incoming.message_id, outgoing=False
                        )
                    )
        except Exception:
            log.exception("could not record a received message id")

    async def forget_message_ids(self, incoming: Incoming, message_ids: list[str]) -> None:
        """The channel deleted these messages from the chat: their ids are no longer needed."""
        if not message_ids:
            return
        async with self.services.db.session() as session:
            identity_id = await self._identity_id(session, incoming)
            if identity_id is not None:
                await session.execute(
                    delete(ChatMessage)
                    .where(ChatMessage.identity_id == identity_id)
                    .where(ChatMessage.message_id.in_(message_ids))
                )

    @staticmethod
    async def _identity_id(session: AsyncSession, incoming: Incoming) -> int | None:
        return await session.scalar(
            select(Identity.id)
            .where(Identity.channel == incoming.channel.value)
            .where(Identity.external_id == incoming.user_id)
        )

    async def mark_blocked(self, incoming: Incoming, blocked: bool = True) -> None:
        """The user blocked (or unblocked) the bot: stop sending until they write again."""
        async with self.services.db.session() as session:
            identity = await session.scalar(
                select(Identity)
                .where(Identity.channel == incoming.channel.value)
                .where(Identity.external_id == incoming.user_id)
            )
            if identity is not None:
                identity.blocked_at = datetime.now(UTC) if blocked else None


async def count_events(session: AsyncSession, turn: Turn, now: datetime) -> None:
    """Add this turn's events to the hourly counters (an upsert per kind)."""
    hour = now.replace(minute=0, second=0, microsecond=0)
    counts = Counter(turn.events)
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    for (kind, journey, topic), count in counts.items():
        values = {
            "hour": hour,
            "kind": kind,
            "journey": journey,
            "topic": topic[:48],
            "channel": turn.incoming.channel.value,
            "language": turn.language,
            "count": count,
        }
        statement = insert(EventCount).values(**values)
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=["hour", "kind", "journey", "topic", "channel", "language"],
                set_={"count": EventCount.count + statement.excluded.count},
            )
        )


def _command(text: str) -> str | None:
    if not text.startswith("/"):
        return None
    word = text[1:].split(maxsplit=1)[0] if len(text) > 1 else ""
    name = word.split("@", 1)[0].lower()
    return name if name in COMMANDS else "help"
