"""A fake Telegram Bot API server for end-to-end tests.

The real aiogram client (``Bot`` + ``AiohttpSession``) talks plain HTTP to this
server on 127.0.0.1, exactly as it talks to api.telegram.org: ``POST
/bot{token}/{method}`` with ``multipart/form-data`` fields (strings raw,
everything else JSON-encoded, uploads as ``attach://<key>`` + a file part).
Answers are ``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code",
"description", "parameters": {"retry_after": N}}`` with the matching HTTP
status, so aiogram raises its real ``TelegramBadRequest`` /
``TelegramForbiddenError`` / ``TelegramRetryAfter`` / ... exceptions.

The fake is deliberately *strict*: it validates what the real API validates
(unknown chats, empty/too long texts, malformed HTML/MarkdownV2, oversize
callback data, editing to identical content, deleting old messages, answering
expired callback queries, blocked users, ...) and answers with real-looking
descriptions, so bugs in the bot show up in tests instead of in production.

Typical use::

    async with FakeTelegramServer() as server:
        bot = server.create_bot()                  # real aiogram Bot
        polling = asyncio.create_task(dp.start_polling(bot, handle_signals=False))
        maria = server.user(1001, "Мария")
        await maria.send_command("/start")
        [greeting] = await maria.wait_for_messages()
        await maria.press("Записаться")
        await maria.wait_idle()
        server.assert_no_errors()

Adding a Bot API method: write a method on :class:`FakeTelegramServer`
decorated with ``@api_method("methodName")`` that takes :class:`Params` and
returns the JSON ``result`` (or raises :class:`ApiError`). Tests may also add
one-off methods with :meth:`FakeTelegramServer.add_method`.

Error descriptions follow the real Bot API / TDLib wording as far as it is
known; the ones marked "(fake)" in comments are plausible inventions. Tests
should match on the stable part (e.g. ``match="can't parse entities"``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import math
import mimetypes
import re
import socket
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, NamedTuple, Self
from urllib.parse import urlsplit

from aiogram.client.session.aiohttp import AiohttpSession
from aiohttp import (
    BodyPartReader,
    ClientError,
    ClientResponse,
    ClientSession,
    ClientTimeout,
    MultipartReader,
    web,
)

if TYPE_CHECKING:
    from aiogram import Bot

__all__ = [
    "FAKE_JPEG",
    "FAKE_OGG",
    "FAKE_PDF",
    "ApiCall",
    "ApiError",
    "ApiErrorRecord",
    "FakeCallbackQuery",
    "FakeChat",
    "FakeClock",
    "FakeFile",
    "FakeMessage",
    "FakeTelegramServer",
    "FakeTopic",
    "FakeUser",
    "LocalAiohttpSession",
    "Params",
    "UploadedFile",
    "api_method",
    "format_text",
    "parse_html",
    "parse_markdown",
    "parse_markdown_v2",
    "parse_reply_markup",
    "utf16_len",
]

log = logging.getLogger("tests.fakes.telegram_api")

JsonDict = dict[str, Any]

SECRET_HEADER: Final = "X-Telegram-Bot-Api-Secret-Token"
MAX_TEXT_LENGTH: Final = 4096
MAX_CAPTION_LENGTH: Final = 1024
MAX_CALLBACK_DATA_BYTES: Final = 64
MAX_UPLOAD_BYTES: Final = 50 * 1024 * 1024
DELETE_WINDOW_SECONDS: Final = 48 * 3600
CALLBACK_ANSWER_WINDOW_SECONDS: Final = 15.0

#: Minimal byte strings with the right magic numbers for fake uploads.
FAKE_JPEG: Final = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"
FAKE_PNG: Final = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
FAKE_OGG: Final = b"OggS\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00fake-opus"
FAKE_PDF: Final = b"%PDF-1.4\n% fake document\n%%EOF\n"
FAKE_MP4: Final = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
FAKE_WEBP: Final = b"RIFF\x24\x00\x00\x00WEBPVP8 fake"

# Update types a bot gets when it never specified allowed_updates (real default).
_DEFAULT_EXCLUDED_UPDATES: Final = frozenset(
    {"chat_member", "message_reaction", "message_reaction_count"}
)

_CHAT_ACTIONS: Final = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)

# Methods counted by the optional rate limiter (lower-case).
_RATE_LIMITED_METHODS: Final = frozenset(
    {
        "sendmessage",
        "sendphoto",
        "senddocument",
        "sendvoice",
        "sendvideo",
        "sendaudio",
        "sendanimation",
        "sendsticker",
        "sendvideonote",
        "sendlocation",
        "sendcontact",
        "copymessage",
        "forwardmessage",
    }
)

# Forum topic icon colours accepted by createForumTopic.
_TOPIC_COLORS: Final = (7322096, 16766590, 13338331, 9367192, 16749490, 16478047)

_COMMAND_SCOPES: Final = frozenset(
    {
        "default",
        "all_private_chats",
        "all_group_chats",
        "all_chat_administrators",
        "chat",
        "chat_administrators",
        "chat_member",
    }
)


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------


class ApiError(Exception):
    """A Bot API error answer. Raise it from method handlers."""

    def __init__(
        self,
        error_code: int,
        description: str,
        *,
        retry_after: int | None = None,
        migrate_to_chat_id: int | None = None,
    ) -> None:
        super().__init__(f"{error_code} {description}")
        self.error_code = error_code
        self.description = description
        self.retry_after = retry_after
        self.migrate_to_chat_id = migrate_to_chat_id

    @classmethod
    def bad_request(cls, text: str) -> ApiError:
        return cls(400, f"Bad Request: {text}")

    @classmethod
    def forbidden(cls, text: str) -> ApiError:
        return cls(403, f"Forbidden: {text}")

    def to_json(self) -> JsonDict:
        body: JsonDict = {
            "ok": False,
            "error_code": self.error_code,
            "description": self.description,
        }
        parameters: JsonDict = {}
        if self.retry_after is not None:
            parameters["retry_after"] = self.retry_after
        if self.migrate_to_chat_id is not None:
            parameters["migrate_to_chat_id"] = self.migrate_to_chat_id
        if parameters:
            body["parameters"] = parameters
        return body


def _entities_error(message: str) -> ApiError:
    return ApiError.bad_request(f"can't parse entities: {message}")


# ---------------------------------------------------------------------------
# Text formatting: HTML / MarkdownV2 / Markdown -> (plain text, entities)
# ---------------------------------------------------------------------------


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units: the unit of Telegram entity offsets."""
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(text: str, index: int) -> int:
    """UTF-8 byte offset of ``text[index]``: the unit of parse error messages."""
    return len(text[:index].encode("utf-8"))


class _TextBuilder:
    """Accumulates plain text and tracks the current UTF-16 offset."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self.pos = 0

    def add(self, chunk: str) -> None:
        if chunk:
            self._parts.append(chunk)
            self.pos += utf16_len(chunk)

    def text(self) -> str:
        return "".join(self._parts)


def _sorted_entities(entities: list[JsonDict]) -> list[JsonDict]:
    return sorted(entities, key=lambda e: (e["offset"], -e["length"]))


_HTML_TAG_TYPES: Final = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_HTML_NAMED_ENTITIES: Final = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_NUMERIC_ENTITY_RE: Final = re.compile(r"&#(?:[xX]([0-9a-fA-F]{1,8})|([0-9]{1,8}));")
_NAMED_ENTITY_RE: Final = re.compile(r"&([a-zA-Z][a-zA-Z0-9]{0,31});")
_TAG_NAME_RE: Final = re.compile(r"[^\s>]*")  # TDLib reads a tag name up to space or '>'
_ATTR_NAME_RE: Final = re.compile(r"[a-zA-Z0-9_-]+")


@dataclass
class _OpenTag:
    name: str
    offset: int  # UTF-16 offset in the plain text where the tag's content starts
    index: int  # index of '<' in the source, for error messages
    attrs: dict[str, str]
    language: str | None = None


def _decode_numeric_entity(text: str, index: int) -> tuple[str, int] | None:
    match = _NUMERIC_ENTITY_RE.match(text, index)
    if match is None:
        return None
    code = int(match.group(1), 16) if match.group(1) else int(match.group(2))
    if not 0 < code <= 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return None
    return chr(code), match.end()


def _unescape_attribute(value: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(value):
        if value[i] == "&":
            numeric = _decode_numeric_entity(value, i)
            if numeric is not None:
                out.append(numeric[0])
                i = numeric[1]
                continue
            named = _NAMED_ENTITY_RE.match(value, i)
            if named is not None and named.group(1) in _HTML_NAMED_ENTITIES:
                out.append(_HTML_NAMED_ENTITIES[named.group(1)])
                i = named.end()
                continue
        out.append(value[i])
        i += 1
    return "".join(out)


def parse_html(text: str) -> tuple[str, list[JsonDict]]:
    """Parse Telegram-flavoured HTML into plain text and entities.

    Mirrors TDLib's parser: only the tags Telegram supports, properly nested,
    with the real error messages. Stricter than Telegram in one respect: a
    *named* entity other than ``&lt; &gt; &amp; &quot;`` (e.g. ``&nbsp;``) is
    rejected (Telegram would silently show it literally, which is a bot bug).
    A bare ``&`` that does not form an entity is accepted, as in Telegram.
    """
    out = _TextBuilder()
    stack: list[_OpenTag] = []
    entities: list[JsonDict] = []
    n = len(text)
    i = 0
    while i < n:
        char = text[i]
        if char == "&":
            numeric = _decode_numeric_entity(text, i)
            if numeric is not None:
                out.add(numeric[0])
                i = numeric[1]
                continue
            named = _NAMED_ENTITY_RE.match(text, i)
            if named is not None:
                name = named.group(1)
                if name not in _HTML_NAMED_ENTITIES:
                    # (fake) strictness, see docstring.
                    raise _entities_error(
                        f'unsupported HTML entity "&{name};" at byte offset '
                        f"{_byte_offset(text, i)};"
                        " only &lt; &gt; &amp; &quot; and numeric entities are supported"
                    )
                out.add(_HTML_NAMED_ENTITIES[name])
                i = named.end()
                continue
            out.add("&")
            i += 1
            continue
        if char != "<":
            j = i + 1
            while j < n and text[j] not in "<&":
                j += 1
            out.add(text[i:j])
            i = j
            continue

        begin = i
        if i + 1 < n and text[i + 1] == "/":  # end tag
            name_match = _TAG_NAME_RE.match(text, i + 2)
            assert name_match is not None  # the pattern matches the empty string
            name = name_match.group(0).lower()
            j = name_match.end()
            while j < n and text[j].isspace():
                j += 1
            if j >= n or text[j] != ">":
                raise _entities_error(
                    f"Unclosed end tag at byte offset {_byte_offset(text, begin)}"
                )
            if not stack:
                raise _entities_error(
                    f"Unexpected end tag at byte offset {_byte_offset(text, begin)}"
                )
            top = stack[-1]
            if name != top.name:
                raise _entities_error(
                    f"Unmatched end tag at byte offset {_byte_offset(text, begin)}, "
                    f'expected "</{top.name}>", found "</{name}>"'
                )
            stack.pop()
            _close_html_tag(top, out.pos, stack, entities)
            i = j + 1
            continue

        name_match = _TAG_NAME_RE.match(text, i + 1)
        assert name_match is not None
        name = name_match.group(0).lower()
        j = name_match.end()
        if j >= n:
            raise _entities_error(f"Unclosed start tag at byte offset {_byte_offset(text, begin)}")
        if name not in _HTML_TAG_TYPES:
            raise _entities_error(
                f'Unsupported start tag "{name}" at byte offset {_byte_offset(text, begin)}'
            )
        attrs: dict[str, str] = {}
        while True:
            while j < n and text[j].isspace():
                j += 1
            if j >= n:
                raise _entities_error(
                    f"Unclosed start tag at byte offset {_byte_offset(text, begin)}"
                )
            if text[j] == ">":
                j += 1
                break
            attr_match = _ATTR_NAME_RE.match(text, j)
            if attr_match is None:
                raise _entities_error(
                    f'Empty attribute name in the tag "{name}" '
                    f"at byte offset {_byte_offset(text, j)}"
                )
            attr = attr_match.group(0).lower()
            j = attr_match.end()
            while j < n and text[j].isspace():
                j += 1
            value = ""
            if j < n and text[j] == "=":
                j += 1
                while j < n and text[j].isspace():
                    j += 1
                if j >= n:
                    raise _entities_error(
                        f"Unclosed start tag at byte offset {_byte_offset(text, begin)}"
                    )
                if text[j] in "\"'":
                    end = text.find(text[j], j + 1)
                    if end == -1:
                        raise _entities_error(
                            f"Unclosed start tag at byte offset {_byte_offset(text, begin)}"
                        )
                    value = _unescape_attribute(text[j + 1 : end])
                    j = end + 1
                else:
                    k = j
                    while k < n and not text[k].isspace() and text[k] != ">":
                        k += 1
                    value = _unescape_attribute(text[j:k])
                    j = k
            attrs[attr] = value
        if name == "span" and attrs.get("class") != "tg-spoiler":
            raise _entities_error(
                f'Tag "span" must have class "tg-spoiler" '
                f"at byte offset {_byte_offset(text, begin)}"
            )
        if name == "tg-emoji" and not attrs.get("emoji-id", "").isdigit():
            raise _entities_error(  # (fake) wording
                f'Tag "tg-emoji" must have a numeric "emoji-id" attribute '
                f"at byte offset {_byte_offset(text, begin)}"
            )
        stack.append(_OpenTag(name, out.pos, begin, attrs))
        i = j

    if stack:
        raise _entities_error(f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"')
    return out.text(), _sorted_entities(entities)


def _close_html_tag(
    tag: _OpenTag, end: int, stack: list[_OpenTag], entities: list[JsonDict]
) -> None:
    kind = _HTML_TAG_TYPES[tag.name]
    language = tag.attrs.get("class", "")
    if (
        tag.name == "code"
        and stack
        and stack[-1].name == "pre"
        and language.startswith("language-")
    ):
        # <pre><code class="language-python">...</code></pre> is one pre entity with a language.
        stack[-1].language = language.removeprefix("language-")
        return
    length = end - tag.offset
    if length <= 0:
        return  # Telegram drops empty entities
    entity: JsonDict = {"type": kind, "offset": tag.offset, "length": length}
    if tag.name == "a":
        href = tag.attrs.get("href", "")
        if not href:
            return
        entity["url"] = href
    elif tag.name == "pre" and tag.language:
        entity["language"] = tag.language
    elif tag.name == "blockquote" and "expandable" in tag.attrs:
        entity["type"] = "expandable_blockquote"
    elif tag.name == "tg-emoji":
        entity["custom_emoji_id"] = tag.attrs["emoji-id"]
    entities.append(entity)


_MARKDOWN_V2_RESERVED: Final = frozenset("_*[]()~`>#+-=|{}.!")
_MARKDOWN_V2_NAMES: Final = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "text_link": "TextUrl",
    "custom_emoji": "CustomEmoji",
    "code": "Code",
    "pre": "Pre",
}


def parse_markdown_v2(text: str) -> tuple[str, list[JsonDict]]:
    """Best-effort MarkdownV2 parser (TDLib rules, real error messages).

    Reserved characters ``_*[]()~`>#+-=|{}.!`` outside entities must be
    escaped with ``\\``; unclosed entities are errors. Blockquotes (``>`` at
    line start, ``**>`` expandable) are supported approximately.
    """
    out = _TextBuilder()
    # Open entities: (type, UTF-16 offset, source index, pre language).
    stack: list[tuple[str, int, int, str | None]] = []
    entities: list[JsonDict] = []
    quote_start: int | None = None
    quote_expandable = False
    n = len(text)
    i = 0

    def reserved_error(index: int) -> ApiError:
        return _entities_error(
            f"Character '{text[index]}' is reserved and must be escaped with the preceding '\\'"
        )

    def close_quote() -> None:
        nonlocal quote_start
        if quote_start is None:
            return
        end = out.pos
        plain = out.text()
        if plain.endswith("\n"):
            end -= 1
        if end > quote_start:
            kind = "expandable_blockquote" if quote_expandable else "blockquote"
            entities.append({"type": kind, "offset": quote_start, "length": end - quote_start})
        quote_start = None

    while i < n:
        char = text[i]
        in_code = bool(stack) and stack[-1][0] in ("code", "pre")
        at_line_start = i == 0 or text[i - 1] == "\n"
        if at_line_start and not in_code:
            if text.startswith("**>", i) and quote_start is None:
                quote_start, quote_expandable = out.pos, True
                i += 3
                continue
            if char == ">":
                if quote_start is None:
                    quote_start, quote_expandable = out.pos, False
                i += 1
                continue
            if i > 0:
                close_quote()
        if (
            quote_start is not None
            and quote_expandable
            and text.startswith("||", i)
            and (i + 2 == n or text[i + 2] == "\n")
        ):
            i += 2  # end marker of an expandable blockquote
            continue
        if char == "\\" and i + 1 < n and 0 < ord(text[i + 1]) <= 126:
            out.add(text[i + 1])
            i += 2
            continue
        top = stack[-1][0] if stack else None
        if top == "pre":
            if text.startswith("```", i):
                _, offset, _, pre_language = stack.pop()
                if out.pos > offset:
                    entity: JsonDict = {"type": "pre", "offset": offset, "length": out.pos - offset}
                    if pre_language:
                        entity["language"] = pre_language
                    entities.append(entity)
                i += 3
            else:
                out.add(char)
                i += 1
            continue
        if top == "code":
            if char == "`":
                _, offset, _, _ = stack.pop()
                if out.pos > offset:
                    entities.append({"type": "code", "offset": offset, "length": out.pos - offset})
            else:
                out.add(char)
            i += 1
            continue
        if char not in _MARKDOWN_V2_RESERVED:
            out.add(char)
            i += 1
            continue

        # Does this character close the innermost open entity?
        step = 0
        if (top == "bold" and char == "*") or (
            top == "italic" and char == "_" and not text.startswith("__", i)
        ):
            step = 1
        elif top == "underline" and text.startswith("__", i):
            step = 2
        elif top == "strikethrough" and char == "~":
            step = 1
        elif top == "spoiler" and text.startswith("||", i):
            step = 2
        elif top in ("text_link", "custom_emoji") and char == "]":
            step = 1
        if step:
            kind, offset, start_index, _ = stack.pop()
            i += step
            entity = {"type": kind, "offset": offset, "length": out.pos - offset}
            if kind in ("text_link", "custom_emoji"):
                url: str | None = None
                if i < n and text[i] == "(":
                    chars: list[str] = []
                    j = i + 1
                    while j < n and text[j] != ")":
                        if text[j] == "\\" and j + 1 < n:
                            j += 1
                        chars.append(text[j])
                        j += 1
                    if j >= n:
                        raise _entities_error(  # (fake) wording
                            f"Can't find end of a URL at byte offset {_byte_offset(text, i)}"
                        )
                    url = "".join(chars)
                    i = j + 1
                if kind == "custom_emoji":
                    if url is None or not url.startswith("tg://emoji?id="):
                        raise _entities_error(
                            f"Custom emoji entity must contain a tg://emoji URL at byte offset "
                            f"{_byte_offset(text, start_index)}"
                        )
                    entity["custom_emoji_id"] = url.removeprefix("tg://emoji?id=")
                elif url:
                    entity["url"] = url
                else:
                    continue  # "[text]" without a URL is plain text
            if entity["length"] > 0:
                entities.append(entity)
            continue

        # Otherwise it opens a new entity or is an unescaped reserved character.
        language: str | None = None
        if char == "_":
            kind, step = ("underline", 2) if text.startswith("__", i) else ("italic", 1)
        elif char == "*":
            kind, step = "bold", 1
        elif char == "~":
            kind, step = "strikethrough", 1
        elif char == "|" and text.startswith("||", i):
            kind, step = "spoiler", 2
        elif char == "[":
            kind, step = "text_link", 1
        elif char == "!" and text.startswith("![", i):
            kind, step = "custom_emoji", 2
        elif char == "`" and text.startswith("```", i):
            kind, step = "pre", 3
            newline = text.find("\n", i + 3)
            closing = text.find("```", i + 3)
            if newline != -1 and (closing == -1 or newline < closing):
                first_line = text[i + 3 : newline]
                if first_line and not any(c.isspace() for c in first_line):
                    language = first_line
                    step = newline + 1 - i
        elif char == "`":
            kind, step = "code", 1
        else:
            raise reserved_error(i)
        stack.append((kind, out.pos, i, language))
        i += step

    if stack:
        kind, _, start_index, _ = stack[-1]
        raise _entities_error(
            f"Can't find end of {_MARKDOWN_V2_NAMES[kind]} entity "
            f"at byte offset {_byte_offset(text, start_index)}"
        )
    close_quote()
    return out.text(), _sorted_entities(entities)


