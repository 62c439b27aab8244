"""A journey drawn as an SVG, server-side and in pure Python.

Three steps, each a pure function so tests can check them apart:
`graph()` reads a journey into boxes and edges, `layout()` places them in
layers (breadth-first from the entry node, wide layers wrapped into rows so
the picture stays readable on a phone with horizontal scrolling), and `svg()`
writes the markup. Journeys have a dozen nodes, so no caching is needed.
"""

from __future__ import annotations

import unicodedata
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from html import escape
from typing import Any

from markupsafe import Markup

from bot.journeys.book import JourneyBook
from bot.journeys.model import JourneySpec, NodeSpec

BOX_WIDTH = 176
BOX_HEIGHT = 50
GAP_X = 28
GAP_Y = 64  # room for edge labels between rows
MARGIN = 16
LOOP_ROOM = 90  # right-hand margin where edges going back up are routed
MAX_PER_ROW = 5
LABEL_CHARS = 24
EDGE_LABEL_CHARS = 22
CHAR_WIDTH = 6.3  # average glyph width at the 11px edge-label size

# What a node kind looks like: fill, stroke, dash pattern, Russian legend text.
STYLES: dict[str, tuple[str, str, str, str]] = {
    "urgent": ("#fdecea", "#b3261e", "", "срочная помощь (urgent)"),
    "consent": ("#f1eafd", "#6b3fa0", "", "сначала спрашивает согласие (consent)"),
    "final": ("#e5f5ec", "#1e7a46", "", "конец сценария (final)"),
    "input": ("#fff4d6", "#8a5a00", "", "ждёт ответа текстом (input) или выбора из списка"),
    "switch": ("#eef2f6", "#5f6b7a", "", "развилка по условию (switch), без вопроса"),
    "plain": ("#ffffff", "#5f6b7a", "", "обычный шаг"),
    "exit": ("#f5f7fa", "#5f6b7a", "6 4", "переход в другой сценарий"),
    "broken": ("#fdecea", "#b3261e", "3 3", "переход в несуществующую цель"),
}
FILL_PRIORITY = ("broken", "exit", "urgent", "consent", "final", "input", "switch")
ICONS = {"start": "▶", "urgent": "!", "consent": "🔒", "final": "■", "input": "✎"}


@dataclass(frozen=True, slots=True)
class Box:
    """A node of the picture: a journey node, or a way out of the journey."""

    key: str  # the node name, or "exit:<journey>:<node>" / "missing:<target>"
    title: str
    subtitle: str
    kinds: tuple[str, ...]
    href: str  # "#node-NAME" inside the page, or the other journey's page
    tooltip: str

    @property
    def is_exit(self) -> bool:
        return "exit" in self.kinds or "broken" in self.kinds

    @property
    def style(self) -> str:
        return next((kind for kind in FILL_PRIORITY if kind in self.kinds), "plain")


@dataclass(frozen=True, slots=True)
class Edge:
    source: str
    target: str
    labels: tuple[str, ...]

    @property
    def label(self) -> str:
        first = " · ".join(
            _short(_without_emoji(label), EDGE_LABEL_CHARS) for label in self.labels[:2]
        )
        extra = len(self.labels) - 2
        return f"{first} +{extra}" if extra > 0 else first


@dataclass(frozen=True, slots=True)
class Graph:
    journey: str
    title: str
    start: str
    boxes: tuple[Box, ...]
    edges: tuple[Edge, ...]


@dataclass(frozen=True, slots=True)
class Placed:
    box: Box
    layer: int
    row: int
    x: float
    y: float
    width: float = BOX_WIDTH
    height: float = BOX_HEIGHT

    def overlaps(self, other: Placed) -> bool:
        return not (
            self.x + self.width <= other.x
            or other.x + other.width <= self.x
            or self.y + self.height <= other.y
            or other.y + other.height <= self.y
        )


@dataclass(frozen=True, slots=True)
class Route:
    edge: Edge
    path: str
    label_x: float
    label_y: float


