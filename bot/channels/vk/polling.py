"""Bots Long Poll that survives what VK does.

`groups.getLongPollServer` gives a server URL, a key and a starting `ts`; then
`GET {server}?act=a_check&key=…&ts=…&wait=25` answers the events since `ts`.
VK's documented failures: `failed: 1` (history lost: go on from the given
`ts`), `failed: 2` (the key expired) and `failed: 3` (key and ts lost): ask for
a new server. An unreachable server, a proxy's 502, a rejected token are
retried with back-off and reported in `status`, so polling never dies silently.
Each event goes to `dispatch`, which never raises.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

from aiohttp import ClientError, ClientTimeout

from bot.channels.vk.api import API, VKAPIError, VkUnavailable, call, error_code

log = logging.getLogger(__name__)

POLL_SECONDS = 25
FIRST_BACKOFF = 1.0
MAX_BACKOFF = 10.0  # families should not wait long once VK is back


class LongPoll:
    def __init__(self, api: API, group_id: int, dispatch: Callable[[dict[str, Any]], None]) -> None:
        self.api = api
        self.group_id = group_id
        self.dispatch = dispatch
        self.status = "starting"

    async def run(self) -> None:
        """Poll until cancelled; every failure is logged and retried with back-off."""
        server: dict[str, str] | None = None
        ts = ""
        backoff = FIRST_BACKOFF
        while True:
            try:
                if server is None:
                    server = await self._server()
                    ts = server["ts"]
                # After a failure, a short poll first: it tells at once whether we are back.
                wait = POLL_SECONDS if self.status == "ok" else 0
                answer = await self._check(server, ts, wait)
            except VKAPIError as error:
                code = error_code(error)
                if code == 5:
                    self.status = "down: VK_TOKEN rejected"
                    log.error("VK rejected VK_TOKEN; retrying in %.1f s", backoff)
                elif code in (15, 27, 100):
                    self.status = f"down: VK error {code} (is the long poll API enabled?)"
                    log.error("VK refused the long poll server (error %s); retrying", code)
                else:
                    self.status = f"down: VK error {code}"
                    log.warning("VK error %s on long poll; retrying in %.1f s", code, backoff)
            except (ClientError, OSError, TimeoutError, VkUnavailable, ValueError) as error:
                self.status = f"down: {type(error).__name__}"
                log.warning(
                    "cannot reach VK (%s); retrying in %.1f s", type(error).__name__, backoff
                )
            else:
                failed = answer.get("failed")
                if failed is None:
                    self.status = "ok"
                    backoff = FIRST_BACKOFF
                    ts = str(answer.get("ts", ts))
                    updates = answer.get("updates")
                    for update in updates if isinstance(updates, list) else []:
                        self.dispatch(update)
                    continue
                if failed == 1 and answer.get("ts") is not None:
                    log.info("VK long poll history was lost; some events may be missed")
                    ts = str(answer["ts"])
                    continue
                if failed in (2, 3):
                    log.info("VK long poll key expired (failed=%s); asking for a new one", failed)
                    server = None
                    continue
                self.status = f"down: long poll failed={failed}"
                log.warning("VK long poll failed=%s; starting over", failed)
                server = None
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)

    async def _server(self) -> dict[str, str]:
        answer = await call(self.api, "groups.getLongPollServer", group_id=self.group_id)
        if not isinstance(answer, dict) or not {"key", "server", "ts"} <= answer.keys():
            raise VkUnavailable("groups.getLongPollServer: unexpected answer")
        return {"key": str(answer["key"]), "server": str(answer["server"]), "ts": str(answer["ts"])}

    async def _check(self, server: dict[str, str], ts: str, wait: int) -> dict[str, Any]:
        text = await self.api.http_client.request_text(
            server["server"],
            method="GET",
            params={"act": "a_check", "key": server["key"], "ts": ts, "wait": wait},
            timeout=ClientTimeout(total=wait + 10),
        )
        try:
            answer = json.loads(text)
        except ValueError as error:
            raise VkUnavailable("the long poll server answered no JSON") from error
        if not isinstance(answer, dict):
            raise VkUnavailable("the long poll server answered no object")
        return answer