def parse_markdown(text: str) -> tuple[str, list[JsonDict]]:
    """Legacy ``Markdown`` parse mode: ``*bold* _italic_ `code` ```pre``` [text](url)``."""
    out = _TextBuilder()
    entities: list[JsonDict] = []
    n = len(text)
    i = 0

    def unclosed(index: int) -> ApiError:
        return _entities_error(
            f"Can't find end of the entity starting at byte offset {_byte_offset(text, index)}"
        )

    while i < n:
        char = text[i]
        if char == "\\" and i + 1 < n and text[i + 1] in "_*`[":
            out.add(text[i + 1])
            i += 2
            continue
        if char not in "_*`[":
            out.add(char)
            i += 1
            continue
        start = out.pos
        if char == "[":
            close = text.find("]", i + 1)
            if close == -1:
                raise unclosed(i)
            if close + 1 < n and text[close + 1] == "(":
                paren = text.find(")", close + 2)
                if paren == -1:
                    raise unclosed(i)
                out.add(text[i + 1 : close])
                url = text[close + 2 : paren]
                if out.pos > start and url:
                    entities.append(
                        {
                            "type": "text_link",
                            "offset": start,
                            "length": out.pos - start,
                            "url": url,
                        }
                    )
                i = paren + 1
            else:
                out.add(text[i : close + 1])
                i = close + 1
            continue
        if text.startswith("```", i):
            close = text.find("```", i + 3)
            if close == -1:
                raise unclosed(i)
            out.add(text[i + 3 : close])
            kind, i = "pre", close + 3
        else:
            close = text.find(char, i + 1)
            if close == -1:
                raise unclosed(i)
            out.add(text[i + 1 : close])
            kind, i = {"*": "bold", "_": "italic", "`": "code"}[char], close + 1
        if out.pos > start:
            entities.append({"type": kind, "offset": start, "length": out.pos - start})
    return out.text(), _sorted_entities(entities)


def _strip_text(plain: str, entities: list[JsonDict]) -> tuple[str, list[JsonDict]]:
    """Trim leading/trailing whitespace like Telegram does, shifting entities."""
    left_stripped = plain.lstrip()
    result = left_stripped.rstrip()
    if result == plain:
        return plain, entities
    lead16 = utf16_len(plain[: len(plain) - len(left_stripped)])
    total16 = utf16_len(result)
    shifted: list[JsonDict] = []
    for entity in entities:
        start = max(entity["offset"] - lead16, 0)
        end = min(entity["offset"] + entity["length"] - lead16, total16)
        if end > start:
            shifted.append({**entity, "offset": start, "length": end - start})
    return result, shifted


def format_text(
    raw: str, parse_mode: str | None, explicit_entities: list[JsonDict] | None = None
) -> tuple[str, list[JsonDict]]:
    """Apply ``parse_mode`` (or explicit ``entities``) and trim like Telegram.

    Returns ``(plain_text, entities)``; raises :class:`ApiError` on parse errors.
    """
    if explicit_entities is not None:
        plain, entities = raw, explicit_entities
    elif parse_mode is None:
        plain, entities = raw, []
    else:
        mode = parse_mode.lower()
        if mode == "html":
            plain, entities = parse_html(raw)
        elif mode == "markdownv2":
            plain, entities = parse_markdown_v2(raw)
        elif mode == "markdown":
            plain, entities = parse_markdown(raw)
        else:
            raise ApiError.bad_request("unsupported parse_mode")
    return _strip_text(plain, entities)


_COMMAND_RE: Final = re.compile(r"/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?")
_URL_RE: Final = re.compile(r"https?://[^\s<>\"]+")


def _detect_entities(text: str) -> list[JsonDict]:
    """Entities Telegram's clients/servers add to a user's plain text message."""
    entities: list[JsonDict] = []
    for match in _COMMAND_RE.finditer(text):
        if match.start() > 0 and not text[match.start() - 1].isspace():
            continue
        entities.append(
            {
                "type": "bot_command",
                "offset": utf16_len(text[: match.start()]),
                "length": utf16_len(match.group()),
            }
        )
    for match in _URL_RE.finditer(text):
        entities.append(
            {
                "type": "url",
                "offset": utf16_len(text[: match.start()]),
                "length": utf16_len(match.group()),
            }
        )
    return _sorted_entities(entities)


# ---------------------------------------------------------------------------
# Reply markup validation
# ---------------------------------------------------------------------------

_INLINE_BUTTON_ACTIONS: Final = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
_REPLY_BUTTON_REQUESTS: Final = (
    "request_contact",
    "request_location",
    "request_poll",
    "request_users",
    "request_chat",
    "web_app",
)


@dataclass
class ParsedMarkup:
    """A validated ``reply_markup``."""

    kind: str  # "inline" | "reply" | "remove" | "force_reply"
    data: JsonDict
    inline_rows: list[list[JsonDict]] = field(default_factory=list)
    reply_rows: list[list[JsonDict]] = field(default_factory=list)


def _is_valid_button_url(url: str) -> bool:
    if not url or any(c.isspace() for c in url):
        return False
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        return bool(parts.netloc)
    return scheme == "tg"


