"""A fake VK API (community bot) server for end-to-end tests.

The real vkbottle client talks plain HTTP to this server on 127.0.0.1, exactly
as it talks to api.vk.com: ``POST /method/{name}?access_token=…&v=…`` with a
form body; answers are ``{"response": …}`` or ``{"error": {"error_code",
"error_msg", "request_params"}}`` with HTTP 200, as VK does. The Bots Long Poll
server lives here too (``GET /lp/{group}?act=a_check&key&ts&wait``), so the
bot's own polling loop is exercised, failures (``failed: 1/2/3``, a 502) included.

The fake is *strict* where VK is: ``random_id`` is required and a repeated one
(per peer) makes no second message; texts over 4096 characters, malformed
keyboards (rows, buttons per row, labels, payloads, inline limits, callback
buttons a client does not support) are refused with VK's error codes.

Typical use::

    async with FakeVkServer() as vk:
        settings.vk_token, settings.vk_group_id = vk.token, vk.group_id
        settings.vk_api_url = vk.api_url
        maria = vk.user(1001)
        await maria.send_text("Начать")
        (greeting,) = await maria.wait_for_messages(1)
        await maria.press("✅ Даю согласие")
        await vk.idle()

Errors are injected with ``vk.fail_next("messages.send", code=9)`` (the photo
upload server with ``vk.fail_upload(…)``); with ``vk.enforce_limits = True`` more
than 20 calls a second answer error 6; with ``vk.bot_features = False`` (the
community's bot features off) every keyboard is refused with error 912.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import secrets
import socket
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

from aiohttp import web

JsonDict = dict[str, Any]

MAX_TEXT = 4096
MAX_LABEL = 40
MAX_PAYLOAD = 255
INLINE_ROWS, INLINE_BUTTONS = 6, 10
KEYBOARD_ROWS, KEYBOARD_BUTTONS = 10, 40
ROW_WIDTH = 5
DELETE_FOR_ALL_WINDOW = 24 * 3600
RATE_LIMIT = 20  # calls a second per token, when `enforce_limits`
LANG_IDS = {"ru": 0, "uk": 1, "be": 2, "en": 3, "es": 4, "fi": 5, "de": 6, "it": 7}
BASE_ACTIONS = ["text", "vkpay", "open_app", "location", "open_link", "intent_subscribe"]
BUTTON_TYPES = {"text", "callback", "open_link", "location", "vkpay", "open_app"}
COLORS = {"primary", "secondary", "negative", "positive"}

ERRORS = {
    3: "Unknown method passed",
    5: "User authorization failed: invalid access_token (4).",
    6: "Too many requests per second",
    7: "Permission to perform this action is denied",
    9: "Flood control",
    10: "Internal server error",
    15: "Access denied",
    100: "One of the parameters specified was missing or invalid",
    901: "Can't send messages for users without permission",
    902: "Can't send messages to this user due to their privacy settings",
    909: "Can't edit this message, because it's too old",
    911: "Keyboard format is invalid",
    912: "This is a chat bot feature, change this status in settings",
    914: "Message is too long",
    924: "Can't delete this message for everybody",
}

FAKE_JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"


class VkError(Exception):
    def __init__(self, code: int, detail: str = "") -> None:
        message = ERRORS.get(code, "Unknown error")
        super().__init__(f"{message}: {detail}" if detail else message)
        self.code = code
        self.message = f"{message}: {detail}" if detail else message


@dataclass
class ApiCall:
    method: str
    params: dict[str, str]
    error: int | None = None


@dataclass
class FakeVkMessage:
    """One message in a dialog (the family's or the bot's)."""

    id: int
    cmid: int
    peer_id: int
    from_bot: bool
    text: str
    date: float
    keyboard: JsonDict | None = None
    attachments: list[str] = field(default_factory=list)
    random_id: int | None = None
    deleted: bool = False
    edited: bool = False
    raw_attachments: list[JsonDict] = field(default_factory=list)
    payload: str | None = None

    @property
    def inline(self) -> bool:
        return bool(self.keyboard and self.keyboard.get("inline"))

    @property
    def buttons(self) -> list[list[tuple[str, str]]]:
        """Rows of (label, payload or link) of the message's keyboard."""
        if not self.keyboard:
            return []
        rows = []
        for row in self.keyboard.get("buttons", []):
            out = []
            for button in row:
                action = button["action"]
                out.append(
                    (action.get("label", ""), action.get("payload") or action.get("link", ""))
                )
            rows.append(out)
        return rows

    @property
    def labels(self) -> list[str]:
        return [label for row in self.buttons for label, _ in row]

    def button_types(self) -> set[str]:
        if not self.keyboard:
            return set()
        return {b["action"]["type"] for row in self.keyboard["buttons"] for b in row}

    def to_api(self, group_id: int) -> JsonDict:
        data: JsonDict = {
            "date": int(self.date),
            "from_id": -group_id if self.from_bot else self.peer_id,
            "id": self.id,
            "out": int(self.from_bot),
            "attachments": list(self.raw_attachments),
            "conversation_message_id": self.cmid,
            "fwd_messages": [],
            "important": False,
            "is_hidden": False,
            "peer_id": self.peer_id,
            "random_id": self.random_id or 0,
            "text": self.text,
        }
        if self.payload is not None:
            data["payload"] = self.payload
        if self.edited:
            data["update_time"] = int(time.time())
        return data

    def __repr__(self) -> str:
        who = "bot" if self.from_bot else "user"
        return f"<{who} #{self.cmid} {self.text[:60]!r} {self.labels}>"


