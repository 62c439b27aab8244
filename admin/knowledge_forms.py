"""Knowledge entries in the panel: the edit form <-> `Entry`, the family-facing
preview, and the YAML files staff download and upload.

Kept apart from the page handlers so the conversions can be read (and tested)
without HTTP around them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import yaml
from markupsafe import Markup, escape
from pydantic import ValidationError
from pydantic_core import ErrorDetails
from starlette.datastructures import FormData

from bot.core.services import Services
from bot.core.turn import Turn
from bot.journeys.book import JourneyBook
from bot.knowledge import safeyaml
from bot.knowledge.render import entry_card
from bot.knowledge.schema import FINDER_VARS, Entry

# Per-language texts: (field, label, multi-line?).
TEXT_FIELDS: tuple[tuple[str, str, bool], ...] = (
    ("title", "Название", False),
    ("summary", "Коротко (первые строки карточки)", True),
    ("body", "Подробно", True),
    ("where", "Куда обращаться", True),
    ("address", "Адрес", False),
    ("hours", "Часы работы", False),
)
# Per-language lists, typed one item per line.
LIST_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("keywords", "Ключевые слова", "По этим словам и фразам бот находит запись."),
    ("questions", "Вопросы семей", "Как семьи спрашивают об этом своими словами."),
    ("documents", "Документы", "Что взять с собой или приложить к заявлению."),
)
KIND_NAMES = {
    "measure": "мера поддержки",
    "organisation": "организация",
    "hotline": "горячая линия",
    "article": "статья",
}
REGION_NAMES = {"federal": "федеральная", "dagestan": "Дагестан"}
LANGUAGE_NAMES = {"ru": "русский", "en": "английский"}
# Paths of the panel that an entry id would hide.
RESERVED_IDS = frozenset({"new", "export", "import"})
FORM_ERROR = "_form"

TOPIC_NAMES = {
    "pregnancy": "беременность",
    "newborn": "новорождённый",
    "large_family": "многодетная семья",
    "disability": "инвалидность",
    "violence": "насилие",
    "low_income": "низкий доход",
    "difficult_situation": "трудная ситуация",
    "legal": "юридические вопросы",
    "psychological": "психологическая помощь",
    "loss": "утрата",
    "housing": "жильё",
    "employment": "работа",
    "documents": "документы",
    "partner_programme": "программа партнёров",
    "crisis": "кризис",
    "children": "дети",
}
HELP_NAMES = {
    "psychological": "психологическая",
    "legal": "юридическая",
    "social": "социальная",
    "crisis": "кризисная",
    "humanitarian": "гуманитарная",
    "clothing": "одежда",
    "medical": "медицинская",
    "pregnancy": "беременным",
    "disability": "при инвалидности",
    "large_family": "многодетным",
    "shelter": "убежище",
    "employment": "трудоустройство",
    "documents": "документы",
    "partner_shop": "магазины-партнёры",
    "volunteering": "волонтёры",
}
FINDER_VAR_NAMES = {
    "region": "регион: 'dagestan' или 'other'",
    "pregnant": "беременность: true / false",
    "children_count": "сколько детей: число",
    "youngest_age": "возраст младшего ребёнка: число лет",
    "child_disability": "ребёнок с инвалидностью: true / false",
    "low_income": "доход ниже прожиточного минимума: true / false",
    "single_parent": "один родитель: true / false",
    "employment": "занятость: employed, student или not_working",
}
OPERATORS_HELP = "eq, ne, lt, le, gt, ge (сравнение), in (одно из списка), set (ответ дан)"


def finder_vars_help() -> list[tuple[str, str]]:
    """Every variable a condition may read, with a hint (a new one still shows up)."""
    return [(name, FINDER_VAR_NAMES.get(name, "")) for name in sorted(FINDER_VARS)]


# -- form values -------------------------------------------------------------------------
Values = dict[str, Any]


def values_from_data(data: Mapping[str, Any], published: bool, languages: Sequence[str]) -> Values:
    """What the edit form shows for a stored entry (its JSON data)."""
    values: Values = {
        "id": str(data.get("id", "")),
        "kind": str(data.get("kind", "")),
        "region": str(data.get("region", "federal")),
        "phone": data.get("phone") or "",
        "url": data.get("url") or "",
        "source": str(data.get("source", "")),
        "reviewed": str(data.get("reviewed", "")),
        "published": published,
        "topics": list(data.get("topics") or []),
        "help": list(data.get("help") or []),
        "cities": list(data.get("cities") or []),
        "eligibility": eligibility_text(data.get("eligibility")),
    }
    for name, _, _ in TEXT_FIELDS:
        texts = data.get(name) or {}
        for lang in languages:
            values[f"{name}.{lang}"] = str(texts.get(lang, ""))
    for name, _, _ in LIST_FIELDS:
        lists = data.get(name) or {}
        for lang in languages:
            values[f"{name}.{lang}"] = "\n".join(str(item) for item in lists.get(lang, []))
    return values


def blank_values(languages: Sequence[str], today: date) -> Values:
    values = values_from_data({"kind": "measure", "reviewed": today.isoformat()}, True, languages)
    values["published"] = False  # a new entry is shown to families only when the editor says so
    return values


def values_from_form(data: FormData, languages: Sequence[str]) -> Values:
    """What was typed, kept as typed (to fill the form again on an error)."""

    def one(name: str, limit: int = 20_000) -> str:
        value = data.get(name)
        # Browsers send \r\n; the bot's texts use \n.
        return value.replace("\r\n", "\n").strip()[:limit] if isinstance(value, str) else ""

    values: Values = {
        "id": one("id", 100),
        "kind": one("kind", 40),
        "region": one("region", 40),
        "phone": one("phone", 100),
        "url": one("url", 500),
        "source": one("source", 2_000),
        "reviewed": one("reviewed", 40),
        "published": bool(data.get("published")),
        "eligibility": one("eligibility"),
    }
    for name in ("topics", "help", "cities"):
        values[name] = [v.strip() for v in data.getlist(name) if isinstance(v, str) and v.strip()]
    for name, _, _ in TEXT_FIELDS:
        for lang in languages:
            values[f"{name}.{lang}"] = one(f"{name}.{lang}")
    for name, _, _ in LIST_FIELDS:
        for lang in languages:
            values[f"{name}.{lang}"] = one(f"{name}.{lang}")
    return values


# PostgreSQL's JSONB keeps keys in its own order ("en" before "ru", "eq" before
# "var"); people read entries in the order the shipped files use.
LANGUAGE_ORDER = ("ru", "en")


def _by_language(texts: Mapping[str, Any]) -> dict[str, Any]:
    rank = {lang: i for i, lang in enumerate(LANGUAGE_ORDER)}
    return {k: texts[k] for k in sorted(texts, key=lambda k: (rank.get(k, len(rank)), k))}


def tidy_condition(condition: Any) -> Any:
    """A condition with `var` first in every comparison, as written by hand."""
    if isinstance(condition, list):
        return [tidy_condition(item) for item in condition]
    if not isinstance(condition, Mapping):
        return condition
    keys = sorted(condition, key=lambda k: k != "var")
    return {
        k: tidy_condition(condition[k]) if k in ("all", "any", "not") else condition[k]
        for k in keys
    }


def tidy(data: Mapping[str, Any]) -> dict[str, Any]:
    """Entry data in reading order: languages ru, en; conditions `var` first."""
    per_language = {name for name, _, _ in TEXT_FIELDS} | {name for name, _, _ in LIST_FIELDS}
    result: dict[str, Any] = {}
    for key, value in data.items():
        if key in per_language and isinstance(value, Mapping):
            value = _by_language(value)
        elif key == "eligibility":
            value = tidy_condition(value)
        result[key] = value
    return result


def eligibility_text(condition: Any) -> str:
    if not condition:
        return ""
    dumped: str = yaml.safe_dump(
        tidy_condition(condition),
        allow_unicode=True,
        sort_keys=False,
        default_flow_style=None,
        width=100,
    )
    return dumped.strip()


# -- validation --------------------------------------------------------------------------
@dataclass
class Checked:
    entry: Entry | None
    errors: dict[str, list[str]] = field(default_factory=dict)

    def add(self, key: str, message: str) -> None:
        self.errors.setdefault(key, []).append(message)


def entry_from_values(
    values: Values,
    languages: Sequence[str],
    cities: Iterable[str] = (),
    previous: Mapping[str, Any] | None = None,
) -> Checked:
    """Validate the form as an Entry; every problem keyed by the form field it belongs to.

    With `previous` (the stored data), a text that differs only in surrounding
    whitespace keeps its stored form: browsers drop the final newline of YAML
    `|` blocks, and an untouched field must not show up as a change.
    """
    raw: dict[str, Any] = {
        "id": values["id"],
        "kind": values["kind"],
        "region": values["region"] or "federal",
        "source": values["source"],
        "topics": values["topics"],
        "help": values["help"],
        "cities": values["cities"],
        "phone": values["phone"] or None,
        "url": values["url"] or None,
    }
    if values["reviewed"]:
        raw["reviewed"] = values["reviewed"]
    for name, _, _ in TEXT_FIELDS:
        stored = (previous or {}).get(name) or {}
        texts = {}
        for lang in languages:
            typed = values[f"{name}.{lang}"]
            old = stored.get(lang)
            if typed:
                texts[lang] = old if isinstance(old, str) and old.strip() == typed else typed
        if texts or name in ("title", "summary"):
            raw[name] = texts
    for name, _, _ in LIST_FIELDS:
        lists = {lang: lines(values[f"{name}.{lang}"]) for lang in languages}
        raw[name] = {lang: items for lang, items in lists.items() if items}
    checked = Checked(entry=None)
    condition, problem = parse_eligibility(values["eligibility"])
    if problem:
        checked.add("eligibility", problem)
    raw["eligibility"] = condition
    try:
        entry = Entry.model_validate(raw)
    except ValidationError as exc:
        for error in exc.errors():
            checked.add(error_key(error), error_message(error))
        return checked
    unknown = [c for c in entry.cities if c not in set(cities)]
    if unknown:
        checked.add("cities", "Неизвестные города: " + ", ".join(unknown))
    if entry.id in RESERVED_IDS:
        checked.add("id", "Это слово занято адресом страницы панели; выберите другой id.")
    if not checked.errors:
        checked.entry = entry
    return checked


FIELD_LABELS = {
    "id": "id",
    "kind": "Тип",
    "region": "Регион",
    "topics": "Темы",
    "help": "Виды помощи",
    "cities": "Города",
    "phone": "Телефон",
    "url": "Сайт",
    "eligibility": "Кому положено",
    "source": "Источник",
    "reviewed": "Дата проверки",
    FORM_ERROR: "Запись",
}


def field_label(key: str) -> str:
    """A form field's name for the list of problems at the top of the form."""
    name, _, lang = key.partition(".")
    labels = {n: label for n, label, _ in TEXT_FIELDS} | {n: label for n, label, _ in LIST_FIELDS}
    if name in labels:
        return f"{labels[name]} ({lang or 'ru'})"
    return FIELD_LABELS.get(key, key)


def lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def parse_eligibility(text: str) -> tuple[dict[str, Any] | None, str]:
    """The condition typed as YAML; (None, "") when empty, (None, problem) when unreadable."""
    if not text.strip():
        return None, ""
    try:
        condition = safeyaml.load_condition(text)
    except safeyaml.RefusedYaml as exc:
        return None, f"Условие не принято: {exc}."
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (строка {mark.line + 1})" if mark is not None else ""
        return None, f"Условие не читается как YAML{where}. Проверьте отступы и скобки."
    if condition is None:
        return None, ""
    if not isinstance(condition, dict):
        return None, "Условие должно быть словарём, например: {var: low_income, eq: true}"
    return condition, ""


def error_key(error: ErrorDetails) -> str:
    """Which form field a pydantic error belongs to."""
    loc = [str(part) for part in error["loc"]]
    if not loc:  # the per-kind rules of the whole entry
        message = error["msg"]
        if "phone" in message:
            return "phone"
        if "cities" in message:
            return "cities"
        return FORM_ERROR
    name = loc[0]
    if name in {n for n, _, _ in TEXT_FIELDS} | {n for n, _, _ in LIST_FIELDS}:
        return f"{name}.{loc[1] if len(loc) > 1 else 'ru'}"
    return name


def error_message(error: ErrorDetails) -> str:
    """A pydantic error in the words of the panel."""
    kind, message = error["type"], error["msg"]
    field_name = str(error["loc"][0]) if error["loc"] else ""
    if kind == "missing":
        return "Заполните это поле."
    if kind == "string_pattern_mismatch" and field_name == "id":
        return (
            "Только строчные латинские буквы, цифры и дефис (до 40 знаков), "
            "в начале буква или цифра: например, unified-benefit."
        )
    if kind == "string_too_short":
        return "Слишком коротко: укажите хотя бы несколько слов."
    if kind.startswith("date"):
        return "Укажите дату в виде ГГГГ-ММ-ДД."
    if kind == "literal_error":
        return "Выберите значение из списка."
    if "needs a Russian text" in message:
        return "Нужен текст на русском языке."
    if "hotline needs a phone" in message:
        return "У горячей линии должен быть телефон."
    if "organisation needs cities" in message:
        return "Отметьте города, где работает организация (или «Онлайн»)."
    if "unexpected characters" in message:
        return "В телефоне допустимы цифры, пробелы, «+», «-» и скобки (от 3 до 24 знаков)."
    if "not an http(s) web address" in message:
        return "Адрес сайта должен начинаться с https:// или http://, например https://www.gosuslugi.ru"
    if "is not between" in message and field_name == "reviewed":
        return "Дата проверки должна быть не раньше 2000-01-01 и не позже сегодняшнего дня."
    if "may hold only texts" in message:
        return "В условии допустимы только слова, числа, true/false и списки."
    if "unknown variables" in message:
        return "В условии неизвестные переменные: " + message.split("variables", 1)[1].strip()
    if "unknown topics" in message or "unknown kinds of help" in message:
        return "Выберите значения из списка."
    if field_name == "eligibility":
        return "Условие составлено неверно: " + message.removeprefix("Value error, ")
    return "Проверьте значение: " + message.removeprefix("Value error, ")