def parse_reply_markup(value: Any) -> ParsedMarkup | None:
    """Validate a ``reply_markup`` value (JSON string or decoded object)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ApiError.bad_request("can't parse reply keyboard markup JSON object") from None
    if not isinstance(value, dict):
        raise ApiError.bad_request("can't parse reply keyboard markup JSON object")

    if "inline_keyboard" in value:
        rows = value["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise ApiError.bad_request(
                'field "inline_keyboard" of the InlineKeyboardMarkup should be an Array of Arrays'
            )
        for row in rows:
            for button in row:
                _validate_inline_button(button)
        return ParsedMarkup("inline", value, inline_rows=[list(row) for row in rows if row])

    if "keyboard" in value:
        rows = value["keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise ApiError.bad_request(
                'field "keyboard" of the ReplyKeyboardMarkup should be an Array of Arrays'
            )
        normalized: list[list[JsonDict]] = []
        for row in rows:
            normalized_row: list[JsonDict] = []
            for button in row:
                normalized_row.append(_validate_reply_button(button))
            if normalized_row:
                normalized.append(normalized_row)
        return ParsedMarkup("reply", value, reply_rows=normalized)

    if "remove_keyboard" in value:
        if value["remove_keyboard"] is not True:
            raise ApiError.bad_request(
                'field "remove_keyboard" of the ReplyKeyboardRemove must be true'
            )  # (fake)
        return ParsedMarkup("remove", value)
    if "force_reply" in value:
        if value["force_reply"] is not True:
            raise ApiError.bad_request(
                'field "force_reply" of the ForceReply must be true'
            )  # (fake)
        return ParsedMarkup("force_reply", value)
    raise ApiError.bad_request("can't parse reply keyboard markup JSON object")


def _validate_inline_button(button: Any) -> None:
    if not isinstance(button, dict):
        raise ApiError.bad_request(
            "can't parse inline keyboard button: InlineKeyboardButton must be an Object"
        )
    text = button.get("text")
    if not isinstance(text, str):
        raise ApiError.bad_request(
            'can\'t parse inline keyboard button: Field "text" must be of type String'
        )
    if not text.strip():
        raise ApiError.bad_request("BUTTON_TEXT_INVALID")  # (fake) wording
    actions = [name for name in _INLINE_BUTTON_ACTIONS if button.get(name) is not None]
    if not actions:
        raise ApiError.bad_request(
            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
        )
    if len(actions) > 1:
        raise ApiError.bad_request(  # (fake) wording
            "can't parse inline keyboard button: "
            f"exactly one of the optional fields must be used, got {actions}"
        )
    if "callback_data" in actions:
        data = button["callback_data"]
        if (
            not isinstance(data, str)
            or not 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA_BYTES
        ):
            raise ApiError.bad_request("BUTTON_DATA_INVALID")
    if "url" in actions:
        url = button["url"]
        if not isinstance(url, str) or not _is_valid_button_url(url):
            raise ApiError.bad_request("BUTTON_URL_INVALID")


def _validate_reply_button(button: Any) -> JsonDict:
    if isinstance(button, str):
        button = {"text": button}
    if not isinstance(button, dict):
        raise ApiError.bad_request(
            "can't parse keyboard button: KeyboardButton must be a String or an Object"
        )
    text = button.get("text")
    if not isinstance(text, str):
        raise ApiError.bad_request(
            'can\'t parse keyboard button: Field "text" must be of type String'
        )
    if not text.strip():
        raise ApiError.bad_request("BUTTON_TEXT_INVALID")  # (fake) wording
    requests = [name for name in _REPLY_BUTTON_REQUESTS if button.get(name) not in (None, False)]
    if len(requests) > 1:
        raise ApiError.bad_request(  # (fake) wording
            "can't parse keyboard button: "
            f"only one of the optional fields can be used, got {requests}"
        )
    return dict(button)


def _button_value(button: JsonDict) -> str | None:
    for name in ("callback_data", "url"):
        value = button.get(name)
        if isinstance(value, str):
            return value
    web_app = button.get("web_app")
    if isinstance(web_app, dict) and isinstance(web_app.get("url"), str):
        return str(web_app["url"])
    return None


# ---------------------------------------------------------------------------
# Request parameters
# ---------------------------------------------------------------------------


@dataclass(repr=False)
class UploadedFile:
    """A file part of a multipart request."""

    filename: str
    data: bytes
    content_type: str | None = None

    def __repr__(self) -> str:
        return f"UploadedFile({self.filename!r}, {len(self.data)} bytes, {self.content_type!r})"


# Fields that are strings in the Bot API: never JSON-decode them ("123" stays "123").
_STRING_FIELDS: Final = frozenset(
    {
        "text",
        "caption",
        "parse_mode",
        "callback_query_id",
        "url",
        "secret_token",
        "name",
        "description",
        "short_description",
        "action",
        "title",
        "file_id",
        "language_code",
        "inline_message_id",
        "emoji",
        "icon_custom_emoji_id",
        "business_connection_id",
        "message_effect_id",
        "ip_address",
        "photo",
        "document",
        "voice",
        "sticker",
        "video",
        "audio",
        "animation",
        "video_note",
        "thumbnail",
        "phone_number",
        "first_name",
        "last_name",
        "address",
        "question",
        "custom_title",
        "payload",
        "query",
        "vcard",
        "performer",
    }
)


def _decode_params(raw: dict[str, Any]) -> dict[str, Any]:
    """Decode form values the way the Bot API does: non-string fields are JSON."""
    decoded: dict[str, Any] = {}
    for key, value in raw.items():
        if isinstance(value, str) and key not in _STRING_FIELDS:
            try:
                decoded[key] = json.loads(value)
            except ValueError:
                decoded[key] = value
        else:
            decoded[key] = value
    return decoded


_INT_RE: Final = re.compile(r"-?\d+")


class Params:
    """Decoded request parameters with typed getters raising real-looking errors."""

    def __init__(
        self, values: dict[str, Any], files: dict[str, UploadedFile] | None = None
    ) -> None:
        self.values = values
        self.files = files or {}

    def __contains__(self, name: str) -> bool:
        return self.values.get(name) not in (None, "")

    def __repr__(self) -> str:
        return f"Params({self.values!r})"

    def raw(self, name: str) -> Any:
        return self.values.get(name)

    def get_str(self, name: str, *, missing: str | None = None) -> str | None:
        value = self.values.get(name)
        if value is None or value == "":
            if missing is not None:
                raise ApiError.bad_request(missing)
            return None if value is None else ""
        if isinstance(value, str):
            return value
        if isinstance(value, UploadedFile):
            raise ApiError.bad_request(f"invalid {name} specified")  # (fake)
        return json.dumps(value, ensure_ascii=False)

    def get_int(self, name: str, *, missing: str | None = None) -> int | None:
        value = self.values.get(name)
        if value is None or value == "":
            if missing is not None:
                raise ApiError.bad_request(missing)
            return None
        if isinstance(value, bool):
            raise ApiError.bad_request(f"invalid {name} specified")  # (fake)
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and _INT_RE.fullmatch(value.strip()):
            return int(value.strip())
        raise ApiError.bad_request(f"invalid {name} specified")  # (fake)

    def get_bool(self, name: str, default: bool = False) -> bool:
        value = self.values.get(name)
        if isinstance(value, bool):
            return value
        if isinstance(value, int):
            return value != 0
        if isinstance(value, str):
            lowered = value.strip().lower()
            if lowered in ("true", "1"):
                return True
            if lowered in ("false", "0", ""):
                return False
        return default

    def get_json(self, name: str, *, error: str) -> Any:
        value = self.values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise ApiError.bad_request(error) from None
        return value

    def get_chat_id(self, name: str = "chat_id") -> int | str:
        value = self.values.get(name)
        if value is None or value == "":
            raise ApiError.bad_request("chat_id is empty")
        if isinstance(value, bool):
            raise ApiError.bad_request("chat not found")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            stripped = value.strip()
            if _INT_RE.fullmatch(stripped):
                return int(stripped)
            if stripped.startswith("@") and len(stripped) > 1:
                return stripped
        raise ApiError.bad_request("chat not found")

    def get_input_file(self, name: str) -> UploadedFile | str | None:
        """A file param: an upload (direct or ``attach://key``) or a file_id/URL string."""
        value = self.values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, UploadedFile):
            return value
        if not isinstance(value, str):
            raise ApiError.bad_request("wrong file identifier/HTTP URL specified")
        if value.startswith("attach://"):
            key = value.removeprefix("attach://")
            attached = self.files.get(key)
            if attached is None:
                raise ApiError.bad_request(f'can\'t find attached file "{key}"')  # (fake) wording
            return attached
        return value


# ---------------------------------------------------------------------------
# Domain objects: clock, files, messages, chats, users, callback queries
# ---------------------------------------------------------------------------


class FakeClock:
    """The fake wall clock used for message dates and expiry rules.

    By default it follows real time from ``start`` (default: now); ``advance``
    moves it forward (e.g. 49 h to test the 48 h deletion window) without
    sleeping. ``frozen=True`` stops the real-time flow entirely.
    """

    def __init__(self, start: float | None = None, *, frozen: bool = False) -> None:
        self._base = time.time() if start is None else float(start)
        self._started = time.monotonic()
        self._offset = 0.0
        self.frozen = frozen

    def now(self) -> float:
        elapsed = 0.0 if self.frozen else time.monotonic() - self._started
        return self._base + elapsed + self._offset

    def timestamp(self) -> int:
        return int(self.now())

    def advance(self, seconds: float) -> None:
        self._offset += seconds


_FILE_ID_PREFIXES: Final = {
    "photo": "AgACAgIAAxkBAAI",
    "document": "BQACAgIAAxkBAAI",
    "voice": "AwACAgIAAxkBAAI",
    "sticker": "CAACAgIAAxkBAAI",
    "video_note": "DQACAgIAAxkBAAI",
    "video": "BAACAgIAAxkBAAI",
    "audio": "CQACAgIAAxkBAAI",
    "animation": "CgACAgIAAxkBAAI",
}


