"""Knowledge base editing in the panel: what an editor changes reaches families at
once, bad input is refused without losing what was typed, and every change is audited."""

from __future__ import annotations

import shutil
import time
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import event, select

from admin.knowledge_forms import entry_usages, values_from_data
from bot.core.services import Services
from bot.knowledge.loader import load_directory
from bot.storage.models import AuditRecord, KnowledgeEntry
from tests.admin.conftest import StaffClient
from tests.support.family import TestFamily

Clients = Callable[[str], Awaitable[StaffClient]]
ROOT = Path(__file__).resolve().parents[2]
ENTRY = "unified-benefit"
TITLE_RU = "Единое пособие на детей и беременным"
TITLE_EN = "Unified allowance for children and pregnant women"


async def stored(services: Services, entry_id: str) -> KnowledgeEntry | None:
    async with services.db.session() as session:
        return await session.get(KnowledgeEntry, entry_id)


async def audit_records(services: Services, action: str | None = None) -> list[AuditRecord]:
    query = select(AuditRecord).where(AuditRecord.entity == "knowledge").order_by(AuditRecord.id)
    if action:
        query = query.where(AuditRecord.action == action)
    async with services.db.session() as session:
        return list((await session.scalars(query)).all())


async def edit_form(services: Services, entry_id: str) -> dict[str, Any]:
    """The edit form as the browser would post it unchanged."""
    row = await stored(services, entry_id)
    assert row is not None
    values = values_from_data(row.data, row.published, services.translator.languages)
    data: dict[str, Any] = {k: v for k, v in values.items() if k not in ("id", "published")}
    if row.published:
        data["published"] = "1"
    data["action"] = "save"
    return data


def yaml_upload(text: str, name: str = "base.yaml") -> dict[str, Any]:
    return {"file": (name, text.encode("utf-8"), "application/yaml")}


NEW_ENTRY = """
- id: test-new-hotline
  kind: hotline
  title: {ru: "Тестовая линия помощи семьям", en: "Test family helpline"}
  summary: {ru: "Проверочная горячая линия для семей с детьми."}
  phone: "8-800-000-00-00"
  topics: [crisis]
  source: "Тестовый источник"
  reviewed: 2026-10-01
"""


# -- editing reaches the bot -----------------------------------------------------------
async def test_editor_edit_changes_the_bots_answer_at_once(
    staff_client: Clients, services: Services, family: TestFamily
) -> None:
    editor = await staff_client("editor")
    page = await editor.get(f"/admin/knowledge/{ENTRY}/edit")
    assert page.status_code == 200 and TITLE_RU in page.text
    data = await edit_form(services, ENTRY)
    wording = "Ежемесячная выплата семьям с невысоким доходом — новая формулировка редактора."
    data["summary.ru"] = wording
    response = await editor.post(f"/admin/knowledge/{ENTRY}/edit", data)
    assert response.status_code == 303
    assert response.headers["location"].endswith(f"/knowledge/{ENTRY}")

    entry = services.knowledge.get(ENTRY)
    assert entry is not None and entry.text("summary", "ru") == wording
    found = await services.knowledge.search("единое пособие")
    assert found.matches[0].id == ENTRY
    await family.send("единое пособие")
    assert wording in family.text

    view = await editor.get(f"/admin/knowledge/{ENTRY}")
    assert "Изменения сохранены" in view.text and wording in view.text

    [record] = await audit_records(services, "update")
    assert record.entity_id == ENTRY and record.user_login == "editor-user"
    assert record.before is not None and record.after is not None
    assert record.before["summary"]["ru"] != wording and record.after["summary"]["ru"] == wording
    assert record.before["published"] is True and record.after["published"] is True


async def test_saving_an_unchanged_form_writes_nothing(
    staff_client: Clients, services: Services
) -> None:
    editor = await staff_client("editor")
    response = await editor.post(f"/admin/knowledge/{ENTRY}/edit", await edit_form(services, ENTRY))
    assert response.status_code == 303
    assert await audit_records(services) == []