class FakeVkUser:
    """A person writing to the community from a VK client."""

    def __init__(
        self,
        server: FakeVkServer,
        user_id: int,
        *,
        lang: str = "ru",
        inline: bool = True,
        callback: bool = True,
        keyboard: bool = True,
    ) -> None:
        self.server = server
        self.id = user_id
        self.lang = lang
        self.inline = inline
        self.callback = callback
        self.keyboard = keyboard
        self.allowed = True
        self.dialog: list[FakeVkMessage] = []
        self.answered_events: dict[str, JsonDict | None] = {}
        self.sent_events: list[str] = []
        self._cursor = 0

    # -- what the bot sent -----------------------------------------------------
    @property
    def history(self) -> list[FakeVkMessage]:
        """Every bot message in this dialog, deleted ones included."""
        return [m for m in self.dialog if m.from_bot]

    @property
    def messages(self) -> list[FakeVkMessage]:
        """Bot messages the person still sees."""
        return [m for m in self.history if not m.deleted]

    @property
    def last_keyboard(self) -> FakeVkMessage | None:
        """The latest bot message with a keyboard (inline, or the persistent one)."""
        for message in reversed(self.messages):
            if message.keyboard and message.keyboard.get("buttons"):
                return message
        return None

    async def wait_for_messages(self, n: int = 1, timeout: float = 5.0) -> list[FakeVkMessage]:
        """The next `n` bot messages (consumed: the next call returns later ones)."""
        ok = await self.server.wait_until(lambda: len(self.history) - self._cursor >= n, timeout)
        if not ok:
            got = self.history[self._cursor :]
            errors = [f"{c.method}: {c.error}" for c in self.server.calls if c.error][-10:]
            raise AssertionError(
                f"expected {n} new message(s) for user {self.id} within {timeout}s, "
                f"got {len(got)}: {got}; API errors: {errors}"
            )
        result = self.history[self._cursor : self._cursor + n]
        self._cursor += n
        return result

    def skip_read(self) -> None:
        """Mark everything sent so far as read."""
        self._cursor = len(self.history)

    # -- client info -------------------------------------------------------------
    def client_info(self) -> JsonDict:
        actions = list(BASE_ACTIONS)
        if self.callback:
            actions.append("callback")
        return {
            "button_actions": actions,
            "keyboard": self.keyboard,
            "inline_keyboard": self.inline,
            "carousel": self.inline,
            "lang_id": LANG_IDS.get(self.lang, 0),
        }

    # -- actions -----------------------------------------------------------------
    async def send_text(self, text: str, *, payload: str | None = None) -> FakeVkMessage:
        if not text.strip() and payload is None:
            raise ValueError("VK clients cannot send an empty message")
        return self._post(text, payload=payload)

    async def send_photo(self, caption: str = "") -> FakeVkMessage:
        photo = {
            "type": "photo",
            "photo": {"id": 1, "owner_id": self.id, "sizes": [{"type": "x", "url": "http://x/p"}]},
        }
        return self._post(caption, attachments=[photo])

    async def send_sticker(self) -> FakeVkMessage:
        return self._post("", attachments=[{"type": "sticker", "sticker": {"sticker_id": 9}}])

    async def send_voice(self) -> FakeVkMessage:
        voice = {"type": "audio_message", "audio_message": {"id": 3, "duration": 4}}
        return self._post("", attachments=[voice])

    async def send_document(self) -> FakeVkMessage:
        doc = {"type": "doc", "doc": {"id": 4, "title": "справка.pdf", "ext": "pdf"}}
        return self._post("", attachments=[doc])

    async def send_location(self) -> FakeVkMessage:
        message = self._new_message("", attachments=[])
        data = message.to_api(self.server.group_id)
        data["geo"] = {"type": "point", "coordinates": {"latitude": 55.7, "longitude": 37.6}}
        self._emit_message("message_new", data)
        return message

    async def edit(self, message: FakeVkMessage | int, text: str) -> None:
        """The person edits one of their messages (the object, or its cmid)."""
        if isinstance(message, int):
            message = next(m for m in self.dialog if m.cmid == message and not m.from_bot)
        message.text = text
        message.edited = True
        self.server.emit("message_edit", message.to_api(self.server.group_id))

    async def press(self, label: str, *, message: FakeVkMessage | None = None) -> None:
        """Press a button by its label on the last keyboard (or on `message`)."""
        target = message or self._keyboard_with(label)
        if target is None or target.keyboard is None:
            raise AssertionError(f"no button {label!r} on any keyboard of user {self.id}")
        for row in target.keyboard["buttons"]:
            for button in row:
                action = button["action"]
                if action.get("label") != label:
                    continue
                if action["type"] == "callback":
                    self.press_event(json.loads(action["payload"]), message=target)
                elif action["type"] == "text":
                    await self.send_text(label, payload=action.get("payload"))
                else:
                    raise AssertionError(f"button {label!r} is a {action['type']} button")
                return
        raise AssertionError(f"no button {label!r} on message {target}")

    def _keyboard_with(self, label: str) -> FakeVkMessage | None:
        for message in reversed(self.messages):
            if label in message.labels:
                return message
        return None

    def press_event(self, payload: Any, *, message: FakeVkMessage | None = None) -> str:
        """A callback button press (`message_event`) carrying any payload (forged too)."""
        event_id = secrets.token_hex(6)
        self.sent_events.append(event_id)
        target = message or (self.messages[-1] if self.messages else None)
        self.server.emit(
            "message_event",
            {
                "user_id": self.id,
                "peer_id": self.id,
                "event_id": event_id,
                "payload": payload,
                "conversation_message_id": target.cmid if target else 0,
            },
        )
        return event_id

    async def deny(self) -> None:
        self.allowed = False
        self.server.emit("message_deny", {"user_id": self.id})

    async def allow(self) -> None:
        self.allowed = True
        self.server.emit("message_allow", {"user_id": self.id, "key": ""})

    # -- internals ---------------------------------------------------------------
    def _new_message(
        self, text: str, *, attachments: list[JsonDict], payload: str | None = None
    ) -> FakeVkMessage:
        message = self.server.add_message(self, text, from_bot=False)
        message.raw_attachments = attachments
        message.payload = payload
        return message

    def _post(
        self, text: str, *, attachments: list[JsonDict] | None = None, payload: str | None = None
    ) -> FakeVkMessage:
        message = self._new_message(text, attachments=attachments or [], payload=payload)
        self._emit_message("message_new", message.to_api(self.server.group_id))
        return message

    def _emit_message(self, kind: str, data: JsonDict) -> None:
        self.server.emit(kind, {"message": data, "client_info": self.client_info()})