@dataclass(repr=False)
class FakeFile:
    """A file known to the fake server (uploaded by the bot or sent by a user)."""

    file_id: str
    file_unique_id: str
    kind: str
    data: bytes | None = None
    url: str | None = None  # set when the bot sent it by HTTP URL
    file_name: str | None = None
    mime_type: str | None = None
    width: int = 0
    height: int = 0
    duration: int = 0
    file_path: str = ""
    thumb_file_id: str = ""

    @property
    def size(self) -> int | None:
        return None if self.data is None else len(self.data)

    def __repr__(self) -> str:
        source = f"{self.size} bytes" if self.data is not None else f"url={self.url!r}"
        return f"FakeFile({self.kind}, {self.file_id!r}, {source})"

    def to_api(self, extra: JsonDict | None = None) -> Any:
        """The JSON a message carries for this file (a list of sizes for photos)."""
        base: JsonDict = {"file_id": self.file_id, "file_unique_id": self.file_unique_id}
        if self.size is not None:
            base["file_size"] = self.size
        extra = extra or {}
        if self.kind == "photo":
            thumb = {
                "file_id": self.thumb_file_id,
                "file_unique_id": self.file_unique_id + "-t",
                "width": 90,
                "height": max(1, 90 * self.height // max(self.width, 1)),
            }
            return [thumb, {**base, "width": self.width, "height": self.height}]
        if self.kind == "document":
            if self.file_name:
                base["file_name"] = self.file_name
            if self.mime_type:
                base["mime_type"] = self.mime_type
            return base
        if self.kind == "sticker":
            return {
                **base,
                "type": "regular",
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
                "emoji": extra.get("emoji", "👍"),
            }
        if self.kind == "voice":
            return {**base, "duration": self.duration, "mime_type": self.mime_type or "audio/ogg"}
        if self.kind == "video_note":
            return {**base, "length": self.width or 240, "duration": self.duration}
        if self.kind in ("video", "animation"):
            return {
                **base,
                "width": self.width or 640,
                "height": self.height or 480,
                "duration": self.duration,
            }
        if self.kind == "audio":
            return {**base, "duration": self.duration}
        return base


# Message kinds with a caption instead of a text.
_CAPTIONED_KINDS: Final = frozenset({"photo", "document", "voice", "video", "audio", "animation"})


@dataclass(eq=False, repr=False)
class FakeMessage:
    """A message recorded by the fake (sent by the bot or by a fake user).

    ``text`` is the plain text (or caption of a media message) after entity
    parsing; ``raw_text`` is what was sent (with HTML tags etc.).
    """

    chat: FakeChat
    message_id: int
    date: int
    from_bot: bool
    # text|photo|document|voice|video|audio|animation|sticker|video_note|location|contact|service
    kind: str = "text"
    sender: FakeUser | None = None  # the fake user for user messages, None for the bot
    text: str | None = None
    raw_text: str | None = None
    parse_mode: str | None = None
    entities: list[JsonDict] = field(default_factory=list)
    inline_keyboard: list[list[JsonDict]] | None = None
    reply_keyboard: list[list[str]] | None = None
    force_reply: bool = False
    file: FakeFile | None = None
    sent_as: bytes | str | None = None  # upload bytes, or the file_id/URL string the bot used
    message_thread_id: int | None = None
    reply_to: FakeMessage | None = None
    forward_from: FakeMessage | None = None
    extra: JsonDict = field(default_factory=dict)  # location/contact/service payloads etc.
    deleted: bool = False
    edit_date: int | None = None
    previous_texts: list[str | None] = field(default_factory=list)  # texts before each edit

    @property
    def edited(self) -> bool:
        return self.edit_date is not None

    @property
    def caption(self) -> str | None:
        return self.text if self.kind in _CAPTIONED_KINDS else None

    @property
    def buttons(self) -> list[list[tuple[str, str | None]]]:
        """Inline keyboard as rows of ``(label, callback_data or url)``."""
        return [[(b["text"], _button_value(b)) for b in row] for row in self.inline_keyboard or []]

    @property
    def button_labels(self) -> list[str]:
        return [label for row in self.buttons for label, _ in row]

    @property
    def reply_markup(self) -> JsonDict | None:
        return {"inline_keyboard": self.inline_keyboard} if self.inline_keyboard else None

    @property
    def photo(self) -> bytes | str | None:
        """For photos: the uploaded bytes, or the file_id/URL the bot used."""
        return self.sent_as if self.kind == "photo" else None

    @property
    def document(self) -> bytes | str | None:
        return self.sent_as if self.kind == "document" else None

    def __repr__(self) -> str:
        return f"<FakeMessage {self.describe()}>"

    def describe(self) -> str:
        """One transcript line."""
        who = "bot" if self.from_bot else self.sender.display_name if self.sender else "?"
        head = f"#{self.message_id} {who}"
        if self.kind != "text":
            head += f" [{self.kind}]"
        if self.message_thread_id is not None:
            head += f" (topic {self.message_thread_id})"
        flags = [flag for flag, on in (("deleted", self.deleted), ("edited", self.edited)) if on]
        if flags:
            head += f" ({', '.join(flags)})"
        body = repr(self.text) if self.text is not None else ""
        if self.kind == "service":
            body = repr(self.extra)
        if self.inline_keyboard:
            body += f" buttons={self.buttons}"
        if self.reply_keyboard:
            body += f" reply_keyboard={self.reply_keyboard}"
        return f"{head}: {body}"

    def to_api(self, *, with_reply: bool = True) -> JsonDict:
        """The Bot API ``Message`` object."""
        server = self.chat.server
        data: JsonDict = {
            "message_id": self.message_id,
            "from": server.bot_user_json()
            if self.from_bot
            else self.sender.to_api()
            if self.sender
            else None,
            "chat": self.chat.to_api(),
            "date": self.date,
        }
        if data["from"] is None:
            del data["from"]
        if self.message_thread_id is not None and self.chat.is_forum:
            data["message_thread_id"] = self.message_thread_id
            data["is_topic_message"] = True
        if self.forward_from is not None:
            source = self.forward_from
            origin: JsonDict = {"type": "user", "date": source.date}
            origin["sender_user"] = (
                server.bot_user_json()
                if source.from_bot or source.sender is None
                else source.sender.to_api()
            )
            data["forward_origin"] = origin
        if with_reply and self.reply_to is not None and not self.reply_to.deleted:
            data["reply_to_message"] = self.reply_to.to_api(with_reply=False)
        if self.kind == "text":
            data["text"] = self.text or ""
            if self.entities:
                data["entities"] = self.entities
        elif self.kind in ("location", "contact", "service"):
            data.update(self.extra)
        elif self.file is not None:
            data[self.kind] = self.file.to_api(self.extra)
            if self.kind in _CAPTIONED_KINDS and self.text:
                data["caption"] = self.text
                if self.entities:
                    data["caption_entities"] = self.entities
        if self.inline_keyboard:
            data["reply_markup"] = {"inline_keyboard": self.inline_keyboard}
        if self.edit_date is not None:
            data["edit_date"] = self.edit_date
        return data


@dataclass
class FakeTopic:
    """A forum topic in a supergroup."""

    message_thread_id: int
    name: str
    icon_color: int
    icon_custom_emoji_id: str | None = None
    closed: bool = False
    deleted: bool = False

    def to_api(self) -> JsonDict:
        data: JsonDict = {
            "message_thread_id": self.message_thread_id,
            "name": self.name,
            "icon_color": self.icon_color,
        }
        if self.icon_custom_emoji_id:
            data["icon_custom_emoji_id"] = self.icon_custom_emoji_id
        return data


@dataclass(eq=False)
class FakeCallbackQuery:
    """A callback query created by a fake user's button press."""

    id: str
    user: FakeUser = field(repr=False)
    message: FakeMessage | None = field(repr=False)
    data: str
    created_at: float
    answered: bool = False
    answer_text: str | None = None
    show_alert: bool = False
    answer_url: str | None = None

    async def wait_answered(self, timeout: float = 5.0) -> FakeCallbackQuery:
        """Wait until the bot answers this query (else the user sees a spinner)."""
        ok = await self.user.server._wait_until(lambda: self.answered, timeout)
        if not ok:
            raise AssertionError(
                f"The bot did not answer callback query {self.id} (data={self.data!r}) "
                f"within {timeout}s; "
                "the button would keep spinning.\n" + self.user.chat.transcript()
            )
        return self


class FakeChat:
    """A chat: a user's private chat with the bot, or a supergroup."""

    def __init__(
        self,
        server: FakeTelegramServer,
        chat_id: int,
        chat_type: str,
        *,
        title: str | None = None,
        username: str | None = None,
        user: FakeUser | None = None,
        is_forum: bool = False,
        bot_is_admin: bool = True,
    ) -> None:
        self.server = server
        self.id = chat_id
        self.type = chat_type
        self.title = title
        self.username = username
        self.user = user
        self.is_forum = is_forum
        self.bot_is_admin = bot_is_admin
        self.started = True  # private chats: the user has /start-ed the bot
        self.blocked = False  # private chats: the user blocked the bot
        self.deactivated = False  # private chats: the user deleted their account
        self.all_messages: list[FakeMessage] = []  # both sides, in order, incl. deleted
        self.topics: dict[int, FakeTopic] = {}
        self.chat_actions: list[tuple[str, int | None]] = []  # (action, message_thread_id)
        self.reply_keyboard: list[list[JsonDict]] | None = None  # the active reply keyboard
        self._by_id: dict[int, FakeMessage] = {}
        self._last_message_id = 0
        self._cursor = 0  # index into `history` for wait_for_messages

    def __repr__(self) -> str:
        name = self.title or (self.user.display_name if self.user else "")
        return f"<FakeChat {self.id} {self.type} {name!r}>"

    # -- inspection -------------------------------------------------------

    @property
    def history(self) -> list[FakeMessage]:
        """All bot messages in order, including deleted ones (see ``.deleted``)."""
        return [m for m in self.all_messages if m.from_bot and m.kind != "service"]

    @property
    def messages(self) -> list[FakeMessage]:
        """Bot messages currently visible in the chat (deleted ones removed)."""
        return [m for m in self.history if not m.deleted]

    @property
    def last_message(self) -> FakeMessage | None:
        visible = self.messages
        return visible[-1] if visible else None

    def get_message(self, message_id: int) -> FakeMessage | None:
        return self._by_id.get(message_id)

    async def wait_for_messages(self, n: int = 1, timeout: float = 5.0) -> list[FakeMessage]:
        """The next ``n`` bot messages sent after the last user action.

        Consumes them: a second call returns the messages after those. Messages
        the bot deleted again still count (check ``.deleted``).
        """
        ok = await self.server._wait_until(lambda: len(self.history) - self._cursor >= n, timeout)
        history = self.history
        if not ok:
            got = history[self._cursor :]
            raise AssertionError(
                f"Expected {n} new bot message(s) in chat {self.id} within {timeout}s "
                "after the last user action, "
                f"got {len(got)}: {got}\n{self.transcript()}"
            )
        result = history[self._cursor : self._cursor + n]
        self._cursor += n
        return result

    async def wait_idle(self, quiet: float = 0.3, timeout: float = 5.0) -> None:
        await self.server.wait_idle(quiet=quiet, timeout=timeout)

    def transcript(self) -> str:
        """Human-readable chat log plus the fake's errors, for assertion messages."""
        name = self.title or (self.user.display_name if self.user else "")
        lines = [f"--- chat {self.id} ({self.type}, {name}) transcript ---"]
        lines.extend("  " + message.describe() for message in self.all_messages)
        if not self.all_messages:
            lines.append("  (no messages)")
        own_errors = [
            e for e in self.server.errors if e.params.get("chat_id") in (self.id, str(self.id))
        ]
        other_errors = [e for e in self.server.errors if "chat_id" not in e.params]
        if own_errors:
            lines.append("--- fake API errors for this chat ---")
            lines.extend(f"  {e.method}: {e.error_code} {e.description}" for e in own_errors[-10:])
        if other_errors:
            lines.append("--- other fake API errors ---")
            lines.extend(
                f"  {e.method}: {e.error_code} {e.description}" for e in other_errors[-10:]
            )
        if self.server.dropped_updates:
            dropped = sorted({kind for kind, _ in self.server.dropped_updates})
            lines.append(f"--- updates dropped because of allowed_updates: {dropped} ---")
        return "\n".join(lines)

    # -- API JSON ---------------------------------------------------------

    def to_api(self) -> JsonDict:
        data: JsonDict = {"id": self.id, "type": self.type}
        if self.type == "private" and self.user is not None:
            data["first_name"] = self.user.first_name
            if self.user.last_name:
                data["last_name"] = self.user.last_name
            if self.user.username:
                data["username"] = self.user.username
        else:
            data["title"] = self.title or ""
            if self.username:
                data["username"] = self.username
            if self.is_forum:
                data["is_forum"] = True
        return data

    def full_info(self) -> JsonDict:
        """``ChatFullInfo`` for getChat."""
        return {
            **self.to_api(),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }

    # -- internals --------------------------------------------------------

    def _new_message(self, **fields: Any) -> FakeMessage:
        self._last_message_id += 1
        message = FakeMessage(
            chat=self,
            message_id=self._last_message_id,
            date=self.server.clock.timestamp(),
            **fields,
        )
        self.all_messages.append(message)
        self._by_id[message.message_id] = message
        self.server._notify()
        return message

    def _mark_user_action(self) -> None:
        self._cursor = len(self.history)


class FakeUser:
    """A fake Telegram user who talks to the bot. Private chat id == user id."""

    def __init__(
        self,
        server: FakeTelegramServer,
        user_id: int,
        first_name: str,
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "ru",
        is_premium: bool = False,
    ) -> None:
        self.server = server
        self.id = user_id
        self.first_name = first_name
        self.last_name = last_name
        self.username = username
        self.language_code = language_code
        self.is_premium = is_premium
        self.chat = FakeChat(server, user_id, "private", user=self)
        self.callback_queries: list[FakeCallbackQuery] = []

    def __repr__(self) -> str:
        return f"<FakeUser {self.id} {self.display_name!r}>"

    @property
    def display_name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part)

    def to_api(self) -> JsonDict:
        data: JsonDict = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name:
            data["last_name"] = self.last_name
        if self.username:
            data["username"] = self.username
        if self.language_code:
            data["language_code"] = self.language_code
        if self.is_premium:
            data["is_premium"] = True
        return data

    # -- inspection (private chat) ----------------------------------------

    @property
    def messages(self) -> list[FakeMessage]:
        """Bot messages currently in the private chat, in order (deleted removed)."""
        return self.chat.messages

    @property
    def history(self) -> list[FakeMessage]:
        """All bot messages in the private chat, including deleted ones."""
        return self.chat.history

    @property
    def last_message(self) -> FakeMessage | None:
        return self.chat.last_message

    async def wait_for_messages(self, n: int = 1, timeout: float = 5.0) -> list[FakeMessage]:
        return await self.chat.wait_for_messages(n, timeout)

    async def wait_idle(self, quiet: float = 0.3, timeout: float = 5.0) -> None:
        await self.server.wait_idle(quiet=quiet, timeout=timeout)

    # -- actions ----------------------------------------------------------

    async def send_text(
        self,
        text: str,
        *,
        chat: FakeChat | None = None,
        thread_id: int | None = None,
        reply_to: FakeMessage | None = None,
    ) -> FakeMessage:
        """Send a text message (commands and URLs get their entities)."""
        if not text.strip():
            raise ValueError("Telegram clients can't send an empty message")
        return self._post(
            chat,
            "text",
            text=text,
            entities=_detect_entities(text),
            thread_id=thread_id,
            reply_to=reply_to,
        )

    async def send_command(
        self, command: str, *, chat: FakeChat | None = None, thread_id: int | None = None
    ) -> FakeMessage:
        """Send ``/command [args]`` with a bot_command entity at offset 0."""
        if not _COMMAND_RE.match(command):
            raise ValueError(f"not a bot command: {command!r}")
        return await self.send_text(command, chat=chat, thread_id=thread_id)

    async def press(
        self,
        label_or_data: str,
        message: FakeMessage | int | None = None,
        *,
        chat: FakeChat | None = None,
    ) -> FakeCallbackQuery:
        """Press an inline button by visible label (or callback_data).

        Looks on ``message`` (a FakeMessage or message id) or else on the
        latest visible bot message that has an inline keyboard.
        """
        target_chat = chat or self.chat
        if message is None:
            with_keyboard = [m for m in target_chat.messages if m.inline_keyboard]
            if not with_keyboard:
                raise AssertionError(
                    f"No bot message with an inline keyboard in chat {target_chat.id} to press "
                    f"{label_or_data!r}.\n{target_chat.transcript()}"
                )
            found_message = with_keyboard[-1]
        else:
            found_message = self._resolve_message(target_chat, message)
            if found_message.deleted:
                raise AssertionError(
                    f"Message #{found_message.message_id} was deleted by the bot; can't press it"
                )
        buttons = [b for row in found_message.inline_keyboard or [] for b in row]
        button = next((b for b in buttons if b["text"] == label_or_data), None)
        if button is None:
            button = next((b for b in buttons if b.get("callback_data") == label_or_data), None)
        if button is None:
            raise AssertionError(
                f"No inline button {label_or_data!r} on message #{found_message.message_id} "
                f"({found_message.text!r}). Available buttons: {found_message.buttons}"
            )
        if not isinstance(button.get("callback_data"), str):
            raise AssertionError(
                f"Button {button['text']!r} is not a callback button ({button}); "
                "pressing it sends nothing to the bot"
            )
        return self._callback(target_chat, found_message, button["callback_data"])

    async def press_data(
        self, data: str, message_id: int | None = None, *, chat: FakeChat | None = None
    ) -> FakeCallbackQuery:
        """Send a callback query with arbitrary (possibly forged) data."""
        target_chat = chat or self.chat
        if message_id is not None:
            message = self._resolve_message(target_chat, message_id)
        else:
            candidates = [
                m for m in target_chat.messages if m.inline_keyboard
            ] or target_chat.messages
            if not candidates:
                raise AssertionError(
                    f"No bot message in chat {target_chat.id} to attach a callback query to"
                )
            message = candidates[-1]
        return self._callback(target_chat, message, data)

    async def press_reply_button(self, label: str, *, chat: FakeChat | None = None) -> FakeMessage:
        """Tap a button of the active reply keyboard (contact/location buttons share those)."""
        target_chat = chat or self.chat
        rows = target_chat.reply_keyboard
        if not rows:
            raise AssertionError(f"No reply keyboard is active in chat {target_chat.id}")
        button = next((b for row in rows for b in row if b["text"] == label), None)
        if button is None:
            labels = [[b["text"] for b in row] for row in rows]
            raise AssertionError(f"No reply keyboard button {label!r}. Available: {labels}")
        if button.get("request_contact"):
            return await self.send_contact(chat=chat)
        if button.get("request_location"):
            return await self.send_location(chat=chat)
        return await self.send_text(label, chat=chat)

    async def send_photo(
        self, data: bytes = FAKE_JPEG, *, caption: str | None = None, chat: FakeChat | None = None
    ) -> FakeMessage:
        file = self.server._register_file("photo", data=data, width=1280, height=960)
        return self._post(chat, "photo", file=file, text=caption)

    async def send_document(
        self,
        file_name: str = "a.pdf",
        data: bytes = FAKE_PDF,
        *,
        mime_type: str | None = None,
        caption: str | None = None,
        chat: FakeChat | None = None,
    ) -> FakeMessage:
        mime = mime_type or mimetypes.guess_type(file_name)[0] or "application/octet-stream"
        file = self.server._register_file(
            "document", data=data, file_name=file_name, mime_type=mime
        )
        return self._post(chat, "document", file=file, text=caption)

    async def send_sticker(self, emoji: str = "👍", *, chat: FakeChat | None = None) -> FakeMessage:
        file = self.server._register_file("sticker", data=FAKE_WEBP, mime_type="image/webp")
        return self._post(chat, "sticker", file=file, extra={"emoji": emoji})

    async def send_voice(
        self, duration: int = 3, data: bytes = FAKE_OGG, *, chat: FakeChat | None = None
    ) -> FakeMessage:
        file = self.server._register_file(
            "voice", data=data, duration=duration, mime_type="audio/ogg"
        )
        return self._post(chat, "voice", file=file)

    async def send_video_note(
        self, duration: int = 5, data: bytes = FAKE_MP4, *, chat: FakeChat | None = None
    ) -> FakeMessage:
        file = self.server._register_file("video_note", data=data, duration=duration, width=240)
        return self._post(chat, "video_note", file=file)

    async def send_location(
        self, latitude: float = 55.7558, longitude: float = 37.6173, *, chat: FakeChat | None = None
    ) -> FakeMessage:
        return self._post(
            chat, "location", extra={"location": {"latitude": latitude, "longitude": longitude}}
        )

    async def send_contact(
        self,
        phone_number: str = "+79001234567",
        first_name: str | None = None,
        *,
        user_id: int | None = None,
        chat: FakeChat | None = None,
    ) -> FakeMessage:
        """Share a contact; by default the user's own (as a request_contact button does)."""
        contact: JsonDict = {
            "phone_number": phone_number,
            "first_name": first_name or self.first_name,
        }
        if first_name is None and self.last_name:
            contact["last_name"] = self.last_name
        contact["user_id"] = self.id if user_id is None else user_id
        return self._post(chat, "contact", extra={"contact": contact})

    async def edit(self, message: FakeMessage, new_text: str) -> FakeMessage:
        """Edit one of the user's own messages -> ``edited_message`` update."""
        if message.sender is not self or message.deleted:
            raise AssertionError(
                f"{self!r} can only edit own, non-deleted messages, not {message!r}"
            )
        self._check_can_act(message.chat)
        message.previous_texts.append(message.text)
        message.text = message.raw_text = new_text
        if message.kind == "text":
            message.entities = _detect_entities(new_text)
        message.edit_date = self.server.clock.timestamp()
        message.chat._mark_user_action()
        self.server._push_update("edited_message", message.to_api())
        return message

    async def block(self) -> None:
        """Block the bot: ``my_chat_member`` member -> kicked; sends then fail with 403."""
        if self.chat.blocked:
            raise AssertionError(f"{self!r} has already blocked the bot")
        self.chat.blocked = True
        self._push_my_chat_member(old="member", new="kicked")

    async def unblock(self) -> None:
        """Unblock the bot: ``my_chat_member`` kicked -> member."""
        if not self.chat.blocked:
            raise AssertionError(f"{self!r} has not blocked the bot")
        self.chat.blocked = False
        self._push_my_chat_member(old="kicked", new="member")

    async def deactivate(self) -> None:
        """Delete the account: sends then fail with 403 "user is deactivated"."""
        self.chat.deactivated = True

    # -- internals --------------------------------------------------------

    def _check_can_act(self, chat: FakeChat) -> None:
        if chat.type == "private" and chat.blocked:
            raise AssertionError(
                f"{self!r} has blocked the bot; call unblock() before acting in the chat"
            )
        if chat.type == "private" and chat.deactivated:
            raise AssertionError(f"{self!r} is deactivated")

    def _resolve_message(self, chat: FakeChat, message: FakeMessage | int) -> FakeMessage:
        if isinstance(message, FakeMessage):
            if message.chat is not chat:
                raise AssertionError(f"{message!r} is not in chat {chat.id}")
            return message
        found = chat.get_message(message)
        if found is None:
            raise AssertionError(f"No message #{message} in chat {chat.id}")
        return found

    def _post(
        self,
        chat: FakeChat | None,
        kind: str,
        *,
        text: str | None = None,
        entities: list[JsonDict] | None = None,
        file: FakeFile | None = None,
        extra: JsonDict | None = None,
        thread_id: int | None = None,
        reply_to: FakeMessage | None = None,
    ) -> FakeMessage:
        target = chat or self.chat
        self._check_can_act(target)
        if target.type == "private":
            target.started = True
        if thread_id is not None and target.is_forum and thread_id not in target.topics:
            raise AssertionError(f"No forum topic {thread_id} in chat {target.id}")
        message = target._new_message(
            from_bot=False,
            sender=self,
            kind=kind,
            text=text,
            raw_text=text,
            entities=entities or [],
            file=file,
            sent_as=file.data if file else None,
            extra=extra or {},
            message_thread_id=thread_id,
            reply_to=reply_to,
        )
        target._mark_user_action()
        self.server._push_update("message", message.to_api())
        return message

    def _callback(self, chat: FakeChat, message: FakeMessage, data: str) -> FakeCallbackQuery:
        self._check_can_act(chat)
        server = self.server
        query = FakeCallbackQuery(
            id=server._next_callback_query_id(),
            user=self,
            message=message,
            data=data,
            created_at=server.clock.now(),
        )
        server.callback_queries[query.id] = query
        self.callback_queries.append(query)
        chat._mark_user_action()
        server._push_update(
            "callback_query",
            {
                "id": query.id,
                "from": self.to_api(),
                "message": message.to_api(),
                "chat_instance": str((chat.id * 7919 + 104729) % (2**62)),
                "data": data,
            },
        )
        return query

    def _push_my_chat_member(self, *, old: str, new: str) -> None:
        def member(status: str) -> JsonDict:
            data: JsonDict = {"status": status, "user": self.server.bot_user_json()}
            if status == "kicked":
                data["until_date"] = 0
            return data

        self.chat._mark_user_action()
        self.server._push_update(
            "my_chat_member",
            {
                "chat": self.chat.to_api(),
                "from": self.to_api(),
                "date": self.server.clock.timestamp(),
                "old_chat_member": member(old),
                "new_chat_member": member(new),
            },
        )