async def test_a_bad_form_is_refused_and_keeps_what_was_typed(
    staff_client: Clients, services: Services
) -> None:
    editor = await staff_client("editor")
    before = await stored(services, ENTRY)
    data = await edit_form(services, ENTRY)
    data.update(
        {
            "title.ru": "Моё новое название",
            "summary.ru": "",
            "phone": "звоните нам!",
            "eligibility": "all: [ {var: low_income",
        }
    )
    response = await editor.post(f"/admin/knowledge/{ENTRY}/edit", data)
    assert response.status_code == 400
    html = response.text
    assert "Запись не сохранена" in html
    assert 'value="Моё новое название"' in html
    assert "звоните нам!" in html and "all: [ {var: low_income" in html
    assert "Коротко (первые строки карточки) (ru): Нужен текст на русском языке." in html
    assert "В телефоне допустимы цифры" in html
    assert "Условие не читается как YAML" in html
    after = await stored(services, ENTRY)
    assert before is not None and after is not None and after.data == before.data
    assert await audit_records(services) == []

    # An unknown variable in the condition and a malformed id on a new entry.
    created = await editor.post(
        "/admin/knowledge/new",
        {
            "id": "Новая Запись",
            "kind": "measure",
            "region": "federal",
            "title.ru": "Черновик меры",
            "summary.ru": "Коротко о мере.",
            "eligibility": "{var: salary, gt: 10}",
            "source": "Закон",
            "reviewed": "2026-11-01",
        },
    )
    assert created.status_code == 400
    assert 'value="Новая Запись"' in created.text and "Черновик меры" in created.text
    assert "строчные латинские буквы" in created.text
    assert "неизвестные переменные" in created.text and "salary" in created.text
    async with services.db.session() as session:
        assert (
            await session.scalar(select(KnowledgeEntry).where(KnowledgeEntry.id.like("%запись%")))
            is None
        )


async def test_a_save_over_someone_elses_change_is_stopped(
    staff_client: Clients, services: Services
) -> None:
    editor = await staff_client("editor")
    data = await edit_form(services, ENTRY)
    data["summary.ru"] = "Моя версия текста."
    data["version"] = "2020-01-01T00:00:00"  # the form was opened before someone saved
    response = await editor.post(f"/admin/knowledge/{ENTRY}/edit", data)
    assert response.status_code == 400
    assert "успел сохранить кто-то другой" in response.text
    assert "Моя версия текста." in response.text
    row = await stored(services, ENTRY)
    assert row is not None and row.data["summary"]["ru"] != "Моя версия текста."
    # The form now carries the current stamp: saving again is a deliberate overwrite.
    data["version"] = row.updated_at.isoformat()
    assert (await editor.post(f"/admin/knowledge/{ENTRY}/edit", data)).status_code == 303


async def test_an_empty_post_is_a_400_not_a_crash(staff_client: Clients) -> None:
    editor = await staff_client("editor")
    assert (await editor.post("/admin/knowledge/new", {})).status_code == 400
    assert (await editor.post(f"/admin/knowledge/{ENTRY}/edit", {})).status_code == 400
    assert (await editor.post("/admin/knowledge/import", {})).status_code == 400
    assert (await editor.post("/admin/knowledge/no-such-entry/edit", {})).status_code == 404
    assert (await editor.post("/admin/knowledge/no-such-entry/publish", {})).status_code == 404
    assert (await editor.get("/admin/knowledge/no-such-entry")).status_code == 404