class FakeVkServer:
    def __init__(self, *, group_id: int = 218000001) -> None:
        self.group_id = group_id
        self.token = "vk1.a." + secrets.token_hex(16)
        self.users: dict[int, FakeVkUser] = {}
        self.calls: list[ApiCall] = []
        self.events: list[JsonDict] = []  # every event emitted, in order (ts = index + 1)
        self.uploads: dict[str, bytes] = {}  # "photo{owner}_{id}" -> the uploaded bytes
        self.enforce_limits = False
        self.bot_features = True  # off: VK refuses every keyboard with error 912
        self.bot_busy: Callable[[], int] | None = None
        self.poll_key = secrets.token_hex(8)
        self.callback: Callable[[JsonDict], Awaitable[None]] | None = None
        self.callback_secret = ""
        self._failures: dict[str, deque[tuple[int, bool]]] = {}
        self._poll_failures: deque[JsonDict | int] = deque()
        self._upload_failures: deque[JsonDict | int] = deque()
        self._ids = itertools.count(1)
        self._photo_ids = itertools.count(457239017)
        self._pending_uploads: dict[str, bytes] = {}
        self._random_ids: dict[tuple[int, int], list[FakeVkMessage]] = {}
        self._event_answers: set[str] = set()
        self._recent: deque[float] = deque()
        self._changed = asyncio.Event()
        self._inflight = 0
        self._polls = 0
        self._last_activity = time.monotonic()
        self._runner: web.AppRunner | None = None
        self._closing = False
        self._background: set[asyncio.Task[None]] = set()
        self.port: int | None = None

    # -- lifecycle -------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        assert self.port is not None, "the fake VK server is not started"
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/method/"

    async def start(self) -> None:
        app = web.Application(client_max_size=20 * 1024 * 1024)
        app.router.add_route("*", "/method/{method}", self._handle_api)
        app.router.add_route("GET", "/lp/{group}", self._handle_poll)
        app.router.add_route("POST", "/upload/{ticket}", self._handle_upload)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        site = web.SockSite(self._runner, sock)
        await site.start()

    async def stop(self) -> None:
        self._closing = True  # long polls in progress answer now
        self._notify()
        for task in list(self._background):
            task.cancel()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # -- people and events ---------------------------------------------------------------
    def user(
        self,
        user_id: int = 1001,
        *,
        lang: str = "ru",
        inline: bool = True,
        callback: bool = True,
        keyboard: bool = True,
    ) -> FakeVkUser:
        if user_id not in self.users:
            self.users[user_id] = FakeVkUser(
                self, user_id, lang=lang, inline=inline, callback=callback, keyboard=keyboard
            )
        return self.users[user_id]

    def add_message(self, user: FakeVkUser, text: str, *, from_bot: bool) -> FakeVkMessage:
        message = FakeVkMessage(
            id=next(self._ids),
            cmid=len(user.dialog) + 1,
            peer_id=user.id,
            from_bot=from_bot,
            text=text,
            date=time.time(),
        )
        user.dialog.append(message)
        self._notify()
        return message

    def emit(self, kind: str, obj: JsonDict) -> JsonDict:
        """A community event: to the long poll queue, or POSTed to the callback."""
        event = {
            "group_id": self.group_id,
            "type": kind,
            "event_id": secrets.token_hex(20),
            "v": "5.199",
            "object": obj,
        }
        self.push_raw(event)
        return event

    def push_raw(self, event: JsonDict) -> None:
        """Any update, even one the bot cannot read."""
        self.events.append(event)
        if self.callback is not None:
            body = {**event, "secret": self.callback_secret}
            task = asyncio.get_running_loop().create_task(self._post_callback(body))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        self._notify()

    async def _post_callback(self, body: JsonDict) -> None:
        assert self.callback is not None
        self._inflight += 1
        try:
            await self.callback(body)
        finally:
            self._inflight -= 1
            self._notify()

    # -- failures ------------------------------------------------------------------------
    def fail_next(
        self, method: str, *, code: int = 10, times: int = 1, per_peer: bool = False
    ) -> None:
        """The next `times` calls of `method` answer VK error `code` (per peer for
        messages.send with peer_ids, when `per_peer`)."""
        queue = self._failures.setdefault(method, deque())
        queue.extend([(code, per_peer)] * times)

    def fail_poll(self, answer: JsonDict | int, times: int = 1) -> None:
        """The next long poll requests answer `answer` (a dict, or an HTTP status)."""
        self._poll_failures.extend([answer] * times)

    def fail_upload(self, answer: JsonDict | int, times: int = 1) -> None:
        """The next photo uploads answer `answer` (a dict, or an HTTP status)."""
        self._upload_failures.extend([answer] * times)

    def new_poll_key(self) -> None:
        """The long poll key expires (the next check answers failed: 2)."""
        self.poll_key = secrets.token_hex(8)

    # -- waiting -----------------------------------------------------------------------------
    def _notify(self) -> None:
        self._last_activity = time.monotonic()
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.05))
        return True

    async def idle(self, quiet: float = 0.3, timeout: float = 10.0) -> None:
        """Until no API call for `quiet` seconds and the bot has nothing in hand."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            busy = self._inflight or (self.bot_busy() if self.bot_busy is not None else 0)
            quiet_for = time.monotonic() - self._last_activity
            if not busy and quiet_for >= quiet:
                return
            if loop.time() >= deadline:
                raise AssertionError(f"the bot did not settle within {timeout}s (busy={busy})")
            await asyncio.sleep(0.02 if busy else quiet - quiet_for)

    def calls_to(self, method: str) -> list[ApiCall]:
        return [c for c in self.calls if c.method == method]

    @property
    def errors(self) -> list[ApiCall]:
        return [c for c in self.calls if c.error is not None]

    # -- HTTP ------------------------------------------------------------------------------
    async def _handle_api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params: dict[str, str] = dict(request.query)
        if request.method == "POST":
            form = await request.post()
            params.update({k: str(v) for k, v in form.items()})
        call = ApiCall(method, params)
        self.calls.append(call)
        self._inflight += 1
        try:
            result = await self._dispatch(method, params)
        except VkError as error:
            call.error = error.code
            shown = [{"key": k, "value": v} for k, v in params.items() if k != "access_token"]
            body: JsonDict = {
                "error": {
                    "error_code": error.code,
                    "error_msg": error.message,
                    "request_params": shown,
                }
            }
        else:
            body = {"response": result}
        finally:
            self._inflight -= 1
            self._notify()
        return web.json_response(body)

    async def _dispatch(self, method: str, params: dict[str, str]) -> Any:
        if params.get("access_token") != self.token:
            raise VkError(5)
        if self.enforce_limits:
            now = time.monotonic()
            while self._recent and now - self._recent[0] >= 1.0:
                self._recent.popleft()
            if len(self._recent) >= RATE_LIMIT:
                raise VkError(6)
            self._recent.append(now)
        handler = getattr(self, "_api_" + method.replace(".", "_"), None)
        if handler is None:
            raise VkError(3, method)
        failures = self._failures.get(method)
        per_peer: int | None = None
        if failures:
            code, on_peer = failures.popleft()
            if on_peer:
                per_peer = code
            else:
                raise VkError(code)
        if per_peer is not None:
            return await handler(params, fail=per_peer)
        return await handler(params)

    async def _handle_poll(self, request: web.Request) -> web.Response:
        self._polls += 1
        if self._poll_failures:
            answer = self._poll_failures.popleft()
            if isinstance(answer, int):
                return web.Response(status=answer, text="<html>Bad Gateway</html>")
            return web.json_response(answer)
        query = request.query
        if query.get("act") != "a_check" or int(request.match_info["group"]) != self.group_id:
            return web.json_response({"failed": 3})
        if query.get("key") != self.poll_key:
            return web.json_response({"failed": 2})
        try:
            ts = int(query.get("ts", ""))
        except ValueError:
            return web.json_response({"failed": 1, "ts": str(len(self.events) + 1)})
        if ts < 1 or ts > len(self.events) + 1:
            return web.json_response({"failed": 1, "ts": str(len(self.events) + 1)})
        wait = min(float(query.get("wait", "25")), 90.0)
        await self.wait_until(lambda: len(self.events) >= ts or self._closing, wait)
        updates = self.events[ts - 1 :]
        return web.json_response({"ts": str(len(self.events) + 1), "updates": updates})

    async def _handle_upload(self, request: web.Request) -> web.Response:
        ticket = request.match_info["ticket"]
        if self._upload_failures:
            self._notify()
            failure = self._upload_failures.popleft()
            if isinstance(failure, int):
                return web.Response(status=failure, text="<html>Bad Gateway</html>")
            return web.json_response(failure)
        reader = await request.multipart()
        data = b""
        async for part in reader:
            if getattr(part, "name", None) == "photo":
                data = await part.read()  # type: ignore[union-attr]
        if not data:
            return web.json_response({"server": 1, "photo": "[]", "hash": ""})
        self._pending_uploads[ticket] = data
        photo = json.dumps([{"ticket": ticket}])
        return web.json_response({"server": 1, "photo": photo, "hash": "h" + ticket})

    # -- methods -----------------------------------------------------------------------------
    def _user_for(self, params: dict[str, str], key: str = "peer_id") -> FakeVkUser:
        raw = params.get(key)
        if raw is None:
            raise VkError(100, f"{key} not specified")
        try:
            peer = int(raw)
        except ValueError as error:
            raise VkError(100, f"{key} not integer") from error
        user = self.users.get(peer)
        if user is None:
            raise VkError(7 if peer < 2_000_000_000 else 100, "unknown peer")
        return user

    async def _api_groups_getLongPollServer(self, params: dict[str, str]) -> Any:
        if params.get("group_id") != str(self.group_id):
            raise VkError(100, "group_id is invalid")
        return {
            "key": self.poll_key,
            "server": f"{self.base_url}/lp/{self.group_id}",
            "ts": str(len(self.events) + 1),
        }

    async def _api_groups_getById(self, params: dict[str, str]) -> Any:
        group = {"id": self.group_id, "name": "Семейное окно", "screen_name": "family_window"}
        return {"groups": [group], "profiles": []}

    async def _api_users_get(self, params: dict[str, str]) -> Any:
        ids = [i for i in params.get("user_ids", "").split(",") if i]
        return [{"id": int(i), "first_name": "Мария", "last_name": "И."} for i in ids]

    async def _api_messages_send(self, params: dict[str, str], fail: int | None = None) -> Any:
        many = "peer_ids" in params
        user = self._user_for(params, "peer_ids" if many else "peer_id")
        raw_random = params.get("random_id")
        if raw_random is None:
            raise VkError(100, "random_id is a required parameter")
        try:
            random_id = int(raw_random)
        except ValueError as error:
            raise VkError(100, "random_id not integer") from error
        if not -(2**31) <= random_id < 2**31:
            raise VkError(100, "random_id out of range")
        text = params.get("message", "")
        attachments = [a for a in params.get("attachment", "").split(",") if a]
        if not text and not attachments:
            raise VkError(100, "message is empty")
        if len(text) > MAX_TEXT:
            raise VkError(914)
        keyboard = self._keyboard(params.get("keyboard"), user)
        for attachment in attachments:
            if attachment.startswith("photo") and "_".join(attachment.split("_")[:2]) not in (
                self.uploads
            ):
                raise VkError(100, "attachment not found")

        def answer(message: FakeVkMessage | None, error: int | None = None) -> Any:
            if not many:
                if error is not None:
                    raise VkError(error)
                assert message is not None
                return message.id
            item: JsonDict = {"peer_id": user.id}
            if error is not None:
                item["error"] = {"code": error, "description": ERRORS.get(error, "")}
            else:
                assert message is not None
                item["message_id"] = message.id
                item["conversation_message_id"] = message.cmid
            return [item]

        if fail is not None:
            return answer(None, fail)
        if not user.allowed:
            return answer(None, 901)
        repeated = self._random_ids.get((user.id, random_id)) if random_id else None
        if repeated:
            return answer(repeated[0])
        message = self.add_message(user, text, from_bot=True)
        message.keyboard = keyboard
        message.attachments = attachments
        message.random_id = random_id
        if random_id:
            self._random_ids[(user.id, random_id)] = [message]
        return answer(message)

    def _keyboard(self, raw: str | None, user: FakeVkUser) -> JsonDict | None:
        if raw is None or raw == "":
            return None
        try:
            keyboard = json.loads(raw)
        except ValueError as error:
            raise VkError(911, "not JSON") from error

        def bad(why: str) -> VkError:
            return VkError(911, why)

        if not self.bot_features:
            raise VkError(912)

        if not isinstance(keyboard, dict) or not isinstance(keyboard.get("buttons"), list):
            raise bad("buttons must be an array")
        inline = bool(keyboard.get("inline"))
        rows = keyboard["buttons"]
        if inline and not user.inline:
            raise bad("inline keyboards are not supported by the client")
        if not user.keyboard:
            raise bad("keyboards are not supported by the client")
        max_rows, max_buttons = (
            (INLINE_ROWS, INLINE_BUTTONS) if inline else (KEYBOARD_ROWS, KEYBOARD_BUTTONS)
        )
        if len(rows) > max_rows:
            raise bad(f"too many rows ({len(rows)} > {max_rows})")
        if sum(len(r) for r in rows) > max_buttons:
            raise bad(f"too many buttons (> {max_buttons})")
        for row in rows:
            if not isinstance(row, list) or not row:
                raise bad("a row must be a non-empty array")
            if len(row) > ROW_WIDTH:
                raise bad(f"too many buttons in a row ({len(row)} > {ROW_WIDTH})")
            for button in row:
                action = button.get("action") if isinstance(button, dict) else None
                if not isinstance(action, dict) or action.get("type") not in BUTTON_TYPES:
                    raise bad("unknown button action type")
                kind = action["type"]
                if kind == "callback" and not user.callback:
                    raise bad("callback buttons are not supported by the client")
                label = action.get("label")
                if kind in ("text", "callback", "open_link") and (
                    not isinstance(label, str) or not label or len(label) > MAX_LABEL
                ):
                    raise bad(f"label must be 1..{MAX_LABEL} characters")
                if kind == "open_link" and not str(action.get("link", "")).startswith("http"):
                    raise bad("link is invalid")
                if "color" in button and (kind not in ("text", "callback")):
                    raise bad("color is only for text and callback buttons")
                if "color" in button and button["color"] not in COLORS:
                    raise bad("unknown color")
                payload = action.get("payload")
                if payload is not None:
                    if not isinstance(payload, str) or len(payload) > MAX_PAYLOAD:
                        raise bad(f"payload must be a string of at most {MAX_PAYLOAD}")
                    try:
                        json.loads(payload)
                    except ValueError as error:
                        raise bad("payload must be JSON") from error
        return keyboard

    async def _api_messages_sendMessageEventAnswer(self, params: dict[str, str]) -> Any:
        user = self._user_for(params, "peer_id")
        event_id = params.get("event_id", "")
        if params.get("user_id") != str(user.id) or event_id not in user.sent_events:
            raise VkError(100, "event_id is invalid")
        if event_id in user.answered_events:
            raise VkError(100, "event already answered")
        data = params.get("event_data")
        user.answered_events[event_id] = json.loads(data) if data else None
        return 1

    def _find(self, user: FakeVkUser, params: dict[str, str]) -> FakeVkMessage:
        if "conversation_message_id" in params:
            cmid = int(params["conversation_message_id"])
            found = [m for m in user.dialog if m.cmid == cmid]
        else:
            mid = int(params.get("message_id", "0"))
            found = [m for m in user.dialog if m.id == mid]
        if not found or found[0].deleted:
            raise VkError(100, "message not found")
        return found[0]

    async def _api_messages_edit(self, params: dict[str, str]) -> Any:
        user = self._user_for(params)
        message = self._find(user, params)
        if not message.from_bot:
            raise VkError(15)
        if time.time() - message.date > DELETE_FOR_ALL_WINDOW:
            raise VkError(909)
        text = params.get("message", "")
        if len(text) > MAX_TEXT:
            raise VkError(914)
        if "keyboard" in params:
            message.keyboard = self._keyboard(params["keyboard"], user)
        message.text = text
        message.edited = True
        self._notify()
        return 1

    async def _api_messages_delete(self, params: dict[str, str]) -> Any:
        for_all = params.get("delete_for_all") == "1"
        if "cmids" in params:
            user = self._user_for(params)
            results: list[JsonDict] = []
            for raw in params["cmids"].split(","):
                cmid = int(raw)
                item: JsonDict = {"peer_id": user.id, "conversation_message_id": cmid}
                found = [m for m in user.dialog if m.cmid == cmid and not m.deleted]
                if not found:
                    item["error"] = {"code": 100, "description": "message not found"}
                elif for_all and (
                    not found[0].from_bot or time.time() - found[0].date > DELETE_FOR_ALL_WINDOW
                ):
                    item["error"] = {"code": 924, "description": ERRORS[924]}
                else:
                    found[0].deleted = True
                    item["response"] = 1
                results.append(item)
            self._notify()
            return results
        ids = [int(i) for i in params.get("message_ids", "").split(",") if i]
        if not ids:
            raise VkError(100, "message_ids or cmids required")
        answer: JsonDict = {}
        for user in self.users.values():
            for message in user.dialog:
                if message.id in ids and not message.deleted:
                    if for_all and not message.from_bot:
                        raise VkError(924)
                    message.deleted = True
                    answer[str(message.id)] = 1
        self._notify()
        return answer

    async def _api_photos_getMessagesUploadServer(self, params: dict[str, str]) -> Any:
        self._user_for(params)
        ticket = secrets.token_hex(6)
        return {
            "upload_url": f"{self.base_url}/upload/{ticket}",
            "album_id": -3,
            "group_id": self.group_id,
        }

    async def _api_photos_saveMessagesPhoto(self, params: dict[str, str]) -> Any:
        try:
            photo = json.loads(params.get("photo", ""))
            ticket = photo[0]["ticket"]
        except (ValueError, LookupError, TypeError) as error:
            raise VkError(100, "photo is undefined") from error
        if params.get("hash") != "h" + ticket or ticket not in self._pending_uploads:
            raise VkError(100, "hash is invalid")
        data = self._pending_uploads.pop(ticket)
        photo_id = next(self._photo_ids)
        owner = -self.group_id
        self.uploads[f"photo{owner}_{photo_id}"] = data
        return [
            {
                "id": photo_id,
                "owner_id": owner,
                "album_id": -3,
                "access_key": secrets.token_hex(4),
                "sizes": [{"type": "x", "width": 200, "height": 200}],
            }
        ]

    def photo_bytes(self, attachment: str) -> bytes:
        """The uploaded bytes behind a sent attachment (access key stripped)."""
        return self.uploads["_".join(attachment.split("_")[:2])]