# ---------------------------------------------------------------------------
# Records
# ---------------------------------------------------------------------------


class ApiCall(NamedTuple):
    """One request the bot made: ``(method, params)`` (params JSON-decoded)."""

    method: str
    params: dict[str, Any]


class ApiErrorRecord(NamedTuple):
    """One error answer the fake gave. ``injected`` marks fail_next() faults."""

    method: str
    params: dict[str, Any]
    error_code: int
    description: str
    injected: bool = False


@dataclass
class _Fault:
    method: str  # lower-case, or "*"
    error: ApiError
    times: int
    chat_id: int | str | None


@dataclass
class _QueuedUpdate:
    update_id: int
    type: str
    payload: JsonDict
    delivered: bool = False


@dataclass
class _Webhook:
    url: str
    secret_token: str | None
    max_connections: int
    last_error_date: int | None = None
    last_error_message: str | None = None


@dataclass
class _RateLimits:
    per_chat_per_second: int | None
    per_group_per_minute: int | None
    global_per_second: int | None


@dataclass
class _OkResult:
    """A successful result with a ``description`` (e.g. "Webhook was set")."""

    result: Any
    description: str


# ---------------------------------------------------------------------------
# Method registry
# ---------------------------------------------------------------------------

ApiHandler = Callable[["FakeTelegramServer", Params], Awaitable[Any]]
_API_METHODS: dict[str, tuple[str, ApiHandler]] = {}


def api_method(name: str) -> Callable[[ApiHandler], ApiHandler]:
    """Register a Bot API method handler (method names are case-insensitive)."""

    def register(handler: ApiHandler) -> ApiHandler:
        _API_METHODS[name.lower()] = (name, handler)
        return handler

    return register


_dumps = functools.partial(json.dumps, ensure_ascii=False)

# The HTTP request being handled (None for methods run from a webhook reply).
_current_request: ContextVar[web.Request | None] = ContextVar("_current_request", default=None)


def _client_gone() -> bool:
    request = _current_request.get()
    if request is None:
        return False
    transport = request.transport
    return transport is None or transport.is_closing()


def _looks_like_image(data: bytes) -> bool:
    return data.startswith((b"\xff\xd8\xff", b"\x89PNG", b"GIF8", b"BM")) or (
        data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    )


class LocalAiohttpSession(AiohttpSession):
    """aiogram's real AiohttpSession, minus the 250 ms sleep in ``close()``.

    Requests are built and parsed by the unchanged aiogram code; the sleep only
    lets SSL connections shut down, and the fake speaks plain HTTP on localhost.
    """

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()


# ---------------------------------------------------------------------------
# The server
# ---------------------------------------------------------------------------