def example_condition(entries: Iterable[Entry]) -> str:
    """A real condition from the base, shown as an example next to the field."""
    for entry in entries:
        if entry.kind == "measure" and entry.eligibility and "all" in entry.eligibility:
            return eligibility_text(entry.eligibility)
    return "all:\n- {var: low_income, eq: true}\n- {var: children_count, ge: 1}"


# -- the preview ------------------------------------------------------------------------
_BOLD = re.compile(r"\*\*(.+?)\*\*", re.DOTALL)


def bubble_html(text: str) -> Markup:
    """The bot's plain text with **bold** as the chat shows it (line breaks kept by CSS)."""
    # split() with a group: odd items are the bold parts; every part is escaped.
    parts = _BOLD.split(text)
    bold = Markup("<strong>{}</strong>")
    return Markup("").join(bold.format(p) if i % 2 else escape(p) for i, p in enumerate(parts))


def preview(entry: Entry, services: Services) -> dict[str, Markup]:
    """The entry's card as a family sees it, in every language of the bot."""
    cards: dict[str, Markup] = {}
    for language in services.translator.languages:

        def t(message: str, _lang: str = language, **values: Any) -> str:
            return Turn.fill(services.translator.gettext(_lang, message), values)

        def city(code: str, _lang: str = language) -> str:
            return services.knowledge.city_name(code, _lang)

        cards[language] = bubble_html(entry_card(entry, language, t, city))
    return cards


