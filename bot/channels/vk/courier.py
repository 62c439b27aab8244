"""Delivers outbox items to VK: every message a family gets in VK goes here.

Every `messages.send` carries `random_id` = the item's (put there by the
outbox) + the part's index: when an item is retried after a part went out, VK
recognises the repeated parts and makes no second copy. Messages are sent with
`peer_ids`, so VK answers each one's `conversation_message_id`: the id the
family's own messages have too, and the one `messages.edit` and
`messages.delete` take for a community. Those are the ids returned.

VK errors: 6 (too many calls a second) and 9 (flood control) → `RetryLater`;
901/902/7 (the person forbade messages) → `Blocked`; 100/911/914 (a bad
request, keyboard or length) → `Undeliverable`; 10 (internal) and network
faults are raised for the outbox to retry with back-off.

The family's words are never lost to a part VK will not take: a refused inline
keyboard is sent again with text buttons, a refused keyboard (911, or 912: the
community's bot features are off) without buttons; a photo (a voucher's QR)
VK will not take is left out and its text, which carries the code, goes alone.
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from typing import Any

from aiohttp import FormData

from bot.channels.vk.api import API, VKAPIError, VkUnavailable, call, error_code
from bot.channels.vk.render import CONTINUED, Clients, VkMessage, render
from bot.core.types import Reply
from bot.outbound.outbox import Blocked, Parcel, RetryLater, Undeliverable

log = logging.getLogger(__name__)

RETRY_SECONDS = {6: 1.0, 9: 60.0}
BLOCKED = {7, 901, 902}
REFUSED = {15, 100, 909, 911, 912, 914, 917, 921, 924, 945, 946}
KEYBOARD_REFUSED = {911, 912}
TEMPORARY = {1, 10}  # unknown, internal: VK may take the photo on a later try
PHOTO_ATTEMPTS = 5  # after this many tries of an item, a photo still failing is left out
RANDOM_SPACE = 2**31
UPLOADS_REMEMBERED = 200
PHOTO_NAME = "image.png"


class VkCourier:
    def __init__(self, api: API, clients: Clients) -> None:
        self.api = api
        self.clients = clients
        # Photos uploaded for an item whose send failed: a retry reuses them.
        self._uploads: OrderedDict[tuple[int, int], str] = OrderedDict()

    async def __call__(self, parcel: Parcel) -> list[str]:
        try:
            return await self._deliver(parcel)
        except VKAPIError as error:
            code = error_code(error)
            if code in RETRY_SECONDS:
                raise RetryLater(RETRY_SECONDS[code]) from error
            if code in BLOCKED:
                raise Blocked(f"VK error {code}: the person does not accept messages") from error
            if code in REFUSED:
                raise Undeliverable(f"VK error {code}: {str(error)[:120]}") from error
            raise  # 10 (internal) and the unknown: the outbox backs off and retries

    async def _deliver(self, parcel: Parcel) -> list[str]:
        payload, kind = parcel.payload, parcel.kind
        if kind in ("reply", "text"):
            return await self._send_reply(parcel, parcel.reply())
        if kind == "edit":
            try:
                number = int(str(payload["message_id"]))
            except (KeyError, ValueError) as error:
                raise Undeliverable("an edit without a message id") from error
            await call(
                self.api,
                "messages.edit",
                peer_id=int(parcel.chat_id),
                conversation_message_id=number,
                message=str(payload.get("text", "")),
            )
            return []
        if kind == "copy":
            label = payload.get("label")
            if not label:
                raise Undeliverable("VK cannot copy a message from another messenger")
            return await self._send_reply(parcel, Reply(text=str(label)))
        raise Undeliverable(f"item kind {kind} is not for VK")

    async def _send_reply(self, parcel: Parcel, reply: Reply) -> list[str]:
        client = self.clients.get(parcel.chat_id)
        while True:  # each refusal takes a kind of keyboard away: at most three tries
            try:
                return await self._send_all(parcel, render(reply, client))
            except VKAPIError as error:
                code = error_code(error)
                if code not in KEYBOARD_REFUSED or not client.keyboard:
                    raise
                if code == 911 and client.callback:
                    # An app we have not heard from since the start may not show
                    # callback buttons: text buttons carry the same payloads.
                    log.info("VK refused an inline keyboard; sending text buttons instead")
                    client = client.without_callback()
                else:
                    # 912: the community's bot features are off. The words still go.
                    log.warning("VK refused a keyboard (error %s); sending without buttons", code)
                    client = client.without_keyboard()
                self.clients.seen(parcel.chat_id, client)

    async def _send_all(self, parcel: Parcel, messages: list[VkMessage]) -> list[str]:
        peer = int(parcel.chat_id)
        base = _random_base(parcel)
        made: list[str] = []
        for index, message in enumerate(messages):
            attachment, text = None, message.text
            if message.photo is not None:
                attachment = await self._photo(parcel, index, peer, message.photo)
                if attachment is None and not text:
                    if message.keyboard is None:
                        continue  # the photo alone, its text follows: nothing to send
                    text = CONTINUED
            made.append(
                await self._send(
                    peer,
                    text,
                    keyboard=message.keyboard,
                    attachment=attachment,
                    random_id=(base + index) % RANDOM_SPACE,
                )
            )
        for index in range(len(messages)):
            self._uploads.pop((parcel.id, index), None)
        return made

    async def _send(
        self,
        peer: int,
        text: str,
        *,
        keyboard: str | None,
        attachment: str | None,
        random_id: int,
    ) -> str:
        answer = await call(
            self.api,
            "messages.send",
            peer_ids=peer,
            random_id=random_id,
            message=text or None,
            keyboard=keyboard,
            attachment=attachment,
            dont_parse_links=1,
        )
        item = answer[0] if isinstance(answer, list) and answer else answer
        if isinstance(item, dict):
            failed = item.get("error")
            if isinstance(failed, dict):
                code = failed.get("code", failed.get("error_code"))
                raise _api_error(code if isinstance(code, int) else 0, failed)
            number = item.get("conversation_message_id") or item.get("message_id")
            if number is not None:
                return str(number)
        if isinstance(item, int):
            return str(item)
        raise VkUnavailable("messages.send: unexpected answer")

    async def _photo(self, parcel: Parcel, index: int, peer: int, photo: bytes) -> str | None:
        """The photo's attachment, or None when VK will not take it (the text goes alone)."""
        try:
            return await self._upload(parcel, index, peer, photo)
        except Exception as error:
            if not _photo_given_up(error, parcel.attempts):
                raise
            code = error_code(error)
            log.warning(
                "VK did not take a photo (%s); its text is sent without it",
                f"VK error {code}" if code is not None else type(error).__name__,
            )
            return None

    async def _upload(self, parcel: Parcel, index: int, peer: int, photo: bytes) -> str:
        key = (parcel.id, index)
        if key in self._uploads:
            return self._uploads[key]
        server = await call(self.api, "photos.getMessagesUploadServer", peer_id=peer)
        form = FormData()
        form.add_field("photo", photo, filename=PHOTO_NAME, content_type="image/png")
        text = await self.api.http_client.request_text(
            str(server["upload_url"]),
            method="POST",
            data=form,  # type: ignore[arg-type]
        )
        try:
            uploaded = json.loads(text)
        except ValueError as error:
            raise VkUnavailable("the photo upload server answered no JSON") from error
        if not isinstance(uploaded, dict) or not uploaded.get("photo"):
            raise Undeliverable("VK did not accept the photo")
        saved = await call(
            self.api,
            "photos.saveMessagesPhoto",
            photo=uploaded["photo"],
            server=uploaded.get("server"),
            hash=uploaded.get("hash"),
        )
        photo_info = saved[0]
        attachment = f"photo{photo_info['owner_id']}_{photo_info['id']}"
        if photo_info.get("access_key"):
            attachment += f"_{photo_info['access_key']}"
        self._uploads[key] = attachment
        while len(self._uploads) > UPLOADS_REMEMBERED:
            self._uploads.popitem(last=False)
        return attachment


def _photo_given_up(error: Exception, attempts: int) -> bool:
    """Whether a photo upload's failure means sending the text without it."""
    if isinstance(error, VKAPIError):
        code = error_code(error)
        if code in RETRY_SECONDS or code in BLOCKED:
            return False  # a flood limit is waited out; a person who forbade messages is told
        if code not in TEMPORARY:
            return True  # VK refuses this photo (a bad size, format, parameter…)
    elif isinstance(error, Undeliverable | LookupError | TypeError | ValueError):
        return True  # the upload refused, or an answer we cannot read
    # VK's internal errors, network faults: a few tries first.
    return attempts + 1 >= PHOTO_ATTEMPTS


def _random_base(parcel: Parcel) -> int:
    raw = parcel.payload.get("random_id")
    try:
        return int(str(raw))
    except ValueError:
        # Not put there by the outbox: the item's id is stable across retries too.
        return (parcel.id * 64) % RANDOM_SPACE


def _api_error(code: int, details: dict[str, Any]) -> VKAPIError:
    message = str(details.get("description") or details.get("error_msg") or "")
    return VKAPIError[code](error_msg=message)