class FakeTelegramServer:
    """An in-process fake of api.telegram.org for one bot token."""

    def __init__(
        self,
        token: str = "123456:TEST",
        bot_username: str = "family_window_bot",
        *,
        bot_first_name: str = "Семейное окно",
        clock: FakeClock | None = None,
        validate_images: bool = True,
        webhook_retry_delays: tuple[float, ...] = (0.05, 0.1, 0.2),
        webhook_timeout: float = 10.0,
    ) -> None:
        bot_id, sep, secret = token.partition(":")
        if not sep or not bot_id.isdigit() or not secret:
            raise ValueError(f"invalid bot token {token!r}")
        self.token = token
        self.bot_id = int(bot_id)
        self.bot_username = bot_username
        self.bot_first_name = bot_first_name
        self.clock = clock or FakeClock()
        self.validate_images = validate_images
        self.webhook_retry_delays = webhook_retry_delays
        self.webhook_timeout = webhook_timeout

        self.calls: list[ApiCall] = []
        self.errors: list[ApiErrorRecord] = []
        self.updates: list[JsonDict] = []  # every update ever created, in order
        self.dropped_updates: list[tuple[str, JsonDict]] = []  # filtered out by allowed_updates
        self.webhook_failures: list[tuple[JsonDict, str]] = []  # updates given up after retries
        self.chats: dict[int, FakeChat] = {}
        self.users: dict[int, FakeUser] = {}
        self.files: dict[str, FakeFile] = {}
        self.callback_queries: dict[str, FakeCallbackQuery] = {}
        self.commands: dict[
            tuple[str, str], list[JsonDict]
        ] = {}  # (scope JSON, language) -> commands
        self.bot_settings: dict[str, Any] = {}  # setMyDescription & co.
        self.logged_out = False

        self._methods: dict[str, tuple[str, ApiHandler]] = dict(_API_METHODS)
        self._pending: list[_QueuedUpdate] = []
        self._next_update_id = 1000
        self._allowed_updates: frozenset[str] | None = None  # None = real default set
        self._poll_generation = 0
        self._webhook: _Webhook | None = None
        self._webhook_task: asyncio.Task[None] | None = None
        self._delivering = False
        self._faults: list[_Fault] = []
        self._rate_limits: _RateLimits | None = None
        self._rate_windows: dict[tuple[str, int], deque[float]] = {}
        self._inflight = 0
        # Set by a test to the bot's count of updates still being handled:
        # the API alone cannot tell "done" from "busy without calling us".
        self.bot_busy: Callable[[], int] | None = None
        self._last_activity = time.monotonic()
        self._changed = asyncio.Event()
        self._file_counter = 0
        self._callback_counter = 0
        self._files_by_path: dict[str, FakeFile] = {}
        self._runner: web.AppRunner | None = None
        self._closing = False
        self.port: int | None = None

    # -- lifecycle --------------------------------------------------------

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise RuntimeError("FakeTelegramServer is not started")
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        """Listen on 127.0.0.1 on a free port (see ``base_url``)."""
        if self._runner is not None:
            return
        self._closing = False
        app = web.Application(client_max_size=MAX_UPLOAD_BYTES + 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_route("GET", "/file/bot{token}/{path:.+}", self._handle_file)
        app.router.add_route("*", "/{tail:.*}", self._handle_unknown)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        site = web.SockSite(runner, sock)
        await site.start()
        self.port = int(sock.getsockname()[1])
        self._runner = runner

    async def stop(self) -> None:
        """Stop listening; pending long polls return, webhook delivery stops."""
        self._closing = True
        self._notify()
        task, self._webhook_task = self._webhook_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

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

    def create_bot(self, *, fast_close: bool = True, **bot_kwargs: Any) -> Bot:
        """A real aiogram ``Bot`` pointed at this server; ``await bot.session.close()`` when done.

        ``fast_close`` uses :class:`LocalAiohttpSession` (no 250 ms sleep on close).
        """
        from aiogram import Bot
        from aiogram.client.telegram import TelegramAPIServer

        session_class = LocalAiohttpSession if fast_close else AiohttpSession
        session = session_class(api=TelegramAPIServer.from_base(self.base_url))
        return Bot(token=self.token, session=session, **bot_kwargs)

    # -- test-facing setup ------------------------------------------------

    def user(
        self,
        user_id: int = 1001,
        first_name: str = "Мария",
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "ru",
        is_premium: bool = False,
        started: bool = True,
    ) -> FakeUser:
        """Get or create a fake user and their private chat (chat id == user id).

        ``started=False`` models a user who never opened the bot: sends to them
        fail with 403 "bot can't initiate conversation with a user" until they
        write.
        """
        existing = self.users.get(user_id)
        if existing is not None:
            return existing
        if user_id <= 0:
            raise ValueError("user ids are positive")
        if user_id in self.chats:
            raise ValueError(f"chat id {user_id} is already used")
        user = FakeUser(
            self,
            user_id,
            first_name,
            last_name=last_name,
            username=username,
            language_code=language_code,
            is_premium=is_premium,
        )
        user.chat.started = started
        self.users[user_id] = user
        self.chats[user_id] = user.chat
        return user

    def create_supergroup(
        self,
        chat_id: int,
        title: str,
        is_forum: bool = True,
        *,
        username: str | None = None,
        bot_is_admin: bool = True,
    ) -> FakeChat:
        """Create a supergroup (optionally a forum) the bot is a member/admin of."""
        if chat_id >= 0:
            raise ValueError("supergroup ids are negative, e.g. -1001234567890")
        if chat_id in self.chats:
            raise ValueError(f"chat id {chat_id} is already used")
        chat = FakeChat(
            self,
            chat_id,
            "supergroup",
            title=title,
            username=username,
            is_forum=is_forum,
            bot_is_admin=bot_is_admin,
        )
        self.chats[chat_id] = chat
        return chat

    def chat(self, chat_id: int) -> FakeChat:
        return self.chats[chat_id]

    def fail_next(
        self,
        method: str,
        error_code: int = 429,
        description: str | None = None,
        retry_after: int | None = 1,
        times: int = 1,
        *,
        chat_id: int | str | None = None,
    ) -> None:
        """Make the next ``times`` calls of ``method`` ("*" = any but getUpdates) fail.

        ``retry_after`` is only sent with 429 (as the real API does); the
        default description for 429 is "Too Many Requests: retry after N".
        ``chat_id`` restricts the fault to calls for that chat.
        """
        if error_code == 429 and retry_after is None:
            retry_after = 1
        if description is None:
            defaults = {
                400: "Bad Request",
                401: "Unauthorized",
                403: "Forbidden",
                404: "Not Found",
                409: "Conflict",
                429: f"Too Many Requests: retry after {retry_after}",
                500: "Internal Server Error",
                502: "Bad Gateway",
            }
            description = defaults.get(error_code, "Error")
        error = ApiError(
            error_code, description, retry_after=retry_after if error_code == 429 else None
        )
        self._faults.append(_Fault(method.lower(), error, times, chat_id))

    def rate_limit(
        self,
        per_chat_per_second: int | None = 1,
        per_group_per_minute: int | None = 20,
        global_per_second: int | None = 30,
        *,
        enabled: bool = True,
    ) -> None:
        """Enforce Telegram's flood limits on send methods (429 + retry_after).

        Windows use the fake clock, so ``server.clock.advance(1)`` lets the bot
        continue without real sleeping. ``enabled=False`` turns it off again.
        """
        self._rate_windows.clear()
        self._rate_limits = (
            _RateLimits(per_chat_per_second, per_group_per_minute, global_per_second)
            if enabled
            else None
        )

    def add_method(self, name: str, handler: ApiHandler) -> None:
        """Add/override a method for this server instance only."""
        self._methods[name.lower()] = (name, handler)

    def push_update(self, update_type: str, payload: JsonDict) -> int | None:
        """Escape hatch: enqueue an arbitrary update; returns its update_id."""
        return self._push_update(update_type, payload)

    # -- test-facing inspection -------------------------------------------

    def calls_to(self, method: str) -> list[dict[str, Any]]:
        """Params of every call to ``method`` (case-insensitive), in order."""
        return [call.params for call in self.calls if call.method.lower() == method.lower()]

    async def wait_until(
        self, predicate: Callable[[], bool], timeout: float = 5.0, what: str = "condition"
    ) -> None:
        """Wait until ``predicate()`` is true (re-checked on every fake state change).

        E.g. ``await server.wait_until(lambda: greeting.edited, what="greeting edited")``.
        """
        if not await self._wait_until(predicate, timeout):
            raise AssertionError(f"Timed out after {timeout}s waiting for {what}")

    async def wait_for_call(
        self, method: str, *, count: int = 1, timeout: float = 5.0
    ) -> dict[str, Any]:
        """Wait until ``method`` was called ``count`` times; returns that call's params."""
        ok = await self._wait_until(lambda: len(self.calls_to(method)) >= count, timeout)
        if not ok:
            made = [call.method for call in self.calls]
            raise AssertionError(
                f"{method} was not called {count} time(s) within {timeout}s; calls: {made}"
            )
        return self.calls_to(method)[count - 1]

    @property
    def pending_update_count(self) -> int:
        return len(self._pending)

    @property
    def webhook_url(self) -> str | None:
        return self._webhook.url if self._webhook else None

    def get_commands(
        self, scope: JsonDict | None = None, language_code: str = ""
    ) -> list[JsonDict]:
        return self.commands.get((_scope_key(scope), language_code), [])

    def assert_no_errors(self, *, allow: tuple[str, ...] = ()) -> None:
        """Fail if the fake answered any bot call with an error.

        Injected faults are ignored; ``allow`` lists description substrings
        that are acceptable (e.g. "message is not modified").
        """
        bad = [
            e
            for e in self.errors
            if not e.injected and not any(fragment in e.description for fragment in allow)
        ]
        if bad:
            lines = "\n".join(
                f"  {e.method} {e.params}: {e.error_code} {e.description}" for e in bad
            )
            raise AssertionError(f"The bot made {len(bad)} invalid Bot API call(s):\n{lines}")

    async def wait_idle(self, quiet: float = 0.3, timeout: float = 5.0) -> None:
        """Wait until all updates were fetched and the bot made no call for ``quiet`` s."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            reason = self._busy_reason()
            now = loop.time()
            if reason is None:
                quiet_for = time.monotonic() - self._last_activity
                if quiet_for >= quiet:
                    return
                wait = quiet - quiet_for
            else:
                # The bot's own work changes nothing here, so look again soon.
                wait = 0.02
            if now >= deadline:
                raise AssertionError(
                    f"The bot did not become idle within {timeout}s: "
                    f"{reason or 'it keeps making API calls'}"
                )
            changed = self._changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), timeout=max(0.0, min(wait, deadline - now)))

    # -- update queue -----------------------------------------------------

    def _push_update(self, update_type: str, payload: JsonDict) -> int | None:
        allowed = self._allowed_updates
        if (allowed is None and update_type in _DEFAULT_EXCLUDED_UPDATES) or (
            allowed is not None and update_type not in allowed
        ):
            # The real API does not even store updates of unwanted types.
            self.dropped_updates.append((update_type, payload))
            log.info("fake telegram: dropped %s update (allowed_updates=%s)", update_type, allowed)
            return None
        update_id = self._next_update_id
        self._next_update_id += 1
        update = {"update_id": update_id, update_type: payload}
        self.updates.append(update)
        self._pending.append(_QueuedUpdate(update_id, update_type, update))
        self._touch()
        self._notify()
        return update_id

    def _set_allowed_updates(self, value: Any) -> None:
        if value is None:
            return  # not specified: keep the previous setting, like the real API
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ApiError.bad_request("can't parse allowed updates JSON object")  # (fake) wording
        self._allowed_updates = frozenset(value) if value else None

    # -- notifications / idleness -----------------------------------------

    def _notify(self) -> None:
        """Wake everything waiting for a state change."""
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def _touch(self) -> None:
        self._last_activity = time.monotonic()

    async def _wait_until(self, predicate: Callable[[], bool], timeout: float | None) -> bool:
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            changed = self._changed
            if predicate():
                return True
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), timeout=remaining)

    def _busy_reason(self) -> str | None:
        if self._inflight:
            return f"{self._inflight} API request(s) still in progress"
        undelivered = [u for u in self._pending if not u.delivered]
        if undelivered:
            kinds = sorted({u.type for u in undelivered})
            return (
                f"{len(undelivered)} update(s) {kinds} were never fetched by the bot "
                "(is it polling, or is a webhook set?)"
            )
        if self._delivering:
            return "a webhook delivery is in progress"
        handling = self.bot_busy() if self.bot_busy is not None else 0
        if handling:
            return f"the bot is still handling {handling} update(s)"
        return None

    # -- HTTP layer ---------------------------------------------------------

    async def _handle_api(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        method = request.match_info["method"]
        if token != self.token:
            error = ApiError(401, "Unauthorized")
            self._record_error(method, {}, error)
            return self._error_response(error)
        try:
            params = await self._read_params(request)
        except ApiError as api_error:
            self._record_error(method, {}, api_error)
            return self._error_response(api_error)
        except Exception as exc:  # odd input must never crash the fake
            log.warning("fake telegram: can't read %s request body: %r", method, exc)
            bad_body = ApiError.bad_request("can't parse request body")  # (fake)
            self._record_error(method, {}, bad_body)
            return self._error_response(bad_body)
        context_token = _current_request.set(request)
        try:
            status, body = await self._dispatch(method, params)
        finally:
            _current_request.reset(context_token)
        return web.json_response(body, status=status, dumps=_dumps)

    async def _read_params(self, request: web.Request) -> Params:
        raw: dict[str, Any] = dict(request.query)
        files: dict[str, UploadedFile] = {}
        if request.method == "POST" and request.can_read_body:
            content_type = request.content_type
            if content_type == "application/json":
                body = await request.json()
                if not isinstance(body, dict):
                    raise ApiError.bad_request("parameters must be a JSON object")  # (fake)
                raw.update(body)
            elif content_type == "multipart/form-data":
                await self._read_multipart(await request.multipart(), raw, files)
            elif content_type == "application/x-www-form-urlencoded":
                form = await request.post()
                raw.update({key: value for key, value in form.items() if isinstance(value, str)})
            else:
                log.warning("fake telegram: unexpected content type %r", content_type)
        for upload in files.values():
            if len(upload.data) > MAX_UPLOAD_BYTES:
                raise ApiError(413, "Request Entity Too Large")
        return Params(_decode_params(raw), files)

    @staticmethod
    async def _read_multipart(
        reader: Any, raw: dict[str, Any], files: dict[str, UploadedFile]
    ) -> None:
        """Collect fields and file parts (``reader``: request or response multipart reader)."""
        while True:
            part = await reader.next()
            if part is None:
                break
            if not isinstance(part, BodyPartReader) or part.name is None:
                continue
            if part.filename is not None:
                upload = UploadedFile(
                    part.filename,
                    bytes(await part.read(decode=True)),
                    part.headers.get("Content-Type"),
                )
                files[part.name] = upload
                raw[part.name] = upload
            else:
                raw[part.name] = await part.text()

    def _error_response(self, error: ApiError) -> web.Response:
        return web.json_response(error.to_json(), status=error.error_code, dumps=_dumps)

    async def _handle_file(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response(
                ApiError(401, "Unauthorized").to_json(), status=401, dumps=_dumps
            )
        file = self._files_by_path.get(request.match_info["path"])
        if file is None or file.data is None:
            return web.json_response(ApiError(404, "Not Found").to_json(), status=404, dumps=_dumps)
        return web.Response(
            body=file.data, content_type=file.mime_type or "application/octet-stream"
        )

    async def _handle_unknown(self, request: web.Request) -> web.Response:
        log.warning("fake telegram: unexpected request %s %s", request.method, request.path)
        error = ApiError(404, "Not Found")
        self._record_error(request.path, {}, error)
        return self._error_response(error)

    async def _dispatch(self, method: str, params: Params) -> tuple[int, JsonDict]:
        """Run one API method; returns (HTTP status, JSON body). Never raises."""
        spec = self._methods.get(method.lower())
        name = spec[0] if spec else method
        self.calls.append(ApiCall(name, params.values))
        self._notify()
        if spec is None:
            log.warning("fake telegram: unknown method %r %s", method, params.values)
            error = ApiError(404, "Not Found: method not found")
            self._record_error(name, params.values, error)
            return error.error_code, error.to_json()
        counts_as_activity = name != "getUpdates"
        if counts_as_activity:
            self._inflight += 1
            self._touch()
            self._notify()
        injected = False
        try:
            fault = self._take_fault(name, params)
            if fault is not None:
                injected = True
                raise fault
            self._check_rate_limit(name, params)
            result = await spec[1](self, params)
        except ApiError as api_error:
            self._record_error(name, params.values, api_error, injected=injected)
            return api_error.error_code, api_error.to_json()
        except Exception:  # a bug in the fake must not kill the server
            log.exception("fake telegram: internal error in %s %s", name, params.values)
            internal = ApiError(500, "Internal Server Error: fake Telegram server bug (see log)")
            self._record_error(name, params.values, internal)
            return internal.error_code, internal.to_json()
        finally:
            if counts_as_activity:
                self._inflight -= 1
                self._touch()
                self._notify()
        if isinstance(result, _OkResult):
            return 200, {"ok": True, "result": result.result, "description": result.description}
        return 200, {"ok": True, "result": result}

    def _record_error(
        self, method: str, params: dict[str, Any], error: ApiError, *, injected: bool = False
    ) -> None:
        self.errors.append(
            ApiErrorRecord(method, params, error.error_code, error.description, injected)
        )
        if not injected:
            log.info("fake telegram: %s -> %s %s", method, error.error_code, error.description)

    def _take_fault(self, method: str, params: Params) -> ApiError | None:
        lowered = method.lower()
        for fault in self._faults:
            if fault.method == "*" and lowered == "getupdates":
                continue
            if fault.method not in ("*", lowered):
                continue
            if fault.chat_id is not None and params.raw("chat_id") not in (
                fault.chat_id,
                str(fault.chat_id),
            ):
                continue
            fault.times -= 1
            if fault.times <= 0:
                self._faults.remove(fault)
            return fault.error
        return None

    def _check_rate_limit(self, method: str, params: Params) -> None:
        limits = self._rate_limits
        if limits is None or method.lower() not in _RATE_LIMITED_METHODS:
            return
        chat_id = params.raw("chat_id")
        now = self.clock.now()
        checks: list[tuple[tuple[str, int], int, float]] = []
        if limits.global_per_second:
            checks.append((("global", 0), limits.global_per_second, 1.0))
        if isinstance(chat_id, int) and not isinstance(chat_id, bool):
            if chat_id < 0 and limits.per_group_per_minute:
                checks.append((("group", chat_id), limits.per_group_per_minute, 60.0))
            elif chat_id > 0 and limits.per_chat_per_second:
                checks.append((("chat", chat_id), limits.per_chat_per_second, 1.0))
        for key, limit, window in checks:
            timestamps = self._rate_windows.setdefault(key, deque())
            while timestamps and timestamps[0] <= now - window:
                timestamps.popleft()
            if len(timestamps) >= limit:
                retry_after = max(1, math.ceil(timestamps[0] + window - now))
                raise ApiError(
                    429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after
                )
        for key, _, _ in checks:
            self._rate_windows[key].append(now)

    # -- helpers for method handlers --------------------------------------

    def bot_user_json(self) -> JsonDict:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }

    def _resolve_chat(self, params: Params, name: str = "chat_id") -> FakeChat:
        chat_id = params.get_chat_id(name)
        if isinstance(chat_id, int):
            chat = self.chats.get(chat_id)
        else:
            username = chat_id.removeprefix("@").lower()
            chat = next(
                (
                    c
                    for c in self.chats.values()
                    if c.type != "private" and (c.username or "").lower() == username
                ),
                None,
            )
        if chat is None:
            raise ApiError.bad_request("chat not found")
        return chat

    def _chat_for_sending(self, params: Params, name: str = "chat_id") -> FakeChat:
        """Resolve the target chat and check that the bot may write there."""
        chat = self._resolve_chat(params, name)
        if chat.type == "private":
            if chat.deactivated:
                raise ApiError.forbidden("user is deactivated")
            if chat.blocked:
                raise ApiError.forbidden("bot was blocked by the user")
            if not chat.started:
                raise ApiError.forbidden("bot can't initiate conversation with a user")
        return chat

    def _thread_for_sending(self, chat: FakeChat, params: Params) -> int | None:
        thread_id = params.get_int("message_thread_id")
        if thread_id is None or not chat.is_forum:
            return None  # outside forums the parameter is ignored here
        topic = chat.topics.get(thread_id)
        if topic is None or topic.deleted:
            raise ApiError.bad_request("message thread not found")
        if topic.closed and not chat.bot_is_admin:
            raise ApiError.bad_request("TOPIC_CLOSED")
        return thread_id

    def _reply_target(self, chat: FakeChat, params: Params) -> FakeMessage | None:
        reply_parameters = params.get_json(
            "reply_parameters", error="can't parse reply parameters JSON object"
        )
        allow_missing = params.get_bool("allow_sending_without_reply")
        message_id: Any = params.get_int("reply_to_message_id")
        if isinstance(reply_parameters, dict):
            message_id = reply_parameters.get("message_id")
            allow_missing = bool(reply_parameters.get("allow_sending_without_reply", allow_missing))
        if message_id is None:
            return None
        target = chat.get_message(message_id) if isinstance(message_id, int) else None
        if target is None or target.deleted:
            if allow_missing:
                return None
            raise ApiError.bad_request("message to be replied not found")
        return target

    def _formatted(
        self, params: Params, name: str, limit: int, *, required: bool
    ) -> tuple[str | None, str | None, list[JsonDict], str | None]:
        """Validate a text/caption param -> (raw, plain, entities, parse_mode)."""
        raw = params.get_str(name)
        kind = "text" if name == "text" else "caption"
        if raw is None or raw == "":
            if required:
                raise ApiError.bad_request("message text is empty")
            return None, None, [], None
        parse_mode = params.get_str("parse_mode")
        entities_key = "entities" if name == "text" else "caption_entities"
        explicit = params.get_json(entities_key, error="can't parse entities JSON object")
        if explicit is not None and (
            not isinstance(explicit, list)
            or not all(
                isinstance(e, dict)
                and isinstance(e.get("offset"), int)
                and isinstance(e.get("length"), int)
                for e in explicit
            )
        ):
            raise ApiError.bad_request("can't parse entities JSON object")  # (fake) wording
        plain, entities = format_text(raw, parse_mode or None, explicit)
        if not plain:
            if required:
                raise ApiError.bad_request("message text is empty")
            return raw, None, [], parse_mode
        if len(plain) > limit:
            raise ApiError.bad_request(
                "message is too long" if kind == "text" else "message caption is too long"
            )
        return raw, plain, entities, parse_mode

    def _bot_message(
        self, chat: FakeChat, markup: ParsedMarkup | None, **fields: Any
    ) -> FakeMessage:
        """Record a new bot message and apply its reply markup to the chat."""
        message = chat._new_message(from_bot=True, **fields)
        if markup is not None:
            if markup.kind == "inline":
                message.inline_keyboard = markup.inline_rows or None
            elif markup.kind == "reply":
                message.reply_keyboard = [[b["text"] for b in row] for row in markup.reply_rows]
                chat.reply_keyboard = markup.reply_rows
            elif markup.kind == "remove":
                chat.reply_keyboard = None
            elif markup.kind == "force_reply":
                message.force_reply = True
        self._notify()
        return message

    def _register_file(
        self,
        kind: str,
        *,
        data: bytes | None = None,
        url: str | None = None,
        file_name: str | None = None,
        mime_type: str | None = None,
        width: int = 0,
        height: int = 0,
        duration: int = 0,
    ) -> FakeFile:
        self._file_counter += 1
        number = self._file_counter
        file_id = f"{_FILE_ID_PREFIXES.get(kind, 'BQACAgIAAxkBAAI')}{number:08d}fake"
        extension = {
            "photo": "jpg",
            "voice": "oga",
            "sticker": "webp",
            "video_note": "mp4",
            "video": "mp4",
        }.get(kind, (file_name or "").rpartition(".")[2] or "bin")
        file = FakeFile(
            file_id=file_id,
            file_unique_id=f"AQAD{number:08d}",
            kind=kind,
            data=data,
            url=url,
            file_name=file_name,
            mime_type=mime_type or (mimetypes.guess_type(file_name)[0] if file_name else None),
            width=width,
            height=height,
            duration=duration,
            file_path=f"{kind}s/file_{number}.{extension}",
            thumb_file_id=f"{file_id}T" if kind == "photo" else "",
        )
        self.files[file.file_id] = file
        if file.thumb_file_id:
            self.files[file.thumb_file_id] = file
        self._files_by_path[file.file_path] = file
        return file

    def _input_file(self, value: UploadedFile | str, kind: str) -> tuple[FakeFile, bytes | str]:
        """Resolve an upload / file_id / URL to a FakeFile; returns (file, how it was sent)."""
        if isinstance(value, UploadedFile):
            if not value.data:
                raise ApiError.bad_request("file must be non-empty")
            if kind == "photo" and self.validate_images and not _looks_like_image(value.data):
                raise ApiError.bad_request("IMAGE_PROCESS_FAILED")
            file = self._register_file(
                kind,
                data=value.data,
                file_name=value.filename if kind != "photo" else None,
                mime_type=value.content_type
                if value.content_type != "application/octet-stream"
                else None,
                width=1280 if kind == "photo" else 0,
                height=960 if kind == "photo" else 0,
            )
            return file, value.data
        known = self.files.get(value)
        if known is not None:
            if known.kind != kind:
                raise ApiError.bad_request(
                    f"can't use file of type {known.kind.replace('_', ' ').title()} as "
                    f"{kind.replace('_', ' ').title()}"
                )
            return known, value
        parts = urlsplit(value)
        if parts.scheme in ("http", "https") and parts.netloc:
            return self._register_file(kind, url=value, width=1280, height=960), value
        raise ApiError.bad_request("wrong file identifier/HTTP URL specified")

    def _next_callback_query_id(self) -> str:
        self._callback_counter += 1
        return str(4_382_000_000_000_000_000 + self._callback_counter)

    def _editable_message(self, params: Params) -> tuple[FakeChat, FakeMessage]:
        if "inline_message_id" in params:
            raise ApiError.bad_request("MESSAGE_ID_INVALID")  # inline messages are not modelled
        chat = self._chat_for_sending(params)
        message_id = params.get_int("message_id", missing="message identifier is not specified")
        assert message_id is not None
        message = chat.get_message(message_id)
        if message is None or message.deleted:
            raise ApiError.bad_request("message to edit not found")
        if not message.from_bot or message.kind == "service":
            raise ApiError.bad_request("message can't be edited")
        return chat, message

    @staticmethod
    def _inline_markup_for_edit(params: Params) -> list[list[JsonDict]] | None:
        markup = parse_reply_markup(params.raw("reply_markup"))
        if markup is None:
            return None
        if markup.kind != "inline":
            raise ApiError.bad_request("inline keyboard expected")  # (fake) wording
        return markup.inline_rows or None

    @staticmethod
    def _not_modified() -> ApiError:
        return ApiError.bad_request(
            "message is not modified: specified new message content and reply markup "
            "are exactly the same as a current content and reply markup of the message"
        )

    # -- webhook delivery ---------------------------------------------------

    def _ensure_webhook_task(self) -> None:
        if self._webhook_task is None or self._webhook_task.done():
            self._webhook_task = asyncio.get_running_loop().create_task(self._webhook_loop())

    async def _webhook_loop(self) -> None:
        session = ClientSession()
        try:
            while not self._closing and self._webhook is not None:
                if not self._pending:
                    await self._wait_until(
                        lambda: bool(self._pending) or self._webhook is None or self._closing,
                        timeout=None,
                    )
                    continue
                update = self._pending[0]
                self._delivering = True
                try:
                    await self._deliver(session, update)
                finally:
                    self._delivering = False
                if self._pending and self._pending[0] is update:
                    self._pending.pop(0)
                self._touch()
                self._notify()
        finally:
            await session.close()

    async def _deliver(self, session: ClientSession, update: _QueuedUpdate) -> None:
        """POST one update to the webhook, retrying a few times on failure."""
        body = _dumps(update.payload).encode("utf-8")
        error = "unknown error"
        for attempt in range(len(self.webhook_retry_delays) + 1):
            hook = self._webhook
            if hook is None or self._closing:
                return
            headers = {"Content-Type": "application/json"}
            if hook.secret_token:
                headers[SECRET_HEADER] = hook.secret_token
            try:
                async with session.post(
                    hook.url,
                    data=body,
                    headers=headers,
                    timeout=ClientTimeout(total=self.webhook_timeout),
                ) as response:
                    if 200 <= response.status < 300:
                        update.delivered = True
                        await self._run_webhook_reply(response)
                        return
                    error = f"Wrong response from the webhook: {response.status} {response.reason}"
            except TimeoutError:
                error = "Read timeout expired"
            except ClientError as exc:
                error = f"Connection failed: {exc}"
            hook.last_error_date = self.clock.timestamp()
            hook.last_error_message = error
            log.warning(
                "fake telegram: webhook delivery of update %s failed: %s", update.update_id, error
            )
            if attempt < len(self.webhook_retry_delays):
                await asyncio.sleep(self.webhook_retry_delays[attempt])
        update.delivered = True  # given up: the real API also drops it eventually
        self.webhook_failures.append((update.payload, error))

    async def _run_webhook_reply(self, response: ClientResponse) -> None:
        """Execute a method the bot returned in the webhook response body."""
        raw: dict[str, Any] = {}
        files: dict[str, UploadedFile] = {}
        try:
            if response.content_type == "application/json":
                body = await response.json(content_type=None)
                if not isinstance(body, dict):
                    return
                raw.update(body)
            elif response.content_type.startswith("multipart/"):
                await self._read_multipart(MultipartReader.from_response(response), raw, files)
            else:
                return
        except Exception as exc:  # a broken reply must not kill delivery
            log.warning("fake telegram: can't parse webhook response: %r", exc)
            return
        method = raw.pop("method", None)
        if isinstance(method, str) and method:
            await self._dispatch(method, Params(_decode_params(raw), files))

    # =====================================================================
    # Bot API methods. Add more with @api_method("name").
    # =====================================================================

    @api_method("getMe")
    async def _api_get_me(self, p: Params) -> Any:
        return {
            **self.bot_user_json(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    @api_method("logOut")
    async def _api_log_out(self, p: Params) -> Any:
        self.logged_out = True
        return True

    @api_method("close")
    async def _api_close(self, p: Params) -> Any:
        return True

    @api_method("getUpdates")
    async def _api_get_updates(self, p: Params) -> Any:
        if self._webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = p.get_int("offset") or 0
        limit = min(max(p.get_int("limit") or 100, 1), 100)
        timeout = max(p.get_int("timeout") or 0, 0)
        self._set_allowed_updates(
            p.get_json("allowed_updates", error="can't parse allowed updates JSON object")
        )

        # Confirm: updates below `offset` are forgotten; a negative offset keeps the last -offset.
        if offset > 0:
            self._pending = [u for u in self._pending if u.update_id >= offset]
        elif offset < 0:
            self._pending = self._pending[offset:]

        # A newer getUpdates request terminates an older pending one (409), as in the real API.
        self._poll_generation += 1
        generation = self._poll_generation
        self._notify()
        await self._wait_until(
            lambda: (
                bool(self._pending)
                or generation != self._poll_generation
                or self._webhook is not None
                or self._closing
            ),
            timeout=timeout,
        )
        if generation != self._poll_generation:
            raise ApiError(
                409,
                "Conflict: terminated by other getUpdates request; "
                "make sure that only one bot instance is running",
            )
        if self._webhook is not None:
            raise ApiError(409, "Conflict: terminated by setWebhook request")
        if self._closing or _client_gone():
            # E.g. the dispatcher stopped polling: its long poll must not swallow updates.
            return []
        batch = self._pending[:limit]
        for update in batch:
            update.delivered = True
        if batch:
            self._touch()
            self._notify()
        return [update.payload for update in batch]

    @api_method("setWebhook")
    async def _api_set_webhook(self, p: Params) -> Any:
        url = p.get_str("url") or ""
        if not url:
            return self._delete_webhook(drop_pending_updates=p.get_bool("drop_pending_updates"))
        parts = urlsplit(url)
        local = parts.hostname in ("127.0.0.1", "localhost", "::1")
        if parts.scheme == "https" and parts.netloc:
            if not local and parts.port not in (None, 80, 88, 443, 8443):
                raise ApiError.bad_request(
                    "bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443"
                )
        elif not (
            parts.scheme == "http" and local
        ):  # plain http is allowed for local test receivers only
            raise ApiError.bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        secret = p.get_str("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise ApiError.bad_request("secret token contains unallowed characters")
        max_connections = p.get_int("max_connections") or 40
        if not 1 <= max_connections <= 100:
            raise ApiError.bad_request(
                "bad webhook: max_connections must be between 1 and 100"
            )  # (fake)
        self._set_allowed_updates(
            p.get_json("allowed_updates", error="can't parse allowed updates JSON object")
        )
        if p.get_bool("drop_pending_updates"):
            self._pending.clear()
        same = (
            self._webhook is not None
            and self._webhook.url == url
            and self._webhook.secret_token == secret
        )
        self._webhook = _Webhook(url, secret, max_connections)
        self._notify()  # terminates a pending getUpdates with 409
        self._ensure_webhook_task()
        return _OkResult(True, "Webhook is already set" if same else "Webhook was set")

    @api_method("deleteWebhook")
    async def _api_delete_webhook(self, p: Params) -> Any:
        return self._delete_webhook(drop_pending_updates=p.get_bool("drop_pending_updates"))

    def _delete_webhook(self, *, drop_pending_updates: bool) -> _OkResult:
        if drop_pending_updates:
            self._pending.clear()
        had_webhook = self._webhook is not None
        self._webhook = None
        self._notify()
        return _OkResult(
            True, "Webhook was deleted" if had_webhook else "Webhook is already deleted"
        )

    @api_method("getWebhookInfo")
    async def _api_get_webhook_info(self, p: Params) -> Any:
        hook = self._webhook
        info: JsonDict = {
            "url": hook.url if hook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }
        if hook is not None:
            info["max_connections"] = hook.max_connections
            info["ip_address"] = "127.0.0.1"
            if self._allowed_updates is not None:
                info["allowed_updates"] = sorted(self._allowed_updates)
            if hook.last_error_date is not None:
                info["last_error_date"] = hook.last_error_date
                info["last_error_message"] = hook.last_error_message
        return info

    @api_method("setMyCommands")
    async def _api_set_my_commands(self, p: Params) -> Any:
        commands = p.get_json("commands", error="can't parse commands JSON object")
        if not isinstance(commands, list):
            raise ApiError.bad_request("can't parse commands JSON object")  # (fake) wording
        if len(commands) > 100:
            raise ApiError.bad_request("too many commands")  # (fake) wording
        normalized: list[JsonDict] = []
        for command in commands:
            if not isinstance(command, dict):
                raise ApiError.bad_request("can't parse BotCommand")  # (fake) wording
            name = command.get("command")
            description = command.get("description")
            if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9_]{1,32}", name):
                raise ApiError.bad_request("BOT_COMMAND_INVALID")
            if not isinstance(description, str) or not 1 <= len(description.strip()) <= 256:
                raise ApiError.bad_request("BOT_COMMAND_DESCRIPTION_INVALID")  # (fake) wording
            normalized.append({"command": name, "description": description})
        self.commands[self._commands_key(p)] = normalized
        return True

    @api_method("getMyCommands")
    async def _api_get_my_commands(self, p: Params) -> Any:
        return self.commands.get(self._commands_key(p), [])

    @api_method("deleteMyCommands")
    async def _api_delete_my_commands(self, p: Params) -> Any:
        self.commands.pop(self._commands_key(p), None)
        return True

    def _commands_key(self, p: Params) -> tuple[str, str]:
        scope = p.get_json("scope", error="can't parse BotCommandScope JSON object")
        if scope is not None and (
            not isinstance(scope, dict) or scope.get("type") not in _COMMAND_SCOPES
        ):
            raise ApiError.bad_request("unsupported bot command scope type")  # (fake) wording
        if isinstance(scope, dict) and scope.get("type", "").startswith("chat"):
            fake_params = Params({"chat_id": scope.get("chat_id")})
            self._resolve_chat(fake_params)
        language = p.get_str("language_code") or ""
        if language and not re.fullmatch(r"[a-z]{2}", language):
            raise ApiError.bad_request("LANG_CODE_INVALID")  # (fake) wording
        return _scope_key(scope), language

    @api_method("setMyDescription")
    async def _api_set_my_description(self, p: Params) -> Any:
        self.bot_settings[f"description:{p.get_str('language_code') or ''}"] = (
            p.get_str("description") or ""
        )
        return True

    @api_method("setMyShortDescription")
    async def _api_set_my_short_description(self, p: Params) -> Any:
        key = f"short_description:{p.get_str('language_code') or ''}"
        self.bot_settings[key] = p.get_str("short_description") or ""
        return True

    @api_method("setChatMenuButton")
    async def _api_set_chat_menu_button(self, p: Params) -> Any:
        self.bot_settings[f"menu_button:{p.get_str('chat_id') or ''}"] = p.get_json(
            "menu_button", error="can't parse menu button JSON object"
        )
        return True

    @api_method("sendMessage")
    async def _api_send_message(self, p: Params) -> Any:
        chat = self._chat_for_sending(p)
        thread_id = self._thread_for_sending(chat, p)
        reply_to = self._reply_target(chat, p)
        raw, plain, entities, parse_mode = self._formatted(
            p, "text", MAX_TEXT_LENGTH, required=True
        )
        markup = parse_reply_markup(p.raw("reply_markup"))
        message = self._bot_message(
            chat,
            markup,
            kind="text",
            text=plain,
            raw_text=raw,
            parse_mode=parse_mode,
            entities=entities,
            message_thread_id=thread_id,
            reply_to=reply_to,
        )
        return message.to_api()

    async def _send_media(self, p: Params, kind: str) -> Any:
        """Shared implementation of sendPhoto, sendDocument, sendVoice, ..."""
        chat = self._chat_for_sending(p)
        thread_id = self._thread_for_sending(chat, p)
        reply_to = self._reply_target(chat, p)
        value = p.get_input_file(kind)
        if value is None:
            raise ApiError.bad_request(f"there is no {kind.replace('_', ' ')} in the request")
        raw: str | None = None
        plain: str | None = None
        entities: list[JsonDict] = []
        parse_mode: str | None = None
        if kind in _CAPTIONED_KINDS:
            raw, plain, entities, parse_mode = self._formatted(
                p, "caption", MAX_CAPTION_LENGTH, required=False
            )
        markup = parse_reply_markup(p.raw("reply_markup"))
        file, sent_as = self._input_file(value, kind)
        if kind in ("voice", "video", "audio", "animation", "video_note"):
            file.duration = p.get_int("duration") or file.duration
        extra: JsonDict = {}
        if kind == "sticker":
            extra["emoji"] = p.get_str("emoji") or "👍"
        message = self._bot_message(
            chat,
            markup,
            kind=kind,
            text=plain,
            raw_text=raw,
            parse_mode=parse_mode,
            entities=entities,
            file=file,
            sent_as=sent_as,
            extra=extra,
            message_thread_id=thread_id,
            reply_to=reply_to,
        )
        return message.to_api()

    @api_method("sendLocation")
    async def _api_send_location(self, p: Params) -> Any:
        chat = self._chat_for_sending(p)
        thread_id = self._thread_for_sending(chat, p)
        reply_to = self._reply_target(chat, p)
        latitude = p.raw("latitude")
        longitude = p.raw("longitude")
        if not isinstance(latitude, (int, float)) or not isinstance(longitude, (int, float)):
            raise ApiError.bad_request("wrong latitude or longitude specified")  # (fake) wording
        markup = parse_reply_markup(p.raw("reply_markup"))
        message = self._bot_message(
            chat,
            markup,
            kind="location",
            extra={"location": {"latitude": latitude, "longitude": longitude}},
            message_thread_id=thread_id,
            reply_to=reply_to,
        )
        return message.to_api()

    @api_method("sendChatAction")
    async def _api_send_chat_action(self, p: Params) -> Any:
        chat = self._chat_for_sending(p)
        thread_id = self._thread_for_sending(chat, p)
        action = p.get_str("action")
        if action not in _CHAT_ACTIONS:
            raise ApiError.bad_request("wrong parameter action in request")
        chat.chat_actions.append((action, thread_id))
        return True

    @api_method("copyMessage")
    async def _api_copy_message(self, p: Params) -> Any:
        message = await self._copy_or_forward(p, forward=False)
        return {"message_id": message.message_id}

    @api_method("forwardMessage")
    async def _api_forward_message(self, p: Params) -> Any:
        message = await self._copy_or_forward(p, forward=True)
        return message.to_api()

    async def _copy_or_forward(self, p: Params, *, forward: bool) -> FakeMessage:
        target = self._chat_for_sending(p)
        source_chat = self._resolve_chat(p, "from_chat_id")
        message_id = p.get_int("message_id", missing="message identifier is not specified")
        assert message_id is not None
        source = source_chat.get_message(message_id)
        verb = "forward" if forward else "copy"
        if source is None or source.deleted:
            raise ApiError.bad_request(f"message to {verb} not found")
        if source.kind == "service":
            raise ApiError.bad_request(f"message can't be {'forwarded' if forward else 'copied'}")
        thread_id = self._thread_for_sending(target, p)
        text, raw, entities, parse_mode = (
            source.text,
            source.raw_text,
            source.entities,
            source.parse_mode,
        )
        if not forward and "caption" in p and source.kind in _CAPTIONED_KINDS:
            raw, text, entities, parse_mode = self._formatted(
                p, "caption", MAX_CAPTION_LENGTH, required=False
            )
        markup = None if forward else parse_reply_markup(p.raw("reply_markup"))
        reply_to = None if forward else self._reply_target(target, p)
        return self._bot_message(
            target,
            markup,
            kind=source.kind,
            text=text,
            raw_text=raw,
            parse_mode=parse_mode,
            entities=list(entities),
            file=source.file,
            sent_as=source.file.file_id if source.file else None,
            extra=dict(source.extra),
            message_thread_id=thread_id,
            reply_to=reply_to,
            forward_from=source if forward else None,
        )

    @api_method("editMessageText")
    async def _api_edit_message_text(self, p: Params) -> Any:
        _, message = self._editable_message(p)
        if message.kind != "text":
            raise ApiError.bad_request("there is no text in the message to edit")
        raw, plain, entities, parse_mode = self._formatted(
            p, "text", MAX_TEXT_LENGTH, required=True
        )
        # An omitted reply_markup removes the inline keyboard (real behaviour).
        keyboard = self._inline_markup_for_edit(p)
        if (
            plain == message.text
            and entities == message.entities
            and keyboard == message.inline_keyboard
        ):
            raise self._not_modified()
        message.previous_texts.append(message.text)
        message.text, message.raw_text, message.entities, message.parse_mode = (
            plain,
            raw,
            entities,
            parse_mode,
        )
        message.inline_keyboard = keyboard
        message.edit_date = self.clock.timestamp()
        self._notify()
        return message.to_api()

    @api_method("editMessageCaption")
    async def _api_edit_message_caption(self, p: Params) -> Any:
        _, message = self._editable_message(p)
        if message.kind not in _CAPTIONED_KINDS:
            raise ApiError.bad_request("there is no caption in the message to edit")
        raw, plain, entities, parse_mode = self._formatted(
            p, "caption", MAX_CAPTION_LENGTH, required=False
        )
        keyboard = self._inline_markup_for_edit(p)
        if (
            plain == message.text
            and entities == message.entities
            and keyboard == message.inline_keyboard
        ):
            raise self._not_modified()
        message.previous_texts.append(message.text)
        message.text, message.raw_text, message.entities, message.parse_mode = (
            plain,
            raw,
            entities,
            parse_mode,
        )
        message.inline_keyboard = keyboard
        message.edit_date = self.clock.timestamp()
        self._notify()
        return message.to_api()

    @api_method("editMessageReplyMarkup")
    async def _api_edit_message_reply_markup(self, p: Params) -> Any:
        _, message = self._editable_message(p)
        keyboard = self._inline_markup_for_edit(p)
        if keyboard == message.inline_keyboard:
            raise self._not_modified()
        message.inline_keyboard = keyboard
        message.edit_date = self.clock.timestamp()
        self._notify()
        return message.to_api()

    def _delete_one(self, chat: FakeChat, message_id: int) -> None:
        message = chat.get_message(message_id)
        if message is None or message.deleted:
            raise ApiError.bad_request("message to delete not found")
        if message.kind == "service" and "forum_topic_created" in message.extra:
            raise ApiError.bad_request("message can't be deleted")
        if chat.type != "private" and not message.from_bot and not chat.bot_is_admin:
            raise ApiError.bad_request("message can't be deleted")
        if self.clock.now() - message.date >= DELETE_WINDOW_SECONDS:
            raise ApiError.bad_request("message can't be deleted for everyone")
        message.deleted = True

    @api_method("deleteMessage")
    async def _api_delete_message(self, p: Params) -> Any:
        chat = self._resolve_chat(p)
        message_id = p.get_int("message_id", missing="message identifier is not specified")
        assert message_id is not None
        self._delete_one(chat, message_id)
        self._notify()
        return True

    @api_method("deleteMessages")
    async def _api_delete_messages(self, p: Params) -> Any:
        chat = self._resolve_chat(p)
        ids = p.get_json("message_ids", error="can't parse message identifiers JSON object")
        if not isinstance(ids, list) or not ids:
            raise ApiError.bad_request("message identifiers are not specified")
        if len(ids) > 100:
            raise ApiError.bad_request("too many message identifiers specified")  # (fake) wording
        for message_id in ids:
            if not isinstance(message_id, int) or isinstance(message_id, bool):
                raise ApiError.bad_request("can't parse message identifiers JSON object")
            with contextlib.suppress(ApiError):  # deletes what it can, like the real API
                self._delete_one(chat, message_id)
        self._notify()
        return True

    @api_method("answerCallbackQuery")
    async def _api_answer_callback_query(self, p: Params) -> Any:
        query_id = p.get_str("callback_query_id") or ""
        query = self.callback_queries.get(query_id)
        if (
            query is None
            or query.answered
            or self.clock.now() - query.created_at > CALLBACK_ANSWER_WINDOW_SECONDS
        ):
            raise ApiError.bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        text = p.get_str("text")
        if text is not None and len(text) > 200:
            raise ApiError.bad_request("MESSAGE_TOO_LONG")
        query.answered = True
        query.answer_text = text
        query.show_alert = p.get_bool("show_alert")
        query.answer_url = p.get_str("url")
        self._notify()
        return True

    @api_method("getChat")
    async def _api_get_chat(self, p: Params) -> Any:
        return self._resolve_chat(p).full_info()

    @api_method("getFile")
    async def _api_get_file(self, p: Params) -> Any:
        file_id = p.get_str("file_id", missing="invalid file_id")
        assert file_id is not None
        file = self.files.get(file_id)
        if file is None:
            raise ApiError.bad_request("invalid file_id")
        if file.data is None:
            raise ApiError.bad_request("wrong file_id or the file is temporarily unavailable")
        return {
            "file_id": file_id,
            "file_unique_id": file.file_unique_id,
            "file_size": file.size,
            "file_path": file.file_path,
        }

    # -- forum topics -------------------------------------------------------

    def _forum(self, p: Params) -> FakeChat:
        chat = self._chat_for_sending(p)
        if chat.type != "supergroup" or not chat.is_forum:
            raise ApiError.bad_request("the chat is not a forum")
        if not chat.bot_is_admin:
            raise ApiError.bad_request("not enough rights to manage topics")  # (fake) wording
        return chat

    def _topic(self, chat: FakeChat, p: Params) -> FakeTopic:
        thread_id = p.get_int("message_thread_id", missing="message thread not found")
        topic = chat.topics.get(thread_id) if thread_id is not None else None
        if topic is None or topic.deleted:
            raise ApiError.bad_request("message thread not found")
        return topic

    @api_method("createForumTopic")
    async def _api_create_forum_topic(self, p: Params) -> Any:
        chat = self._forum(p)
        name = p.get_str("name") or ""
        if not name.strip():
            raise ApiError.bad_request("TOPIC_TITLE_EMPTY")  # (fake) wording
        if len(name) > 128:
            raise ApiError.bad_request("TOPIC_TITLE_INVALID")  # (fake) wording
        color = p.get_int("icon_color")
        if color is not None and color not in _TOPIC_COLORS:
            raise ApiError.bad_request("TOPIC_ICON_COLOR_INVALID")  # (fake) wording
        icon_color = _TOPIC_COLORS[0] if color is None else color
        emoji_id = p.get_str("icon_custom_emoji_id")
        created: JsonDict = {"name": name, "icon_color": icon_color}
        if emoji_id:
            created["icon_custom_emoji_id"] = emoji_id
        service = chat._new_message(
            from_bot=True, kind="service", extra={"forum_topic_created": created}
        )
        service.message_thread_id = service.message_id  # the topic id is its creation message id
        topic = FakeTopic(service.message_id, name, icon_color, emoji_id)
        chat.topics[topic.message_thread_id] = topic
        return topic.to_api()

    @api_method("editForumTopic")
    async def _api_edit_forum_topic(self, p: Params) -> Any:
        chat = self._forum(p)
        topic = self._topic(chat, p)
        name = p.get_str("name")
        emoji_id = p.get_str("icon_custom_emoji_id")
        if name is not None and not 1 <= len(name) <= 128:
            raise ApiError.bad_request("TOPIC_TITLE_INVALID")  # (fake) wording
        new_name = name if name else topic.name
        new_emoji = emoji_id if emoji_id is not None else topic.icon_custom_emoji_id
        if new_name == topic.name and new_emoji == topic.icon_custom_emoji_id:
            raise ApiError.bad_request("TOPIC_NOT_MODIFIED")
        topic.name, topic.icon_custom_emoji_id = new_name, new_emoji or None
        return True

    @api_method("closeForumTopic")
    async def _api_close_forum_topic(self, p: Params) -> Any:
        topic = self._topic(self._forum(p), p)
        if topic.closed:
            raise ApiError.bad_request("TOPIC_NOT_MODIFIED")
        topic.closed = True
        return True

    @api_method("reopenForumTopic")
    async def _api_reopen_forum_topic(self, p: Params) -> Any:
        topic = self._topic(self._forum(p), p)
        if not topic.closed:
            raise ApiError.bad_request("TOPIC_NOT_MODIFIED")
        topic.closed = False
        return True

    @api_method("deleteForumTopic")
    async def _api_delete_forum_topic(self, p: Params) -> Any:
        chat = self._forum(p)
        topic = self._topic(chat, p)
        topic.deleted = True
        for message in chat.all_messages:
            if message.message_thread_id == topic.message_thread_id:
                message.deleted = True
        self._notify()
        return True


def _scope_key(scope: Any) -> str:
    return json.dumps(scope if scope is not None else {"type": "default"}, sort_keys=True)


# Media senders share one implementation: (method name, file field / message kind).
_MEDIA_METHODS: Final = {
    "sendPhoto": "photo",
    "sendDocument": "document",
    "sendVoice": "voice",
    "sendVideo": "video",
    "sendAudio": "audio",
    "sendAnimation": "animation",
    "sendSticker": "sticker",
    "sendVideoNote": "video_note",
}


def _media_handler(kind: str) -> ApiHandler:
    async def handler(server: FakeTelegramServer, p: Params) -> Any:
        return await server._send_media(p, kind)

    return handler


for _method_name, _kind in _MEDIA_METHODS.items():
    _API_METHODS[_method_name.lower()] = (_method_name, _media_handler(_kind))


def iter_api_methods() -> Iterator[str]:
    """Names of the Bot API methods the fake implements."""
    return iter(sorted(name for name, _ in _API_METHODS.values()))
