"""VK: a community bot (vkbottle). Imported lazily: a deployment without VK never loads it."""

from __future__ import annotations

from bot.config import Settings


def vk_enabled(settings: Settings) -> bool:
    """VK is on when both the community's token and its id are set."""
    return bool(settings.vk_token) and settings.vk_group_id is not None