async def test_create_a_new_entry_and_the_bot_finds_it(
    staff_client: Clients, services: Services, family: TestFamily
) -> None:
    editor = await staff_client("editor")
    form = {
        "id": "test-diapers",
        "kind": "article",
        "region": "dagestan",
        "title.ru": "Бесплатные подгузники для новорождённых",
        "summary.ru": "Пачку подгузников выдают в центре каждой семье с малышом до года.",
        "keywords.ru": "подгузники\nпамперсы бесплатно\n",
        "topics": ["newborn", "low_income"],
        "source": "Тестовый источник",
        "reviewed": "2026-11-20",
        "published": "1",
        "action": "save",
    }
    response = await editor.post("/admin/knowledge/new", form)
    assert response.status_code == 303
    entry = services.knowledge.get("test-diapers")
    assert entry is not None and entry.keywords["ru"] == ["подгузники", "памперсы бесплатно"]
    await family.send("где взять памперсы бесплатно")
    assert "Пачку подгузников выдают" in family.text
    [record] = await audit_records(services, "create")
    assert record.before is None and record.after is not None
    assert record.after["topics"] == ["newborn", "low_income"] and record.after["published"]
    # The same id again is refused with a clear message.
    again = await editor.post("/admin/knowledge/new", form)
    assert again.status_code == 400 and "Запись с таким id уже есть" in again.text


# -- publishing, review, delete ------------------------------------------------------------
async def test_unpublish_hides_the_entry_from_the_bot(
    staff_client: Clients, services: Services
) -> None:
    editor = await staff_client("editor")
    response = await editor.post(f"/admin/knowledge/{ENTRY}/unpublish")
    assert response.status_code == 303
    assert services.knowledge.get(ENTRY) is None
    found = await services.knowledge.search("единое пособие")
    assert ENTRY not in [m.id for m in found.matches]
    row = await stored(services, ENTRY)
    assert row is not None and row.published is False
    view = await editor.get(f"/admin/knowledge/{ENTRY}")
    assert "снята с публикации" in view.text and "Опубликовать" in view.text

    unpublished = await editor.get("/admin/knowledge?published=no")
    assert TITLE_RU in unpublished.text and "Материнский" not in unpublished.text

    assert (await editor.post(f"/admin/knowledge/{ENTRY}/publish")).status_code == 303
    assert services.knowledge.get(ENTRY) is not None
    [hidden] = await audit_records(services, "unpublish")
    assert hidden.before is not None and hidden.after is not None
    assert hidden.before["published"] is True and hidden.after["published"] is False
    assert len(await audit_records(services, "publish")) == 1


async def set_reviewed(services: Services, entry_id: str, day: date) -> None:
    """As if the entry had last been checked on `day`."""
    async with services.db.session() as session:
        row = await session.get(KnowledgeEntry, entry_id)
        assert row is not None
        row.data = {**row.data, "reviewed": day.isoformat()}
        row.reviewed = day


async def test_mark_reviewed_today_and_delete(staff_client: Clients, services: Services) -> None:
    await set_reviewed(services, ENTRY, date(2024, 1, 10))
    editor = await staff_client("admin")
    assert (await editor.post(f"/admin/knowledge/{ENTRY}/reviewed")).status_code == 303
    row = await stored(services, ENTRY)
    assert row is not None and row.reviewed > date(2026, 1, 1)
    assert row.data["reviewed"] == row.reviewed.isoformat()
    assert services.knowledge.get(ENTRY) is not None
    assert len(await audit_records(services, "reviewed")) == 1

    response = await editor.post(f"/admin/knowledge/{ENTRY}/delete")
    assert response.status_code == 303 and response.headers["location"].endswith("/knowledge")
    assert await stored(services, ENTRY) is None
    assert services.knowledge.get(ENTRY) is None
    [deleted] = await audit_records(services, "delete")
    assert deleted.before is not None and deleted.before["id"] == ENTRY and deleted.after is None


