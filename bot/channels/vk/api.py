"""vkbottle's `API`, set up for a service that must keep control of its errors.

- The base URL comes from the settings (a test server, a proxy).
- An answer that is not JSON (a 502 page from a proxy) raises `VkUnavailable`
  instead of vkbottle's default of retrying the same call forever.
- vkbottle's own log (it writes every request's parameters, message texts
  included, at DEBUG) is kept at WARNING and goes through our logging setup.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

from aiohttp import ClientTimeout

_showwarning = warnings.showwarning
from vkbottle import API, VKAPIError  # noqa: E402  (vkbottle replaces showwarning on import)
from vkbottle.api.request_rescheduler import ABCRequestRescheduler  # noqa: E402
from vkbottle.api.response_validator import (  # noqa: E402
    JSONResponseValidator,
    VKAPIErrorResponseValidator,
)
from vkbottle.http import AiohttpClient  # noqa: E402

warnings.showwarning = _showwarning
_vk_log = logging.getLogger("vkbottle")
_vk_log.setLevel(logging.WARNING)
for _handler in list(_vk_log.handlers):  # its own coloured stderr handler
    _vk_log.removeHandler(_handler)

__all__ = ["API", "VKAPIError", "VkUnavailable", "call", "error_code", "make_api"]

API_VERSION = "5.199"
CALL_TIMEOUT = 30.0  # seconds for one method call (the long poll sets its own)


class VkUnavailable(Exception):
    """VK (or a proxy before it) answered something that is not the API's JSON."""


class _GiveUp(ABCRequestRescheduler):
    async def reschedule(
        self, ctx_api: Any, method: str, data: dict[str, Any], recent_response: Any
    ) -> dict[str, Any]:
        raise VkUnavailable(f"{method}: not a JSON answer")


def make_api(token: str, api_url: str) -> API:
    client = AiohttpClient(timeout=ClientTimeout(total=CALL_TIMEOUT))
    api = API(token, http_client=client, request_rescheduler=_GiveUp())
    api.API_URL = api_url if api_url.endswith("/") else api_url + "/"
    api.API_VERSION = API_VERSION
    # Our own lists: vkbottle's defaults are module-level lists shared by every API.
    api.response_validators = [JSONResponseValidator(), VKAPIErrorResponseValidator()]
    return api


async def call(api: API, method: str, **params: Any) -> Any:
    """One method call; returns the `response` part (raises VKAPIError subclasses)."""
    data = {key: value for key, value in params.items() if value is not None}
    answer = await api.request(method, data)
    if not isinstance(answer, dict) or "response" not in answer:
        raise VkUnavailable(f"{method}: no response")
    return answer["response"]


def error_code(error: BaseException) -> int | None:
    code = getattr(error, "code", None)
    return code if isinstance(error, VKAPIError) and isinstance(code, int) else None
