"""The journeys preview: list, diagram, texts in every language, `dialogs check` results."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from markupsafe import escape

from admin import diagram
from admin.pages.journeys import node_view
from bot.core.i18n import Translator
from bot.core.services import Services
from bot.journeys.book import JourneyBook
from tests.admin.conftest import StaffClient

ROOT = Path(__file__).resolve().parents[2]
Make = Callable[[str], Awaitable[StaffClient]]


@pytest.fixture(scope="module")
def book() -> JourneyBook:
    return JourneyBook.load(ROOT / "dialogs")


def _tag_count(html: str, attribute: str) -> set[str]:
    return set(re.findall(rf'{attribute}="([^"]+)"', html))


# -- diagram.py (pure) ----------------------------------------------------------------
def test_layout_places_every_node_without_overlaps(book: JourneyBook) -> None:
    for journey_id, spec in book.journeys.items():
        g = diagram.graph(book, journey_id)
        placed = diagram.layout(g)
        internal = {key for key, p in placed.placed.items() if not p.box.is_exit}
        assert internal == set(spec.nodes), journey_id
        boxes = list(placed.placed.values())
        for i, a in enumerate(boxes):
            assert a.x >= 0 and a.x + a.width <= placed.width, (journey_id, a.box.key)
            assert a.y >= 0 and a.y + a.height <= placed.height, (journey_id, a.box.key)
            for b in boxes[i + 1 :]:
                assert not a.overlaps(b), (journey_id, a.box.key, b.box.key)
        # A row never holds more boxes than fit, and layers go top to bottom.
        for p in boxes:
            same_row = [q for q in boxes if q.row == p.row]
            assert len(same_row) <= diagram.MAX_PER_ROW
            assert all(q.layer == p.layer for q in same_row)


def test_layout_is_breadth_first_from_the_entry_node(book: JourneyBook) -> None:
    g = diagram.graph(book, "finder")
    depth = diagram.layers(g)
    assert depth["start"] == 0
    assert depth["region"] == 1
    assert depth["pregnant"] == 2
    # An exit is drawn below every node that leads to it.
    for edge in g.edges:
        if edge.target.startswith("exit:"):
            assert depth[edge.target] > depth[edge.source]


def test_every_edge_is_drawn_with_an_arrow(book: JourneyBook) -> None:
    for journey_id, spec in book.journeys.items():
        g = diagram.graph(book, journey_id)
        expected: set[tuple[str, str]] = set()
        for name, node in spec.nodes.items():
            for target, _ in diagram.targets(node):
                resolved = book.resolve(journey_id, target)
                assert resolved is not None
                other, to = resolved
                expected.add((name, to if other == journey_id else f"exit:{other}:{to}"))
        assert {(e.source, e.target) for e in g.edges} == expected, journey_id
        markup = str(diagram.svg(diagram.layout(g)))
        drawn = set(re.findall(r'class="jd-edge" data-from="([^"]+)" data-to="([^"]+)"', markup))
        assert drawn == expected, journey_id
        assert markup.count('marker-end="url(#jd-arrow)"') == len(expected)


def test_button_labels_label_the_edges(book: JourneyBook) -> None:
    g = diagram.graph(book, "finder")
    edge = next(e for e in g.edges if (e.source, e.target) == ("region", "pregnant"))
    assert edge.labels == ("Республика Дагестан", "Другой регион России")
    switch = next(e for e in g.edges if (e.source, e.target) == ("children_route", "youngest"))
    assert switch.labels == ("children_count ≥ 1",)


def test_exits_and_unknown_targets_are_distinct_boxes() -> None:
    book = JourneyBook.load(ROOT / "dialogs")
    g = diagram.graph(book, "menu", "/admin/journeys/")
    exits = [b for b in g.boxes if "exit" in b.kinds]
    assert any(
        b.key == "exit:finder:start" and b.href == "/admin/journeys/finder#node-start"
        for b in exits
    )
    markup = str(diagram.svg(diagram.layout(g)))
    assert 'data-exit="exit:finder:start"' in markup
    assert 'stroke-dasharray="6 4"' in markup
    # A goto nobody can follow is drawn as a broken way out, not dropped.
    broken = book.journeys["settings"].model_copy(deep=True)
    node = broken.nodes[broken.start].model_copy(update={"goto": "nowhere", "buttons": []})
    book.journeys["settings"] = broken.model_copy(
        update={"nodes": {**broken.nodes, broken.start: node}}
    )
    g = diagram.graph(book, "settings")
    assert any(b.key == "missing:nowhere" and "broken" in b.kinds for b in g.boxes)
    diagram.layout(g)


def test_node_kinds_are_marked_in_the_svg(book: JourneyBook) -> None:
    markup = str(diagram.svg(diagram.layout(diagram.graph(book, "crisis"))))
    assert re.search(r'class="jd-node jd-start jd-urgent" data-node="general"', markup)
    menu = str(diagram.svg(diagram.layout(diagram.graph(book, "menu"))))
    assert re.search(r'class="jd-node[^"]*jd-final[^"]*" data-node="thanks"', menu)
    finder = str(diagram.svg(diagram.layout(diagram.graph(book, "finder"))))
    assert re.search(r'class="jd-node[^"]*jd-consent[^"]*" data-node="start"', finder)
    assert re.search(r'class="jd-node[^"]*jd-input[^"]*" data-node="children"', finder)
    assert 'href="#node-region"' in finder


def test_describe_condition() -> None:
    cond = {"any": [{"var": "a", "ge": 1}, {"not": {"var": "b", "eq": True}}]}
    assert diagram.describe_condition(cond) == "a ≥ 1 или не (b = true)"
    assert diagram.describe_condition(None) == "иначе"


def test_node_view_marks_a_missing_translation(book: JourneyBook, tmp_path: Path) -> None:
    catalog = tmp_path / "en" / "LC_MESSAGES"
    catalog.mkdir(parents=True)
    (catalog / "messages.po").write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
        'msgid "Где вы живёте?"\nmsgstr "Where do you live?"\n',
        encoding="utf-8",
    )
    translator = Translator(tmp_path)
    spec = book.journeys["finder"]
    region = node_view(book, translator, spec, "region", spec.nodes["region"])
    assert [(s.language, s.text, s.missing) for s in region.text] == [
        ("ru", "Где вы живёте?", False),
        ("en", "Where do you live?", False),
    ]
    # The buttons are not translated in this catalog: marked, and shown in Russian.
    label = region.rows[0][0].labels[1]
    assert (label.language, label.text, label.missing) == ("en", "Республика Дагестан", True)
    assert region.missing


# -- pages ----------------------------------------------------------------------------
async def test_list_shows_every_journey(staff_client: Make, services: Services) -> None:
    client = await staff_client("editor")
    response = await client.get("/admin/journeys")
    assert response.status_code == 200
    for spec in services.book.journeys.values():
        assert f'href="/admin/journeys/{spec.id}"' in response.text
        assert str(escape(spec.title)) in response.text
    row = re.search(r'<tr data-journey="finder">(.*?)</tr>', response.text, re.S)
    assert row is not None
    assert f"<td>{len(services.book.journeys['finder'].nodes)}</td>" in row.group(1)
    assert "<code>start</code>" in row.group(1)
    assert "проблем не найдено" in response.text  # the shipped journeys are clean


async def test_every_journey_page_renders(staff_client: Make, services: Services) -> None:
    client = await staff_client("consultant")
    translator = services.translator
    assert "en" in translator.languages
    for journey_id, spec in services.book.journeys.items():
        response = await client.get(f"/admin/journeys/{journey_id}")
        assert response.status_code == 200, journey_id
        html = response.text
        svg = html[html.index("<svg") : html.index("</svg>")]
        assert _tag_count(svg, "data-node") == set(spec.nodes), journey_id
        for name in spec.nodes:
            assert svg.count(f'data-node="{name}"') == 1
            assert f'id="node-{name}"' in html
        edges = diagram.graph(services.book, journey_id).edges
        assert svg.count('class="jd-edge"') == len(edges)
        assert "Проблем не найдено." in html
        assert "нет перевода" not in html
        for node in spec.nodes.values():
            if node.text:
                assert str(escape(node.text)) in html
                assert str(escape(translator.gettext("en", node.text))) in html
            for button in node.flat_buttons():
                assert str(escape(translator.gettext("en", button.label))) in html


async def test_journey_page_shows_buttons_and_targets(staff_client: Make) -> None:
    client = await staff_client("admin")
    html = (await client.get("/admin/journeys/finder")).text
    assert "Republic of Dagestan" in html or "Dagestan" in html
    assert 'href="#node-pregnant"' in html
    assert "запоминает: <code>region = &#34;dagestan&#34;</code>" in html
    assert "Ответ текстом" in html and "children_count" in html
    assert "если children_count ≥ 1" in html
    menu = (await client.get("/admin/journeys/menu")).text
    assert 'href="/admin/journeys/finder#node-start"' in menu
    assert "действие: <code>give_consent</code>" in menu


async def test_missing_translation_and_problems_are_shown(
    staff_client: Make, services: Services, tmp_path: Path
) -> None:
    catalog = tmp_path / "en" / "LC_MESSAGES"
    catalog.mkdir(parents=True)
    (catalog / "messages.po").write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
        'msgid "Настройки"\nmsgstr "Settings"\n',
        encoding="utf-8",
    )
    services.translator = Translator(tmp_path)
    client = await staff_client("editor")
    listing = (await client.get("/admin/journeys")).text
    assert "проблем не найдено" not in listing
    assert 'class="tag urgent"' in listing
    html = (await client.get("/admin/journeys/settings")).text
    assert "нет перевода" in html
    assert "есть непереведённые тексты" in html
    assert "[en] нет перевода" in html  # the `dialogs check` section, in Russian
    assert "Проблем не найдено." not in html
    assert 'class="jd-problems"' in html  # the diagram counts problems per node


async def test_unknown_journey_is_404(staff_client: Make) -> None:
    client = await staff_client("editor")
    response = await client.get("/admin/journeys/nonexistent")
    assert response.status_code == 404


async def test_partner_cannot_see_journeys(staff_client: Make) -> None:
    client = await staff_client("partner")
    assert (await client.get("/admin/journeys")).status_code == 403
    assert (await client.get("/admin/journeys/menu")).status_code == 403


async def test_page_has_no_inline_script_or_style(staff_client: Make) -> None:
    client = await staff_client("editor")
    html = (await client.get("/admin/journeys/violence")).text
    assert "style=" not in html
    assert "<style" not in html
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)