# -- the preview ---------------------------------------------------------------------------
async def test_preview_shows_the_card_in_russian_and_english(
    staff_client: Clients, services: Services
) -> None:
    consultant = await staff_client("consultant")
    view = await consultant.get(f"/admin/knowledge/{ENTRY}")
    assert view.status_code == 200
    assert f"<strong>{TITLE_RU}</strong>" in view.text
    assert f"<strong>{TITLE_EN}</strong>" in view.text
    assert "<strong>Куда обращаться:</strong>" in view.text
    assert "<strong>Where to apply:</strong>" in view.text
    assert "Source:" in view.text and "Источник:" in view.text
    assert "Редактировать" not in view.text  # no edit buttons for a consultant

    # An unsaved form's preview: HTML typed by the editor is shown as text, nothing stored.
    editor = await staff_client("editor")
    data = await edit_form(services, ENTRY)
    data.update({"title.ru": "Пособие <script>x</script>", "action": "preview"})
    preview = await editor.post(f"/admin/knowledge/{ENTRY}/edit", data)
    assert preview.status_code == 200
    assert "<strong>Пособие &lt;script&gt;x&lt;/script&gt;</strong>" in preview.text
    assert "<script>x" not in preview.text
    row = await stored(services, ENTRY)
    assert row is not None and row.data["title"]["ru"] == TITLE_RU
    assert await audit_records(services) == []


# -- the list ------------------------------------------------------------------------------
async def test_stale_filter_lists_entries_not_reviewed_for_months(
    staff_client: Clients, services: Services
) -> None:
    await set_reviewed(services, ENTRY, date(2025, 1, 15))
    editor = await staff_client("editor")
    page = await editor.get("/admin/knowledge?stale=1")
    assert page.status_code == 200
    assert TITLE_RU in page.text and "15.01.2025" in page.text and "давно" in page.text
    assert "Материнский (семейный) капитал" not in page.text
    everything = await editor.get("/admin/knowledge")
    assert "Материнский (семейный) капитал" in everything.text
    assert "Показано записей: 104 из 104" in everything.text


async def test_list_filters_and_search_use_one_query(
    staff_client: Clients, services: Services
) -> None:
    editor = await staff_client("editor")
    await editor.get("/admin/knowledge")  # warm up: the session check and the CSRF page
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    engine = services.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        page = await editor.get("/admin/knowledge?kind=hotline&q=довери")
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert page.status_code == 200
    assert "телефон доверия" in page.text.lower()
    assert "Единое пособие" not in page.text
    knowledge_queries = [s for s in statements if "knowledge_entries" in s]
    assert len(knowledge_queries) <= 2  # the rows and the total, whatever their number


# -- export and import ----------------------------------------------------------------------
async def test_export_import_round_trip_of_the_whole_base(
    staff_client: Clients, services: Services, tmp_path: Path
) -> None:
    editor = await staff_client("editor")
    await editor.post(f"/admin/knowledge/{ENTRY}/unpublish")

    published = await editor.get("/admin/knowledge/export")
    assert published.status_code == 200
    assert "attachment" in published.headers["content-disposition"]
    assert f"id: {ENTRY}\n" not in published.text

    full = await editor.get("/admin/knowledge/export?include=unpublished")
    assert f"# не опубликована (семьи её не видят)\n- id: {ENTRY}\n" in full.text
    (tmp_path / "base.yaml").write_text(full.text, encoding="utf-8")
    shutil.copy(ROOT / "knowledge" / "cities.yaml", tmp_path / "cities.yaml")
    loaded = load_directory(tmp_path)  # the bot's own loader reads it without a problem
    assert len(loaded.entries) == 104
    shipped = {e.id: e for e in load_directory(ROOT / "knowledge").entries}
    assert {e.id: e for e in loaded.entries} == shipped
    assert "summary:\n    ru: " in full.text and "  body:\n    ru: |\n" in full.text

    response = await editor.post(
        "/admin/knowledge/import", {"replace": "1"}, files=yaml_upload(full.text)
    )
    assert response.status_code == 200, response.text
    assert "<dt>Без изменений</dt><dd>104</dd>" in response.text
    assert "<dt>Добавлено</dt><dd>0</dd>" in response.text
    assert "<dt>Заменено</dt><dd>0</dd>" in response.text
    assert await audit_records(services, "import") == []
    row = await stored(services, ENTRY)
    assert row is not None and row.published is False  # import keeps the publish state


