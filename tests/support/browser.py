"""A real browser for page tests: Debian's Chromium driven by Playwright, and an
ASGI app served by uvicorn on a free 127.0.0.1 port; for the admin panel's
tests, the whole site as `make run` serves it and the panel's login."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import uvicorn
from starlette.types import ASGIApp

from bot.app import Application
from bot.core.services import Services

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page, Playwright

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"  # screenshots
PHONE = {"width": 390, "height": 844}

# Without the background-networking flags Chromium keeps dialling Google on this
# offline machine; --no-sandbox because tests run as root.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium() -> str | None:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None and os.environ.get("FW_REQUIRE_BROWSER"):
        pytest.fail("chromium is not installed (apt-get install chromium)")
    return found


async def launch(pw: Playwright, executable: str) -> Browser:
    return await pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)


@contextlib.asynccontextmanager
async def serving(app: ASGIApp) -> AsyncIterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
        timeout_graceful_shutdown=1,  # a web chat page keeps a long poll open
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@contextlib.asynccontextmanager
async def site(services: Services) -> AsyncIterator[str]:
    """The web chat with the panel under /admin, as `make run` serves them; the
    test is skipped when there is no Chromium to look at it with."""
    if chromium() is None:
        pytest.skip("chromium is not installed")
    app = Application.build(services.settings, services)
    async with serving(app.asgi) as url:
        yield url


@contextlib.asynccontextmanager
async def chromium_browser() -> AsyncIterator[Browser]:
    """Chromium for one test, closed however the test ends."""
    from playwright.async_api import async_playwright

    executable = chromium()
    assert executable is not None
    async with async_playwright() as pw:
        browser = await launch(pw, executable)
        try:
            yield browser
        finally:
            await browser.close()


async def log_in(page: Page, base: str, login: str, password: str) -> None:
    """Through the panel's login form, as a person does: the panel's home page
    sends there first and comes back after."""
    await page.goto(base + "/admin/")
    await page.wait_for_url("**/admin/login**")
    await page.get_by_label("Логин").fill(login)
    await page.get_by_label("Пароль").fill(password)
    await page.get_by_role("button", name="Войти").click()
    await page.wait_for_url(base + "/admin/")
