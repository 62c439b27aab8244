"""Knowledge entries as the family reads them (plain text with **bold**)."""

from __future__ import annotations

from collections.abc import Callable

from bot.core import texts
from bot.knowledge.schema import Entry

Translate = Callable[..., str]


def entry_card(entry: Entry, language: str, t: Translate, city_name: Callable[[str], str]) -> str:
    """The full card: title, summary, details, where to apply, documents, contacts, source."""
    parts = [f"**{entry.text('title', language)}**", entry.text("summary", language)]
    body = entry.text("body", language)
    if body:
        parts.append(body)
    where = entry.text("where", language)
    if where:
        parts.append(f"**{t(texts.WHERE_TO_APPLY)}:** {where}")
    documents = entry.texts("documents", language)
    if documents:
        parts.append(f"**{t(texts.DOCUMENTS)}:**\n" + "\n".join(f"• {d}" for d in documents))
    contacts = contact_lines(entry, language, city_name)
    if contacts:
        parts.append("\n".join(contacts))
    parts.append(source_line(entry, t))
    return "\n\n".join(p for p in parts if p)


def measure_line(entry: Entry, language: str, t: Translate) -> str:
    """One measure in the finder's list: title, what it is, where to apply."""
    line = f"**{entry.text('title', language)}** — {entry.text('summary', language)}"
    where = entry.text("where", language)
    if where:
        line += f"\n{t(texts.WHERE_TO_APPLY)}: {where}"
    documents = entry.texts("documents", language)
    if documents:
        line += f"\n{t(texts.DOCUMENTS)}: " + "; ".join(documents)
    return line


def organisation_line(entry: Entry, language: str, city_name: Callable[[str], str]) -> str:
    lines = [f"**{entry.text('title', language)}**", entry.text("summary", language)]
    lines.extend(contact_lines(entry, language, city_name))
    return "\n".join(line for line in lines if line)


def hotline_line(entry: Entry, language: str) -> str:
    title = entry.text("title", language)
    phone = entry.phone or ""
    if phone and phone in title:  # "Детский телефон доверия 8-800-2000-122"
        line = "☎️ " + title.replace(phone, f"**{phone}**", 1)
    else:
        line = f"☎️ **{phone}** — {title}"
    hours = entry.text("hours", language)
    return f"{line} ({hours})" if hours else line


def contact_lines(entry: Entry, language: str, city_name: Callable[[str], str]) -> list[str]:
    lines: list[str] = []
    cities = [city_name(c) for c in entry.cities]
    address = entry.text("address", language)
    if address:
        lines.append(f"📍 {address}")
    elif cities and entry.kind == "organisation":
        lines.append("📍 " + ", ".join(cities))
    if entry.phone:
        lines.append(f"☎️ {entry.phone}")
    hours = entry.text("hours", language)
    if hours:
        lines.append(f"🕘 {hours}")
    if entry.url:
        lines.append(f"🌐 {entry.url}")
    return lines


def source_line(entry: Entry, t: Translate) -> str:
    return "ℹ️ " + t(texts.SOURCE, source=entry.source, reviewed=entry.reviewed.strftime("%d.%m.%Y"))