@dataclass(frozen=True, slots=True)
class Diagram:
    graph: Graph
    placed: dict[str, Placed]
    routes: tuple[Route, ...]
    width: float
    height: float


# -- reading a journey ----------------------------------------------------------------
def _without_emoji(label: str) -> str:
    """A button's leading emoji says nothing in a diagram and many fonts lack it."""
    start = 0
    while start < len(label) and (
        unicodedata.category(label[start]) in ("So", "Sk", "Mn", "Cf") or label[start] == " "
    ):
        start += 1
    return label[start:] or label


def _short(text: str, limit: int) -> str:
    text = " ".join(text.replace("**", "").split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def describe_condition(cond: Mapping[str, Any] | None) -> str:
    """A condition in words staff can read ("children_count ≥ 1 или pregnant = true")."""
    if cond is None:
        return "иначе"
    if "all" in cond:
        return " и ".join(describe_condition(c) for c in cond["all"])
    if "any" in cond:
        return " или ".join(describe_condition(c) for c in cond["any"])
    if "not" in cond:
        return f"не ({describe_condition(cond['not'])})"
    signs = {"eq": "=", "ne": "≠", "lt": "<", "le": "≤", "gt": ">", "ge": "≥", "in": "∈"}
    var = cond.get("var", "?")
    for op, value in cond.items():
        if op == "var":
            continue
        if op == "set":
            return f"{var} {'задано' if value else 'не задано'}"
        shown = ", ".join(map(str, value)) if isinstance(value, list) else str(value).lower()
        return f"{var} {signs.get(op, op)} {shown}"
    return str(var)


def node_kinds(journey: JourneySpec, name: str, node: NodeSpec) -> tuple[str, ...]:
    kinds = []
    if name == journey.start:
        kinds.append("start")
    if node.urgent:
        kinds.append("urgent")
    if node.consent:
        kinds.append("consent")
    if node.final:
        kinds.append("final")
    if node.input or node.options:
        kinds.append("input")
    if node.switch and not node.flat_buttons():
        kinds.append("switch")
    return tuple(kinds)


def targets(node: NodeSpec) -> list[tuple[str, str]]:
    """Every (target, edge label) a node can lead to, in the order they appear."""
    found: list[tuple[str, str]] = []
    for button in node.flat_buttons():
        if button.goto:
            found.append((button.goto, button.label))
    if node.input and node.input.goto:
        found.append((node.input.goto, f"ответ: {node.input.var}"))
    if node.options and node.options.goto:
        found.append((node.options.goto, f"выбор: {node.options.source}"))
    for case in node.switch or ():
        found.append((case.goto, describe_condition(case.when)))
    if node.goto:
        found.append((node.goto, "далее"))
    return found


def graph(book: JourneyBook, journey_id: str, journey_href: str = "") -> Graph:
    """The journey as boxes and merged edges; `journey_href` prefixes links to other journeys."""
    journey = book.journeys[journey_id]
    boxes: dict[str, Box] = {}
    for name, node in journey.nodes.items():
        first_line = (node.text or "").strip().splitlines()[0] if node.text else ""
        if not first_line and node.do:
            first_line = f"⚙ {node.do}"
        kinds = node_kinds(journey, name, node)
        icons = "".join(ICONS[k] for k in kinds if k in ICONS)
        subtitle = f"{icons} {first_line}".strip() if icons else first_line
        boxes[name] = Box(
            key=name,
            title=name,
            subtitle=_short(subtitle, LABEL_CHARS),
            kinds=kinds,
            href=f"#node-{name}",
            tooltip=_short(node.text or name, 300),
        )
    labels: dict[tuple[str, str], list[str]] = {}
    for name, node in journey.nodes.items():
        for target, label in targets(node):
            key = _target_box(book, journey, target, boxes, journey_href)
            merged = labels.setdefault((name, key), [])
            if label not in merged:
                merged.append(label)
    edges = tuple(Edge(source, target, tuple(found)) for (source, target), found in labels.items())
    return Graph(journey.id, journey.title, journey.start, tuple(boxes.values()), edges)


def _target_box(
    book: JourneyBook, journey: JourneySpec, target: str, boxes: dict[str, Box], href: str
) -> str:
    """The box a `goto` lands on, adding an exit box the first time one is met."""
    resolved = book.resolve(journey.id, target)
    if resolved is None:
        key = f"missing:{target}"
        boxes.setdefault(
            key,
            Box(key, _short(target, LABEL_CHARS), "нет такой цели", ("broken",), "#problems", ""),
        )
        return key
    other, node = resolved
    if other == journey.id:
        return node
    key = f"exit:{other}:{node}"
    spec = book.journeys[other]
    where = other if node == spec.start else f"{other}:{node}"
    boxes.setdefault(
        key,
        Box(
            key,
            f"→ {_short(where, LABEL_CHARS - 2)}",
            _short(spec.title, LABEL_CHARS),
            ("exit",),
            f"{href}{other}#node-{node}",
            f"Переход в сценарий «{spec.title}»",
        ),
    )
    return key


# -- layout ---------------------------------------------------------------------------
def layers(g: Graph) -> dict[str, int]:
    """Breadth-first depth from the entry node; nodes the core enters by itself start
    new roots at the top, and exits sit one layer below their deepest source."""
    internal = [b.key for b in g.boxes if not b.is_exit]
    children: dict[str, list[str]] = {key: [] for key in internal}
    for edge in g.edges:
        if edge.target in children:
            children[edge.source].append(edge.target)
    depth: dict[str, int] = {}
    roots = [g.start] if g.start in children else []
    roots += [key for key in internal if key != g.start]
    for root in roots:
        if root in depth:
            continue
        depth[root] = 0
        queue = deque([root])
        while queue:
            key = queue.popleft()
            for child in children[key]:
                if child not in depth:
                    depth[child] = depth[key] + 1
                    queue.append(child)
    for box in g.boxes:
        if box.is_exit:
            sources = [depth[e.source] for e in g.edges if e.target == box.key]
            depth[box.key] = max(sources, default=0) + 1
    return depth


def _weight(
    g: Graph, depth: dict[str, int], position: dict[str, float], key: str, fallback: int
) -> float:
    """The mean position of a box's parents in earlier layers (its file order if none)."""
    parents = [
        position[e.source]
        for e in g.edges
        if e.target == key and e.source in position and depth[e.source] < depth[key]
    ]
    return sum(parents) / len(parents) if parents else float(fallback)


def _ordered(g: Graph, depth: dict[str, int]) -> list[list[str]]:
    """Keys per layer, each ordered by the mean position of its parents (fewer crossings)."""
    by_layer: dict[int, list[str]] = {}
    for box in g.boxes:  # internal nodes in file order first, exits after
        by_layer.setdefault(depth[box.key], []).append(box.key)
    position: dict[str, float] = {}
    result: list[list[str]] = []
    for layer in range(max(by_layer, default=-1) + 1):
        keys = by_layer.get(layer, [])
        weights = {key: (_weight(g, depth, position, key, i), i) for i, key in enumerate(keys)}
        keys = sorted(keys, key=weights.__getitem__)
        for i, key in enumerate(keys):
            position[key] = float(i)
        result.append(keys)
    return result


def layout(g: Graph) -> Diagram:
    depth = layers(g)
    rows: list[tuple[int, list[str]]] = []
    for layer, keys in enumerate(_ordered(g, depth)):
        for start in range(0, len(keys), MAX_PER_ROW):
            rows.append((layer, keys[start : start + MAX_PER_ROW]))
    widest = max((len(keys) for _, keys in rows), default=1)
    inner = widest * BOX_WIDTH + (widest - 1) * GAP_X
    boxes = {box.key: box for box in g.boxes}
    placed: dict[str, Placed] = {}
    for row, (layer, keys) in enumerate(rows):
        span = len(keys) * BOX_WIDTH + (len(keys) - 1) * GAP_X
        left = MARGIN + (inner - span) / 2
        for i, key in enumerate(keys):
            x = left + i * (BOX_WIDTH + GAP_X)
            y = MARGIN + row * (BOX_HEIGHT + GAP_Y)
            placed[key] = Placed(boxes[key], layer, row, x, y)
    width = MARGIN * 2 + inner + LOOP_ROOM
    height = MARGIN * 2 + len(rows) * BOX_HEIGHT + max(len(rows) - 1, 0) * GAP_Y
    routes = tuple(_route(e, placed, i, MARGIN + inner, g.edges) for i, e in enumerate(g.edges))
    return Diagram(g, placed, routes, width, height + 30)  # +30: room for loops below


def _bezier_at(points: tuple[tuple[float, float], ...], t: float) -> tuple[float, float]:
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = points
    u = 1 - t
    weights = (u**3, 3 * u * u * t, 3 * u * t * t, t**3)
    return (
        sum(w * x for w, x in zip(weights, (x0, x1, x2, x3), strict=True)),
        sum(w * y for w, y in zip(weights, (y0, y1, y2, y3), strict=True)),
    )


def _label_at(edge: Edge, edges: tuple[Edge, ...]) -> float:
    """Where along a downward edge its label goes: near the end that is not crowded
    (a fan-out of buttons spreads labels over the targets; converging edges over sources)."""
    out_degree = sum(1 for e in edges if e.source == edge.source)
    in_degree = sum(1 for e in edges if e.target == edge.target)
    if out_degree <= 1 and in_degree <= 1:
        return 0.5
    return 0.75 if out_degree >= in_degree else 0.25


def _route(
    edge: Edge, placed: dict[str, Placed], index: int, right: float, edges: tuple[Edge, ...]
) -> Route:
    """A curve from source to target: downwards when the target is in a later row,
    otherwise out to the right margin and back (so it does not cross boxes)."""
    a, b = placed[edge.source], placed[edge.target]
    t = 0.5
    if a.box.key == b.box.key:
        x, y = a.x + a.width, a.y + a.height / 2
        pts = ((x, y - 10), (x + 46, y - 30), (x + 46, y + 30), (x, y + 10))
    elif b.row > a.row:
        start = (a.x + a.width / 2, a.y + a.height)
        end = (b.x + b.width / 2, b.y)
        bend = (end[1] - start[1]) / 2
        pts = (start, (start[0], start[1] + bend), (end[0], end[1] - bend), end)
        t = _label_at(edge, edges)
    elif b.row == a.row:
        start = (a.x + a.width / 2, a.y + a.height)
        end = (b.x + b.width / 2, b.y + b.height)
        dip = 26 + 4 * (index % 4)
        pts = (start, (start[0], start[1] + dip), (end[0], end[1] + dip), end)
    else:
        start = (a.x + a.width, a.y + a.height / 2)
        end = (b.x + b.width, b.y + b.height / 2)
        out = max(right, start[0], end[0]) + 24 + 10 * (index % 5)
        pts = (start, (out, start[1]), (out, end[1]), end)
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = pts
    path = f"M{x0:.1f},{y0:.1f} C{x1:.1f},{y1:.1f} {x2:.1f},{y2:.1f} {x3:.1f},{y3:.1f}"
    label_x, label_y = _bezier_at(pts, t)
    return Route(edge, path, label_x, label_y)


# -- markup ---------------------------------------------------------------------------
def _attr(value: object) -> str:
    return escape(str(value), quote=True)


def svg(diagram: Diagram, problems: Mapping[str, int] | None = None) -> Markup:
    """The diagram as inline SVG; every node links to its section on the page."""
    problems = problems or {}
    g = diagram.graph
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="journey-diagram" '
        f'viewBox="0 0 {diagram.width:.0f} {diagram.height:.0f}" '
        f'width="{diagram.width:.0f}" height="{diagram.height:.0f}" '
        f'role="img" aria-labelledby="diagram-title" data-journey="{_attr(g.journey)}" '
        f'font-family="system-ui, sans-serif">',
        f'<title id="diagram-title">Схема сценария «{_attr(g.title)}»</title>',
        '<defs><marker id="jd-arrow" viewBox="0 0 10 10" refX="9" refY="5" '
        'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
        '<path d="M0,0 L10,5 L0,10 z" fill="#5f6b7a"/></marker></defs>',
    ]
    for route in diagram.routes:  # edges first: boxes are drawn over them
        out.append(
            f'<g class="jd-edge" data-from="{_attr(route.edge.source)}" '
            f'data-to="{_attr(route.edge.target)}">'
            f"<title>{_attr(' · '.join(route.edge.labels))}</title>"
            f'<path d="{route.path}" fill="none" stroke="#5f6b7a" stroke-width="1.4" '
            f'marker-end="url(#jd-arrow)"/></g>'
        )
    for route in diagram.routes:  # labels over every line, so none is hidden by another
        label = route.edge.label
        if not label:
            continue
        width = len(label) * CHAR_WIDTH + 8
        out.append(
            f'<g class="jd-label"><rect x="{route.label_x - width / 2:.1f}" '
            f'y="{route.label_y - 9:.1f}" width="{width:.1f}" height="16" rx="3" '
            f'fill="#ffffff" fill-opacity="0.9"/>'
            f'<text x="{route.label_x:.1f}" y="{route.label_y + 3:.1f}" font-size="11" '
            f'text-anchor="middle" fill="#1f2933">{_attr(label)}</text></g>'
        )
    for placed in diagram.placed.values():
        out.append(_box(placed, problems.get(placed.box.key, 0)))
    out.append("</svg>")
    # Safe: every text and attribute value above went through _attr (html.escape).
    return Markup("".join(out))  # noqa: S704