# -- YAML files --------------------------------------------------------------------------
class _Dumper(yaml.SafeDumper):
    """Block style like the shipped files; multi-line texts as `|` blocks."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        # Items of a nested list indented under their key: easier to read.
        super().increase_indent(flow, False)


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _str)


def export_data(data: Mapping[str, Any]) -> dict[str, Any]:
    """An entry as it is written in knowledge/*.yaml: empty fields left out, a real date."""
    try:
        plain: dict[str, Any] = Entry.model_validate(data).model_dump()
    except ValidationError:  # export what is stored rather than lose it; import will say why
        plain = dict(data)
    return tidy({k: v for k, v in plain.items() if v not in (None, "", [], {})})


def dump_entries(items: Iterable[tuple[Mapping[str, Any], bool]], header: str) -> str:
    """One YAML list of entries; unpublished ones are marked with a comment."""
    parts = ["".join(f"# {line}\n" for line in header.splitlines())]
    for data, published in items:
        text = yaml.dump(
            [export_data(data)],
            Dumper=_Dumper,
            allow_unicode=True,
            sort_keys=False,
            default_flow_style=False,
            width=2**16,  # long texts on one line: easier to edit than folded ones
        )
        note = "" if published else "# не опубликована (семьи её не видят)\n"
        parts.append(note + text)
    return "\n".join(parts)


MAX_IMPORT_BYTES = 2 * 1024 * 1024


MAX_PROBLEMS_SHOWN = 50


@dataclass
class Parsed:
    entries: list[Entry] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def listed(self) -> list[str]:
        """The problems to show: the first ones and how many more (a page of 10,000 is no help)."""
        if len(self.problems) <= MAX_PROBLEMS_SHOWN:
            return list(self.problems)
        rest = len(self.problems) - MAX_PROBLEMS_SHOWN
        return [*self.problems[:MAX_PROBLEMS_SHOWN], f"…и ещё {rest} {problems_word(rest)}."]


def problems_word(count: int) -> str:
    """«проблема» in the form Russian uses after `count`."""
    if count % 10 == 1 and count % 100 != 11:
        return "проблема"
    if 2 <= count % 10 <= 4 and not 12 <= count % 100 <= 14:
        return "проблемы"
    return "проблем"


def parse_import(content: bytes, cities: Iterable[str]) -> Parsed:
    """Every entry of an uploaded file, validated; every problem listed."""
    parsed = Parsed()
    if len(content) > MAX_IMPORT_BYTES:
        parsed.problems.append("Файл больше 2 МБ. Разделите его на части.")
        return parsed
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        parsed.problems.append("Это не текстовый файл в кодировке UTF-8. Нужен файл .yaml.")
        return parsed
    try:
        raw = safeyaml.load(text)
    except safeyaml.RefusedYaml as exc:
        parsed.problems.append(f"Файл не принят: {exc}.")
        return parsed
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" в строке {mark.line + 1}" if mark is not None else ""
        parsed.problems.append(f"Файл не читается как YAML{where}: {getattr(exc, 'problem', '')}")
        return parsed
    if raw is None:
        parsed.problems.append("Файл пустой.")
        return parsed
    if not isinstance(raw, list):
        parsed.problems.append(
            "Нужен список записей (каждая начинается с «- id: …»), как в выгрузке базы."
        )
        return parsed
    known = set(cities)
    seen: set[str] = set()
    for number, item in enumerate(raw, start=1):
        ident = str(item.get("id")) if isinstance(item, dict) and item.get("id") else "без id"
        label = f"Запись №{number} ({ident})"
        if not isinstance(item, dict):
            parsed.problems.append(f"{label}: это не запись, а {type(item).__name__}.")
            continue
        try:
            entry = Entry.model_validate(item)
        except ValidationError as exc:
            for error in exc.errors():
                where = ".".join(str(part) for part in error["loc"]) or "запись"
                parsed.problems.append(f"{label}: {where}: {error_message(error)}")
            continue
        if entry.id in seen:
            parsed.problems.append(f"{label}: id «{entry.id}» встречается в файле дважды.")
            continue
        seen.add(entry.id)
        unknown = [c for c in entry.cities if c not in known]
        if unknown:
            parsed.problems.append(f"{label}: неизвестные города: {', '.join(unknown)}.")
        if entry.id in RESERVED_IDS:
            parsed.problems.append(f"{label}: id «{entry.id}» занят адресом страницы панели.")
        parsed.entries.append(entry)
    if not raw:
        parsed.problems.append("В файле нет ни одной записи.")
    return parsed


# -- journeys that show an entry --------------------------------------------------------
@dataclass(frozen=True)
class Usage:
    """A place in a journey whose button or step shows a knowledge entry."""

    journey: str
    title: str
    node: str
    label: str  # the button's text, "" when the step itself shows it


def entry_usages(book: JourneyBook, entry_id: str) -> list[Usage]:
    """Every journey node that shows `entry_id` with the `show_entry` action.

    Like `bot.journeys.lint`, which checks these ids exist; here they warn staff
    that unpublishing or deleting the entry leaves a button that answers "not found".
    """
    usages: list[Usage] = []
    for name, journey in sorted(book.journeys.items()):
        for node_name, node in journey.nodes.items():
            calls: list[tuple[str, Mapping[str, Any]]] = []
            if node.do == "show_entry":
                calls.append(("", node.args))
            if node.input and node.input.do == "show_entry":
                calls.append(("", node.input.args))
            calls += [(b.label, b.args) for b in node.flat_buttons() if b.do == "show_entry"]
            usages += [
                Usage(name, journey.title, node_name, label)
                for label, args in calls
                if str(args.get("id", "")) == entry_id
            ]
    return usages
