"""Tests of the fake VK API server, driven by vkbottle's real `API` client."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from aiohttp import ClientSession
from vkbottle import API, VKAPIError

from bot.channels.vk.api import call, make_api

from .vk_api import FakeVkServer


@pytest.fixture
async def vk() -> AsyncIterator[tuple[FakeVkServer, API]]:
    async with FakeVkServer() as server:
        api = make_api(server.token, server.api_url)
        try:
            yield server, api
        finally:
            await api.http_client.close()


def inline(rows: list[list[dict[str, object]]]) -> str:
    return json.dumps({"inline": True, "buttons": rows})


def callback(label: str, payload: str = '{"p":"x"}') -> dict[str, object]:
    return {"action": {"type": "callback", "label": label, "payload": payload}}


async def test_send_is_deduplicated_by_random_id(vk: tuple[FakeVkServer, API]) -> None:
    server, api = vk
    user = server.user(7)
    first = await call(api, "messages.send", peer_ids=7, random_id=55, message="раз")
    again = await call(api, "messages.send", peer_ids=7, random_id=55, message="раз")
    assert first == again and first[0]["conversation_message_id"] == 1
    assert [m.text for m in user.messages] == ["раз"]
    single = await call(api, "messages.send", peer_id=7, random_id=56, message="два")
    assert isinstance(single, int)
    with pytest.raises(VKAPIError[100]):  # type: ignore[misc]
        await call(api, "messages.send", peer_id=7, message="без random_id")


async def test_send_validates_text_and_keyboards(vk: tuple[FakeVkServer, API]) -> None:
    server, api = vk
    server.user(7)
    old = server.user(8, callback=False)
    with pytest.raises(VKAPIError[914]):  # type: ignore[misc]
        await call(api, "messages.send", peer_id=7, random_id=1, message="x" * 4097)
    too_many = inline([[callback(str(i))] for i in range(7)])
    wide = inline([[callback(str(i)) for i in range(6)]])
    eleven = inline([[callback(f"{r}{i}") for i in range(4)] for r in range(3)])
    long_label = inline([[callback("x" * 41)]])
    big_payload = inline([[callback("ok", json.dumps({"p": "y" * 260}))]])
    not_json = inline([[callback("ok", "{nope")]])
    for keyboard in (too_many, wide, eleven, long_label, big_payload, not_json):
        with pytest.raises(VKAPIError[911]):  # type: ignore[misc]
            await call(api, "messages.send", peer_id=7, random_id=2, message="m", keyboard=keyboard)
    with pytest.raises(VKAPIError[911]):  # type: ignore[misc]
        await call(
            api,
            "messages.send",
            peer_id=8,
            random_id=3,
            message="m",
            keyboard=inline([[callback("a")]]),
        )
    text_keyboard = json.dumps(
        {"one_time": False, "buttons": [[{"action": {"type": "text", "label": "a"}}]] * 10}
    )
    await call(api, "messages.send", peer_id=8, random_id=4, message="m", keyboard=text_keyboard)
    assert old.last_keyboard is not None and len(old.last_keyboard.buttons) == 10


async def test_errors_on_demand_and_rate_limit(vk: tuple[FakeVkServer, API]) -> None:
    server, api = vk
    server.user(7)
    server.fail_next("messages.send", code=9)
    with pytest.raises(VKAPIError[9]):  # type: ignore[misc]
        await call(api, "messages.send", peer_id=7, random_id=1, message="m")
    server.fail_next("messages.send", code=901, per_peer=True)
    answer = await call(api, "messages.send", peer_ids=7, random_id=1, message="m")
    assert answer[0]["error"]["code"] == 901
    server.enforce_limits = True
    codes = []
    for _ in range(25):
        try:
            await call(api, "users.get", user_ids="7")
        except VKAPIError as error:
            codes.append(error.code)
    assert codes and set(codes) == {6}
    wrong = make_api("bad-token", server.api_url)
    try:
        with pytest.raises(VKAPIError[5]):  # type: ignore[misc]
            await call(wrong, "groups.getById", group_id=server.group_id)
    finally:
        await wrong.http_client.close()


async def test_long_poll_and_events(vk: tuple[FakeVkServer, API]) -> None:
    server, api = vk
    lp = await call(api, "groups.getLongPollServer", group_id=server.group_id)
    user = server.user(7, lang="en")
    await user.send_text("hello")
    async with ClientSession() as session:
        query = {"act": "a_check", "key": lp["key"], "ts": lp["ts"], "wait": 1}
        async with session.get(lp["server"], params=query) as response:
            answer = await response.json()
        (event,) = answer["updates"]
        assert event["type"] == "message_new"
        assert event["object"]["client_info"]["lang_id"] == 3
        assert event["object"]["message"]["text"] == "hello"
        async with session.get(lp["server"], params={**query, "key": "old"}) as response:
            assert (await response.json()) == {"failed": 2}
        async with session.get(lp["server"], params={**query, "ts": "999"}) as response:
            assert (await response.json())["failed"] == 1
        server.fail_poll(502)
        async with session.get(lp["server"], params=query) as response:
            assert response.status == 502


async def test_photo_upload_edit_and_delete(vk: tuple[FakeVkServer, API]) -> None:
    server, api = vk
    user = server.user(7)
    upload = await call(api, "photos.getMessagesUploadServer", peer_id=7)
    async with ClientSession() as session:
        from aiohttp import FormData

        form = FormData()
        form.add_field("photo", b"\x89PNG-bytes", filename="a.png")
        async with session.post(upload["upload_url"], data=form) as response:
            uploaded = json.loads(await response.text())
    (photo,) = await call(api, "photos.saveMessagesPhoto", **uploaded)
    attachment = f"photo{photo['owner_id']}_{photo['id']}_{photo['access_key']}"
    sent = await call(api, "messages.send", peer_ids=7, random_id=9, attachment=attachment)
    cmid = sent[0]["conversation_message_id"]
    assert server.photo_bytes(user.messages[0].attachments[0]) == b"\x89PNG-bytes"
    await call(api, "messages.edit", peer_id=7, conversation_message_id=cmid, message="подпись")
    assert user.messages[0].text == "подпись" and user.messages[0].edited
    mine = await user.send_text("моё")
    deleted = await call(
        api, "messages.delete", peer_id=7, cmids=f"{cmid},{mine.cmid}", delete_for_all=1
    )
    assert deleted[0]["response"] == 1 and deleted[1]["error"]["code"] == 924
    assert user.messages == []


async def test_event_answer_once(vk: tuple[FakeVkServer, API]) -> None:
    server, api = vk
    user = server.user(7)
    event_id = user.press_event({"p": "x"})
    params = {"event_id": event_id, "user_id": 7, "peer_id": 7}
    assert await call(api, "messages.sendMessageEventAnswer", **params) == 1
    with pytest.raises(VKAPIError[100]):  # type: ignore[misc]
        await call(api, "messages.sendMessageEventAnswer", **params)
    assert event_id in user.answered_events


async def test_bot_features_off_and_upload_failures(vk: tuple[FakeVkServer, API]) -> None:
    server, api = vk
    user = server.user(7)
    server.bot_features = False
    with pytest.raises(VKAPIError[912]):  # type: ignore[misc]
        await call(
            api,
            "messages.send",
            peer_id=7,
            random_id=1,
            message="m",
            keyboard=inline([[callback("a")]]),
        )
    await call(api, "messages.send", peer_id=7, random_id=2, message="без кнопок")
    assert [m.text for m in user.messages] == ["без кнопок"]
    server.fail_upload({"error": "ERR_UPLOAD_BAD_IMAGE_SIZE"})
    server.fail_upload(502)
    upload = await call(api, "photos.getMessagesUploadServer", peer_id=7)
    async with ClientSession() as session:
        async with session.post(upload["upload_url"], data=b"x") as response:
            assert (await response.json())["error"].startswith("ERR_UPLOAD")
        async with session.post(upload["upload_url"], data=b"x") as response:
            assert response.status == 502