def _box(p: Placed, problem_count: int) -> str:
    box = p.box
    fill, stroke, dash, _ = STYLES[box.style]
    width = "3" if "start" in box.kinds else "1.5"
    dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
    radius = 22 if box.style == "switch" else 8
    classes = " ".join(["jd-node", *(f"jd-{kind}" for kind in box.kinds)])
    data = f'data-exit="{_attr(box.key)}"' if box.is_exit else f'data-node="{_attr(box.key)}"'
    parts = [
        f'<a href="{_attr(box.href)}" class="{classes}" {data}>',
        f"<title>{_attr(box.tooltip or box.title)}</title>",
        f'<rect x="{p.x:.1f}" y="{p.y:.1f}" width="{p.width}" height="{p.height}" '
        f'rx="{radius}" fill="{fill}" stroke="{stroke}" stroke-width="{width}"{dash_attr}/>',
        f'<text x="{p.x + 10:.1f}" y="{p.y + 20:.1f}" font-size="13" font-weight="600" '
        f'fill="#1f2933">{_attr(box.title)}</text>',
        f'<text x="{p.x + 10:.1f}" y="{p.y + 38:.1f}" font-size="11" '
        f'fill="#5f6b7a">{_attr(box.subtitle)}</text>',
    ]
    if problem_count:
        cx, cy = p.x + p.width - 4, p.y + 4
        parts.append(
            f'<g class="jd-problems"><circle cx="{cx:.1f}" cy="{cy:.1f}" r="9" fill="#b3261e"/>'
            f'<text x="{cx:.1f}" y="{cy + 4:.1f}" font-size="11" font-weight="700" '
            f'text-anchor="middle" fill="#ffffff">{problem_count}</text></g>'
        )
    parts.append("</a>")
    return "".join(parts)


def legend() -> list[tuple[str, str, str, str, str]]:
    """(kind, fill, stroke, dash, description) for the legend under the diagram."""
    return [(kind, *STYLES[kind]) for kind in STYLES]
