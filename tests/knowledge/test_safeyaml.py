"""The YAML loader for text from staff: the shipped base reads as before, and
what could stall the bot (aliases, deep nesting, huge node counts) or does not
fit JSON is refused at once with a reason staff can read."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import pytest
import yaml

from bot.knowledge import safeyaml
from bot.knowledge.safeyaml import RefusedYaml

ROOT = Path(__file__).resolve().parents[2]


def alias_bomb(levels: int = 7, width: int = 10) -> str:
    """~500 characters that `yaml.safe_load` turns into 10**7 condition leaves."""
    lines = ["- &a0 {var: low_income, eq: true}"]
    for level in range(1, levels + 1):
        refs = ", ".join([f"*a{level - 1}"] * width)
        lines.append(f"- &a{level} {{all: [{refs}]}}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("path", sorted((ROOT / "knowledge").glob("*.yaml")), ids=lambda p: p.name)
def test_the_shipped_files_read_the_same_as_with_safe_load(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert safeyaml.load(text) == yaml.safe_load(text)


def test_aliases_are_refused_before_anything_is_expanded() -> None:
    started = time.monotonic()
    for load in (safeyaml.load, safeyaml.load_condition):
        with pytest.raises(RefusedYaml, match="ссылки на другие части файла") as caught:
            load(alias_bomb())
        assert caught.value.line == 2
    assert time.monotonic() - started < 1
    with pytest.raises(RefusedYaml, match=r"\*base"):
        safeyaml.load("a: &base {x: 1}\nb: *base\n")


def test_duplicate_keys_are_refused() -> None:
    with pytest.raises(RefusedYaml, match="ключ «ru» повторяется") as caught:
        safeyaml.load("- id: x\n  title:\n    ru: один\n    ru: два\n")
    assert caught.value.line == 4
    with pytest.raises(RefusedYaml, match="ключ «var» повторяется"):
        safeyaml.load_condition("{var: low_income, var: pregnant, eq: true}")


def test_keys_must_be_words() -> None:
    # YAML 1.1 reads a bare `no` as false: silently losing the key would be worse.
    with pytest.raises(RefusedYaml, match="в кавычки"):
        safeyaml.load("{ru: да, no: nei}")
    with pytest.raises(RefusedYaml, match="ключ 1"):
        safeyaml.load_condition("{1: x}")
    assert safeyaml.load("{ru: да, 'no': nei}") == {"ru": "да", "no": "nei"}


@pytest.mark.parametrize("opening", ["{not: ", "[", "- "])
def test_deep_nesting_is_refused_not_a_recursion_error(opening: str) -> None:
    if opening == "- ":
        text = "".join("  " * i + "-\n" for i in range(3000))
    else:
        closing = "}" if opening.startswith("{") else "]"
        text = opening * 3000 + "{var: x, set: true}" + closing * 3000
    for load in (safeyaml.load, safeyaml.load_condition):
        with pytest.raises(RefusedYaml, match="слишком глубокая вложенность"):
            load(text)


def test_the_limits_are_parameters() -> None:
    nested = "{not: {not: {var: x, set: true}}}"  # 3 mappings, a scalar under each key
    assert safeyaml.load(nested, max_depth=4) is not None
    with pytest.raises(RefusedYaml, match="больше 3 уровней"):
        safeyaml.load(nested, max_depth=3)
    many = "[" + ", ".join(["1"] * 100) + "]"
    assert len(safeyaml.load(many, max_nodes=101)) == 100
    with pytest.raises(RefusedYaml, match="слишком много значений"):
        safeyaml.load(many, max_nodes=100)
    with pytest.raises(RefusedYaml, match="слишком много значений"):
        safeyaml.load_condition("[" + ", ".join(["1"] * 5_000) + "]")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("x: !!binary aGVsbG8=", "двоичные данные"),
        ("x: !!set {a, b}", "множества"),
        ("x: !!omap [{a: 1}]", "упорядоченные словари"),
        ("x: !!pairs [{a: 1}]", "списки пар"),
        ("x: .nan", "'.nan'"),
        ("x: -.inf", "'-.inf'"),
        ("x: !!python/object:os.system {}", "python"),
    ],
)
def test_values_json_cannot_hold_are_refused(text: str, reason: str) -> None:
    with pytest.raises(yaml.YAMLError, match=reason):
        safeyaml.load(text)


def test_dates_are_for_files_not_for_conditions() -> None:
    assert safeyaml.load("reviewed: 2026-11-24") == {"reviewed": date(2026, 11, 24)}
    with pytest.raises(RefusedYaml, match="дата 2026-11-24"):
        safeyaml.load_condition("{var: x, eq: 2026-11-24}")
    assert safeyaml.load_condition("{var: x, eq: '2026-11-24'}") == {"var": "x", "eq": "2026-11-24"}
    assert safeyaml.load_condition("{var: children_count, ge: 2.5}") == {
        "var": "children_count",
        "ge": 2.5,
    }


def test_the_message_says_where() -> None:
    with pytest.raises(RefusedYaml) as caught:
        safeyaml.load("a: 1\nb: 2\na: 3\n")
    assert str(caught.value) == "ключ «a» повторяется дважды (строка 3)"
