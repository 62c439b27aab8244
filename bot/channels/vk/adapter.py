"""VK (a community bot, vkbottle's API): events in → core `Incoming`; a turn's
replies → the outbox, which the `VkCourier` delivers.

Private dialogs only (peer ids below 2·10⁹), like Telegram. Events come by
Bots Long Poll (`polling()`) or by the Callback API (`callback_endpoint`),
and go through the same `dispatch`: read one event, never raise, never log
what the family wrote, handle it in its own task (`busy` counts them).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import secrets
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from bot.channels.outgoing import TurnDelivery
from bot.channels.vk.api import API, VKAPIError, call, error_code, make_api
from bot.channels.vk.courier import VkCourier
from bot.channels.vk.polling import LongPoll
from bot.channels.vk.render import Client, Clients
from bot.config import Settings
from bot.core import texts
from bot.core.frontdoor import FrontDoor
from bot.core.types import Attachment, Channel, Incoming, Outcome, Reply
from bot.outbound.outbox import Parcel, Priority, RetryLater, Undeliverable, reply_payload

log = logging.getLogger(__name__)

CHAT_PEERS = 2_000_000_000  # peer ids from here on are group chats
EVENTS_REMEMBERED = 2000  # callback event ids, against VK's repeated deliveries
DELETE_BATCH = 100
DIRECT_ATTEMPTS = 8  # a crisis answer sent past the outbox: about a minute of retries
TRANSIENT_PAUSE = 1.0
LANGUAGES = {0: "ru", 1: "uk", 2: "be", 3: "en", 4: "es", 5: "fi", 6: "de", 7: "it"}
ATTACHMENTS = {
    "photo": Attachment.PHOTO,
    "graffiti": Attachment.STICKER,
    "sticker": Attachment.STICKER,
    "audio_message": Attachment.VOICE,
    "audio": Attachment.VOICE,
    "video": Attachment.VIDEO,
    "doc": Attachment.DOCUMENT,
}
START_PAYLOAD = "start"  # VK's own «Начать» button sends {"command": "start"}
CALLBACK_BODY_LIMIT = 64 * 1024  # bytes; VK's events are a few KB


class Unreadable(Exception):
    """An event this version cannot read (its content is never logged)."""


def _int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise Unreadable("not a number")
    try:
        return int(value)
    except ValueError as error:
        raise Unreadable("not a number") from error


def _attachment(message: Mapping[str, Any]) -> Attachment | None:
    items = message.get("attachments")
    if isinstance(items, list):
        for item in items:
            if isinstance(item, Mapping):
                return ATTACHMENTS.get(str(item.get("type")), Attachment.OTHER)
    if message.get("geo"):
        return Attachment.LOCATION
    return None


def core_payload(raw: object) -> str:
    """The core's payload from a button's VK payload (a JSON text or an object).

    Ours is `{"p": "…"}`; anything else (forged, garbled, another bot's) is passed
    on as it came, so the core can answer it as a stale button.
    """
    value = raw
    if isinstance(raw, str):
        try:
            value = json.loads(raw)
        except ValueError:
            return raw
    if isinstance(value, Mapping):
        inner = value.get("p")
        if isinstance(inner, str):
            return inner
    return raw if isinstance(raw, str) else json.dumps(raw, ensure_ascii=False)


def _is_start(raw: object) -> bool:
    try:
        value = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return False
    return isinstance(value, Mapping) and value.get("command") == START_PAYLOAD


def incoming_from_message(
    message: Mapping[str, Any], client_info: object, *, edited: bool = False
) -> Incoming | None:
    """A `message_new`/`message_edit` object as an `Incoming` (None: not ours to answer)."""
    peer = _int(message.get("peer_id"))
    sender = _int(message.get("from_id"))
    if peer >= CHAT_PEERS or peer <= 0 or sender <= 0 or message.get("out") == 1:
        return None
    text = message.get("text")
    text = text if isinstance(text, str) and text.strip() else None
    language = None
    if isinstance(client_info, Mapping):
        lang_id = client_info.get("lang_id")
        language = LANGUAGES.get(lang_id) if isinstance(lang_id, int) else None
    number = message.get("conversation_message_id") or message.get("id")
    incoming = Incoming(
        channel=Channel.VK,
        user_id=str(sender),
        chat_id=str(peer),
        language_hint=language,
        message_id=str(_int(number)) if number else None,
        edited=edited,
    )
    raw_payload = message.get("payload")
    if raw_payload is not None and not edited:
        if _is_start(raw_payload):
            return replace(incoming, text="/start")
        # A text button (the fallback keyboard): a press, not words.
        return replace(incoming, payload=core_payload(raw_payload))
    attachment = _attachment(message)
    if text is None and attachment is None:
        if edited:
            return None
        attachment = Attachment.OTHER
    return replace(incoming, text=text, attachment=attachment)


class VkChannel(TurnDelivery):
    """Binds the core to a VK community: events in, the outbox out."""

    channel = Channel.VK

    def __init__(self, frontdoor: FrontDoor, settings: Settings) -> None:
        assert settings.vk_token and settings.vk_group_id is not None, "VK is not configured"
        self.frontdoor = frontdoor
        self.settings = settings
        self.group_id = settings.vk_group_id
        self.api: API = make_api(settings.vk_token, settings.vk_api_url)
        self.clients = Clients()
        self.courier = VkCourier(self.api, self.clients)
        # Everything a family is sent goes through the outbox; this is its VK courier.
        self.outbox = frontdoor.services.outbox
        self.outbox.register(Channel.VK.value, self.courier)
        self.poller = LongPoll(self.api, self.group_id, self.dispatch)
        self.callback_ready = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self._events: OrderedDict[str, None] = OrderedDict()

    @property
    def status(self) -> str:
        if self.settings.vk_mode == "callback":
            problem = self.callback_problem
            if problem is not None:
                return f"down: {problem}"
            return "ok" if self.callback_ready else "starting"
        return self.poller.status

    @property
    def callback_problem(self) -> str | None:
        """Why the Callback API refuses every request (None: it is set up).

        Without a secret anyone could post events as VK (and, say, erase a
        family's data with a forged /forget); without the confirmation string
        VK cannot confirm the server.
        """
        missing = [
            name
            for name, value in (
                ("VK_CALLBACK_SECRET", self.settings.vk_callback_secret),
                ("VK_CONFIRMATION", self.settings.vk_confirmation),
            )
            if not (value or "").strip()
        ]
        return " and ".join(missing) + " not set" if missing else None

    @property
    def busy(self) -> int:
        """Events received and not yet fully handled, or their answers not yet sent."""
        return len(self._tasks) + (0 if self.outbox.idle else 1)

    # -- events in ------------------------------------------------------------------
    def dispatch(self, event: object) -> None:
        """Read one event and handle it in its own task; never raises.

        Tasks start in arrival order and each reaches the family's queue (in
        `FrontDoor.serve`) before its first pause, so turns keep that order.
        """
        try:
            work = self._read(event)
        except (Unreadable, KeyError, TypeError, ValueError, AttributeError) as error:
            kind = event.get("type") if isinstance(event, Mapping) else None
            log.error(
                "skipped a VK event this version cannot read (type=%s, %s)",
                kind if isinstance(kind, str) else "?",
                type(error).__name__,
            )
            return
        if work is not None:
            self._spawn(work)

    def _spawn(self, work: Any) -> None:
        task = asyncio.get_running_loop().create_task(self._guard(work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _guard(work: Any) -> None:
        try:
            await work
        except Exception as error:  # handlers catch their own; this is the last guard
            log.error("a VK event failed: %s", type(error).__name__)

    def _read(self, event: object) -> Any:
        """The coroutine that handles `event`, or None when there is nothing to do."""
        if not isinstance(event, Mapping):
            raise Unreadable("not an object")
        kind = event.get("type")
        obj = event.get("object")
        if not isinstance(kind, str) or not isinstance(obj, Mapping):
            raise Unreadable("no type or object")
        if kind == "message_new":
            message = obj.get("message")
            if not isinstance(message, Mapping):
                raise Unreadable("no message")
            info = obj.get("client_info")
            incoming = incoming_from_message(message, info)
            if incoming is None:
                return None
            self.clients.seen(incoming.chat_id, Client.from_vk(info))
            return self.serve(incoming)
        if kind == "message_edit":
            incoming = incoming_from_message(obj, None, edited=True)
            return self.serve(incoming) if incoming is not None and incoming.text else None
        if kind == "message_event":
            return self._on_event(obj)
        if kind in ("message_deny", "message_allow"):
            user = str(_int(obj.get("user_id")))
            incoming = Incoming(Channel.VK, user_id=user, chat_id=user)
            return self.frontdoor.mark_blocked(incoming, kind == "message_deny")
        return None  # message_reply (our own messages), typing states, group changes…

    def _on_event(self, obj: Mapping[str, Any]) -> Any:
        """A callback button press."""
        user = _int(obj.get("user_id"))
        peer = _int(obj.get("peer_id"))
        event_id = obj.get("event_id")
        if peer >= CHAT_PEERS or not isinstance(event_id, str):
            return None
        if not self._first_time(f"event:{event_id}"):
            return None
        chat = str(peer)
        known = self.clients.get(chat)
        if not known.callback:  # the press proves the client has callback buttons
            self.clients.seen(chat, Client(known.keyboard, True, known.actions | {"callback"}))
        incoming = Incoming(
            channel=Channel.VK,
            user_id=str(user),
            chat_id=chat,
            payload=core_payload(obj.get("payload")),
        )
        # Stop the button's spinner without waiting for it: the turn must take its
        # place in the family's queue now, or a message typed just after the tap
        # could be answered first.
        self._spawn(self._answer_event(event_id, user, peer))
        return self.serve(incoming)

    async def _answer_event(self, event_id: str, user: int, peer: int) -> None:
        try:
            await call(
                self.api,
                "messages.sendMessageEventAnswer",
                event_id=event_id,
                user_id=user,
                peer_id=peer,
            )
        except VKAPIError as error:
            log.info("a button press was not acknowledged (VK error %s)", error_code(error))
        except Exception as error:
            log.info("a button press was not acknowledged (%s)", type(error).__name__)

    def _first_time(self, key: str) -> bool:
        if key in self._events:
            return False
        self._events[key] = None
        while len(self._events) > EVENTS_REMEMBERED:
            self._events.popitem(last=False)
        return True

    # -- a turn -------------------------------------------------------------------------
    async def _send_directly(self, incoming: Incoming, replies: Sequence[Reply]) -> None:
        for reply in replies:
            parcel = Parcel(
                id=0,
                channel=Channel.VK.value,
                chat_id=incoming.chat_id,
                kind="reply",
                payload=reply_payload(reply, random_id=secrets.randbelow(2**31 - 2**10) + 1),
                thread_id=None,
                attempts=0,
                priority=Priority.URGENT,
            )
            for attempt in range(DIRECT_ATTEMPTS):
                try:
                    await self.courier(parcel)
                    break
                except RetryLater as wait:
                    await asyncio.sleep(min(wait.seconds, 5.0))
                except Undeliverable:
                    log.warning("a crisis answer could not be delivered in VK")
                    return
                except Exception as error:
                    log.error("VK unreachable for a crisis answer (%s)", type(error).__name__)
                    await asyncio.sleep(min(TRANSIENT_PAUSE * 2**attempt, 10.0))
            else:
                return  # never let later, calmer messages arrive without this one

    async def _wipe(self, incoming: Incoming, outcome: Outcome, message_ids: Sequence[str]) -> None:
        """Safe exit: delete the bot's recent messages for everyone.

        VK lets a community delete its own messages for both sides for 24 hours;
        the family's own messages stay on their phone, so they are then told,
        in one short neutral line, to delete the chat by hand.
        """
        peer = int(incoming.chat_id)
        ids = [m for m in message_ids if m.isdigit()]
        deleted: list[str] = []
        for start in range(0, len(ids), DELETE_BATCH):
            batch = ids[start : start + DELETE_BATCH]
            try:
                answer = await call(
                    self.api,
                    "messages.delete",
                    peer_id=peer,
                    cmids=",".join(batch),
                    delete_for_all=1,
                )
            except Exception as error:
                log.warning("safe exit: VK did not delete messages (%s)", type(error).__name__)
                continue
            deleted.extend(_deleted(answer, batch))
        await self.frontdoor.forget_message_ids(incoming, deleted)
        if len(deleted) < len(ids):
            text = self.frontdoor.services.translator.gettext(
                outcome.language, texts.WIPE_INCOMPLETE
            )
            await self.outbox.send(
                Channel.VK.value,
                incoming.chat_id,
                [Reply(text, urgent=True)],
                user_id=incoming.user_id,
            )

    # -- Callback API -------------------------------------------------------------------
    async def callback_endpoint(self, request: Request) -> Response:
        """POST /vk/callback: VK's Callback API (answer "ok" at once, work after)."""
        if self.callback_problem is not None:
            return PlainTextResponse("forbidden", status_code=403)
        raw = await _read_limited(request, CALLBACK_BODY_LIMIT)
        if raw is None:
            return PlainTextResponse("too large", status_code=413)
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError):  # RecursionError: JSON nested too deep
            return PlainTextResponse("bad request", status_code=400)
        if not isinstance(body, dict):
            return PlainTextResponse("bad request", status_code=400)
        secret = body.get("secret")
        expected = self.settings.vk_callback_secret or ""
        if not hmac.compare_digest(
            (secret if isinstance(secret, str) else "").encode(), expected.encode()
        ):
            return PlainTextResponse("forbidden", status_code=403)
        if body.get("group_id") != self.group_id:
            return PlainTextResponse("forbidden", status_code=403)
        if body.get("type") == "confirmation":
            return PlainTextResponse(self.settings.vk_confirmation or "")
        event_id = body.get("event_id")
        # VK repeats an event it got no "ok" for in time: answer it once.
        if not isinstance(event_id, str) or self._first_time(f"callback:{event_id}"):
            self.dispatch(body)
        return PlainTextResponse("ok")

    # -- lifecycle ------------------------------------------------------------------------
    async def polling(self) -> None:
        """Receive events by Bots Long Poll until cancelled (never gives up)."""
        await self.poller.run()

    async def stop(self) -> None:
        """Let events already received finish, then close the HTTP session."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=10)
        await self.api.http_client.close()


async def _read_limited(request: Request, limit: int) -> bytes | None:
    """The request's body, or None when it is over `limit` bytes (read no further)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            return None
    return bytes(body)


def _deleted(answer: object, asked: list[str]) -> list[str]:
    """The conversation message ids VK confirms deleted (its answer has two shapes)."""
    if isinstance(answer, list):
        done = []
        for item in answer:
            if isinstance(item, Mapping) and item.get("response") == 1 and "error" not in item:
                number = item.get("conversation_message_id")
                if number is not None:
                    done.append(str(number))
        return done
    if isinstance(answer, Mapping):
        return [key for key, value in answer.items() if value == 1 and key in asked]
    return list(asked) if answer == 1 else []