async def test_import_adds_replaces_and_skips(staff_client: Clients, services: Services) -> None:
    editor = await staff_client("editor")
    full = await editor.get("/admin/knowledge/export")
    entries = yaml.safe_load(full.text)
    changed = next(e for e in entries if e["id"] == ENTRY)
    changed["summary"]["ru"] = "Сумма зависит от дохода семьи (текст из файла)."
    text = yaml.safe_dump([changed], allow_unicode=True, sort_keys=False) + NEW_ENTRY

    skipped = await editor.post("/admin/knowledge/import", {}, files=yaml_upload(text))
    assert skipped.status_code == 200
    assert "<dt>Добавлено</dt><dd>1</dd>" in skipped.text
    assert "<dt>Пропущено</dt><dd>1 — такие записи уже есть" in skipped.text
    assert "не опубликованы" in skipped.text  # the new one waits for a check
    new = await stored(services, "test-new-hotline")
    assert new is not None and new.published is False
    assert services.knowledge.get("test-new-hotline") is None
    entry = services.knowledge.get(ENTRY)
    assert entry is not None and "текст из файла" not in entry.text("summary", "ru")

    replaced = await editor.post(
        "/admin/knowledge/import", {"replace": "1", "publish": "1"}, files=yaml_upload(text)
    )
    assert "<dt>Заменено</dt><dd>1</dd>" in replaced.text
    assert "<dt>Без изменений</dt><dd>1</dd>" in replaced.text
    entry = services.knowledge.get(ENTRY)
    assert entry is not None and "текст из файла" in entry.text("summary", "ru")

    records = await audit_records(services, "import")
    assert [r.entity_id for r in records] == ["test-new-hotline", ENTRY]
    assert records[0].before is None and records[0].after is not None
    assert records[1].before is not None and records[1].after is not None
    assert "текст из файла" in records[1].after["summary"]["ru"]


async def test_import_with_a_broken_entry_writes_nothing(
    staff_client: Clients, services: Services
) -> None:
    editor = await staff_client("editor")
    broken = (
        NEW_ENTRY
        + """
- id: test-broken
  kind: brochure
  title: {en: "No Russian title"}
  cities: [atlantis]
  source: "Тест"
  reviewed: 2026-10-01
"""
    )
    response = await editor.post(
        "/admin/knowledge/import", {"replace": "1", "publish": "1"}, files=yaml_upload(broken)
    )
    assert response.status_code == 400
    html = response.text
    assert "Ничего не записано" in html
    assert "Запись №2 (test-broken): kind: Выберите значение из списка." in html
    assert "Запись №2 (test-broken): summary: Заполните это поле." in html
    assert "Нужен текст на русском языке" in html
    assert await stored(services, "test-new-hotline") is None
    assert await audit_records(services) == []

    unknown_city = NEW_ENTRY.replace("topics: [crisis]", "topics: [crisis]\n  cities: [atlantis]")
    response = await editor.post("/admin/knowledge/import", {}, files=yaml_upload(unknown_city))
    assert response.status_code == 400 and "неизвестные города: atlantis" in response.text

    not_yaml = await editor.post(
        "/admin/knowledge/import", {}, files=yaml_upload("- id: [unclosed\n  kind: x: y")
    )
    assert not_yaml.status_code == 400 and "не читается как YAML" in not_yaml.text
    binary = await editor.post(
        "/admin/knowledge/import", {}, files={"file": ("x.yaml", b"\xff\xfe\x00bad", "text/yaml")}
    )
    assert binary.status_code == 400 and "UTF-8" in binary.text
    huge = "# " + "x" * (2 * 1024 * 1024) + "\n" + NEW_ENTRY
    too_big = await editor.post("/admin/knowledge/import", {}, files=yaml_upload(huge))
    assert too_big.status_code == 400 and "больше 2 МБ" in too_big.text
    assert await stored(services, "test-new-hotline") is None


