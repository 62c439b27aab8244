"""`family-window dialogs check` passes on the shipped journeys and fails, with
a clear message, on each kind of broken journey."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest
from babel.messages.pofile import read_po, write_po

from bot.cli import main

ROOT = Path(__file__).resolve().parents[2]


def check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["dialogs", "check", *args])
    return code, capsys.readouterr().out


@pytest.fixture
def dialogs(tmp_path: Path) -> Path:
    """A copy of the shipped journeys to break."""
    target = tmp_path / "dialogs"
    shutil.copytree(ROOT / "dialogs", target)
    return target


def add(dialogs: Path, name: str, body: str) -> None:
    (dialogs / name).write_text(textwrap.dedent(body), encoding="utf-8")


def link_from_menu(dialogs: Path, journey: str) -> None:
    """Make a test journey reachable: a button at the end of the main menu."""
    menu = dialogs / "menu.yaml"
    text = menu.read_text(encoding="utf-8")
    anchor = "        - label: ⚙️ Настройки\n          goto: settings\n"
    assert anchor in text
    extra = f"      - label: Тест\n        goto: {journey}\n"
    menu.write_text(text.replace(anchor, anchor + extra), encoding="utf-8")


def test_shipped_journeys_pass(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = check(capsys)
    assert code == 0, out
    assert out.startswith("ok:")
    assert "ru, en" in out


def test_unknown_target(dialogs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    add(
        dialogs,
        "broken.yaml",
        """
        id: broken
        title: Тест
        topic: test
        start: start
        nodes:
          start:
            text: Привет
            buttons:
              - label: Дальше
                goto: nowhere
        """,
    )
    link_from_menu(dialogs, "broken")
    code, out = check(capsys, "--dir", str(dialogs))
    assert code == 1
    assert "broken:start: goes to unknown target 'nowhere'" in out


def test_dead_end_and_unreachable(dialogs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    add(
        dialogs,
        "broken.yaml",
        """
        id: broken
        title: Тест
        topic: test
        start: start
        nodes:
          start:
            text: Привет
            buttons:
              - label: Дальше
                goto: stuck
          stuck:
            text: Здесь ничего нет
          orphan:
            text: Сюда никто не ведёт
            final: true
        """,
    )
    link_from_menu(dialogs, "broken")
    code, out = check(capsys, "--dir", str(dialogs))
    assert code == 1
    assert "broken:stuck: dead end" in out
    assert "broken:orphan: unreachable" in out


def test_unlinked_journey_is_unreachable(dialogs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    add(
        dialogs,
        "lonely.yaml",
        """
        id: lonely
        title: Тест
        topic: test
        start: start
        nodes:
          start:
            text: Привет
            final: true
        """,
    )
    code, out = check(capsys, "--dir", str(dialogs))
    assert code == 1
    assert "lonely:start: unreachable" in out


def test_platform_limits(dialogs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    add(
        dialogs,
        "broken.yaml",
        """
        id: verylongjourneyx
        title: Тест
        topic: test
        start: start
        vars:
          pick: {label: Выбор, personal: false}
        nodes:
          start:
            text: Выберите
            buttons:
              - label: Эта надпись на кнопке слишком длинная для ВКонтакте, правда
                goto: averyveryverylongnodenamethatgoe
          averyveryverylongnodenamethatgoe:
            text: Город?
            options: {from: cities, var: pick, goto: start}
        """,
    )
    link_from_menu(dialogs, "verylongjourneyx")
    code, out = check(capsys, "--dir", str(dialogs))
    assert code == 1
    assert "VK allows 40" in out
    assert "exceed 64 bytes" in out


def test_unknown_action_and_undeclared_variable(
    dialogs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    add(
        dialogs,
        "broken.yaml",
        """
        id: broken
        title: Тест
        topic: test
        start: start
        nodes:
          start:
            text: Привет
            buttons:
              - label: Сделать
                do: launch_rocket
              - label: Ответ
                set: {mood: good}
                goto: start
              - label: Видно не всем
                if: {var: pregnat, eq: true}
                goto: start
        """,
    )
    link_from_menu(dialogs, "broken")
    code, out = check(capsys, "--dir", str(dialogs))
    assert code == 1
    assert "calls unknown action 'launch_rocket'" in out
    assert "stores undeclared variable 'mood'" in out
    assert "reads undeclared variable 'pregnat'" in out


def test_switch_without_default(dialogs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    add(
        dialogs,
        "broken.yaml",
        """
        id: broken
        title: Тест
        topic: test
        start: route
        nodes:
          route:
            switch:
              - if: {var: pregnant, eq: true}
                goto: pregnant_yes
          pregnant_yes:
            text: Да
            final: true
        """,
    )
    link_from_menu(dialogs, "broken")
    code, out = check(capsys, "--dir", str(dialogs))
    assert code == 1
    assert "switch has no default case" in out


def test_unknown_knowledge_entry(dialogs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    add(
        dialogs,
        "broken.yaml",
        """
        id: broken
        title: Тест
        topic: test
        start: start
        nodes:
          start:
            text: Справка
            buttons:
              - label: Показать
                do: show_entry
                with: {id: no-such-entry}
        """,
    )
    link_from_menu(dialogs, "broken")
    code, out = check(capsys, "--dir", str(dialogs))
    assert code == 1
    assert "shows unknown knowledge entry 'no-such-entry'" in out


def test_broken_yaml_and_schema(dialogs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    add(dialogs, "typo.yaml", "id: typo\ntitle: [unclosed\n")
    add(
        dialogs,
        "schema.yaml",
        """
        id: Bad-Id
        title: Тест
        topic: test
        start: start
        nodes:
          start:
            text: Привет
            buttons:
              - label: Никуда
        """,
    )
    code, out = check(capsys, "--dir", str(dialogs))
    assert code == 1
    assert "typo.yaml: not valid YAML" in out
    assert "schema.yaml: id" in out
    assert "needs goto, do or url" in out


def test_missing_translation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    locales = tmp_path / "locales"
    shutil.copytree(ROOT / "locales", locales)
    po = locales / "en" / "LC_MESSAGES" / "messages.po"
    with po.open("rb") as fh:
        catalog = read_po(fh)
    question = "Чем помочь? Выберите тему или просто напишите вопрос своими словами."
    message = catalog.get(question)
    assert message is not None and message.string
    message.string = ""  # as if nobody translated the main menu's question
    with po.open("wb") as fh:
        write_po(fh, catalog)
    code, out = check(capsys, "--locales", str(locales))
    assert code == 1
    assert "menu:start.text: [en] missing translation of 'Чем помочь?" in out


def test_translation_with_wrong_placeholder(
    dialogs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    add(
        dialogs,
        "broken.yaml",
        """
        id: broken
        title: Тест
        topic: test
        start: start
        vars:
          weeks: {label: Срок, personal: false}
        nodes:
          start:
            text: "Срок: {weeks} нед."
            final: true
        """,
    )
    link_from_menu(dialogs, "broken")
    locales = tmp_path / "locales"
    shutil.copytree(ROOT / "locales", locales)
    po = locales / "en" / "LC_MESSAGES" / "messages.po"
    with po.open("rb") as fh:
        catalog = read_po(fh)
    catalog.add("Тест", "Test")
    catalog.add("Срок: {weeks} нед.", "Term: {week} wk.")
    with po.open("wb") as fh:
        write_po(fh, catalog)
    code, out = check(capsys, "--dir", str(dialogs), "--locales", str(locales))
    assert code == 1
    assert "placeholders ['week'] differ from the source ['weeks']" in out