# -- roles --------------------------------------------------------------------------------
async def test_a_consultant_can_read_but_not_change(
    staff_client: Clients, services: Services
) -> None:
    consultant = await staff_client("consultant")
    assert (await consultant.get("/admin/knowledge")).status_code == 200
    assert (await consultant.get(f"/admin/knowledge/{ENTRY}")).status_code == 200
    listing = await consultant.get("/admin/knowledge")
    assert "Новая запись" not in listing.text and "Загрузить из файла" not in listing.text
    # The export holds unpublished drafts: it is for the people who edit the base.
    assert "Выгрузить базу в файл" not in listing.text
    for path in ("/new", f"/{ENTRY}/edit", "/import", "/export", "/export?include=unpublished"):
        assert (await consultant.get(f"/admin/knowledge{path}")).status_code == 403
    for path in (f"/{ENTRY}/edit", f"/{ENTRY}/publish", f"/{ENTRY}/unpublish", f"/{ENTRY}/delete"):
        assert (await consultant.post(f"/admin/knowledge{path}", {})).status_code == 403
    response = await consultant.post("/admin/knowledge/import", {}, files=yaml_upload(NEW_ENTRY))
    assert response.status_code == 403
    assert await stored(services, "test-new-hotline") is None
    assert services.knowledge.get(ENTRY) is not None
    assert await audit_records(services) == []

    partner = await staff_client("partner")
    assert (await partner.get("/admin/knowledge")).status_code == 403


# -- hostile or mistaken YAML from staff -----------------------------------------------------
def alias_bomb() -> str:
    """Half a kilobyte that yaml.safe_load expands into 10**7 conditions (seconds of work)."""
    lines = ["all:", "- &a0 {var: low_income, eq: true}"]
    for level in range(1, 8):
        refs = ", ".join([f"*a{level - 1}"] * 10)
        lines.append(f"- &a{level} {{all: [{refs}]}}")
    return "\n".join(lines)


async def test_a_condition_with_aliases_or_deep_nesting_is_refused_at_once(
    staff_client: Clients, services: Services
) -> None:
    editor = await staff_client("editor")
    deep = "{not: " * 3000 + "{var: low_income, eq: true}" + "}" * 3000
    cases = [
        (alias_bomb(), "ссылки на другие части файла"),
        (deep, "слишком глубокая вложенность"),
        ("{var: low_income, eq: true, eq: false}", "ключ «eq» повторяется"),
        ("{var: youngest_age, lt: .inf}", "не поддерживается"),
        ("{var: youngest_age, eq: 2026-01-01}", "дата 2026-01-01"),
    ]
    for condition, reason in cases:
        for action in ("preview", "save"):
            data = await edit_form(services, ENTRY)
            data.update({"eligibility": condition, "action": action})
            started = time.monotonic()
            response = await editor.post(f"/admin/knowledge/{ENTRY}/edit", data)
            assert time.monotonic() - started < 2, (reason, action)
            assert response.status_code == 400, (reason, action)
            assert "Условие не принято" in response.text and reason in response.text
    row = await stored(services, ENTRY)
    assert row is not None and row.data["eligibility"]["all"][0] != {"not": {}}
    assert await audit_records(services) == []


async def test_an_import_with_aliases_or_duplicate_keys_is_refused(
    staff_client: Clients, services: Services
) -> None:
    editor = await staff_client("editor")
    aliased = NEW_ENTRY.replace("topics: [crisis]", "topics: &t [crisis]\n  help: *t")
    response = await editor.post("/admin/knowledge/import", {}, files=yaml_upload(aliased))
    assert response.status_code == 400
    assert "Файл не принят: ссылки на другие части файла (*t)" in response.text
    twice = NEW_ENTRY.replace("  kind: hotline\n", "  kind: hotline\n  kind: article\n")
    response = await editor.post("/admin/knowledge/import", {}, files=yaml_upload(twice))
    assert response.status_code == 400
    assert "Файл не принят: ключ «kind» повторяется дважды (строка 4)" in response.text
    deep = "- id: deep\n  eligibility: " + "{not: " * 3000 + "{var: x, set: true}" + "}" * 3000
    response = await editor.post("/admin/knowledge/import", {}, files=yaml_upload(deep))
    assert response.status_code == 400 and "слишком глубокая вложенность" in response.text
    assert await stored(services, "test-new-hotline") is None
    assert await audit_records(services) == []


async def test_an_import_lists_at_most_50_problems(staff_client: Clients) -> None:
    editor = await staff_client("editor")
    broken = "".join(f"- id: broken-{n}\n  kind: hotline\n" for n in range(30))
    response = await editor.post("/admin/knowledge/import", {}, files=yaml_upload(broken))
    assert response.status_code == 400
    html = response.text
    # Each entry lacks title, summary, source and reviewed: 120 problems.
    assert "найдено проблем: 120" in html
    assert html.count("<li>Запись №") == 50
    assert "…и ещё 70 проблем." in html


# -- what families would be sent ---------------------------------------------------------------
async def test_a_link_must_be_a_web_address_and_review_dates_real(
    staff_client: Clients, services: Services
) -> None:
    editor = await staff_client("editor")
    for field, value, message in [
        ("url", "javascript:alert(1)", "Адрес сайта должен начинаться с https://"),
        ("url", "https://", "Адрес сайта должен начинаться с https://"),
        ("url", "www.gosuslugi.ru", "Адрес сайта должен начинаться с https://"),
        ("reviewed", "2099-01-01", "не позже сегодняшнего дня"),
        ("reviewed", "1999-12-31", "не раньше 2000-01-01"),
    ]:
        data = await edit_form(services, ENTRY)
        data[field] = value
        response = await editor.post(f"/admin/knowledge/{ENTRY}/edit", data)
        assert response.status_code == 400, (field, value)
        assert message in response.text and value in response.text
    assert await audit_records(services) == []

    data = await edit_form(services, ENTRY)
    data["url"] = "https://www.gosuslugi.ru/help/faq/family?x=1#top"
    assert (await editor.post(f"/admin/knowledge/{ENTRY}/edit", data)).status_code == 303

    future = NEW_ENTRY.replace("reviewed: 2026-10-01", "reviewed: 2099-01-01")
    response = await editor.post("/admin/knowledge/import", {}, files=yaml_upload(future))
    assert response.status_code == 400 and "не позже сегодняшнего дня" in response.text
    bad_url = NEW_ENTRY.replace("topics: [crisis]", "topics: [crisis]\n  url: 'javascript:x()'")
    response = await editor.post("/admin/knowledge/import", {}, files=yaml_upload(bad_url))
    assert response.status_code == 400 and "url: Адрес сайта должен" in response.text


# -- entries that journeys show ------------------------------------------------------------------
async def test_the_entry_page_warns_which_journeys_show_it(staff_client: Clients) -> None:
    editor = await staff_client("editor")
    view = await editor.get(f"/admin/knowledge/{ENTRY}")
    assert view.status_code == 200
    html = view.text
    assert "Эту запись показывают сценарии бота" in html
    assert "/admin/journeys/pregnancy#node-" in html and "кнопка «Единое пособие»" in html
    unpublish = html.split('/unpublish"', 1)[1].split(">", 1)[0]
    delete = html.split('/delete"', 1)[1].split(">", 1)[0]
    for confirm in (unpublish, delete):
        assert "бот ответит «Эта справка больше недоступна»" in confirm

    # An entry no journey shows: no warning, the plain confirmations.
    lonely = await editor.get("/admin/knowledge/org-teplyi-dom")
    assert lonely.status_code == 200
    assert "Эту запись показывают сценарии" not in lonely.text
    assert "Эта справка больше недоступна" not in lonely.text


def test_entry_usages_finds_buttons_and_steps(services: Services) -> None:
    usages = entry_usages(services.book, ENTRY)
    assert any(u.journey == "pregnancy" and u.label == "Единое пособие" for u in usages)
    assert entry_usages(services.book, "no-such-entry") == []
