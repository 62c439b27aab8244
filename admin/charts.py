"""Server-side SVG charts: plain markup, no JavaScript, nothing fetched from elsewhere.

The panel runs offline under a strict CSP (no inline scripts or styles), so a
chart is an <svg> with presentation attributes only. Each one scales with its
container (viewBox, CSS `.chart { width: 100% }`), names itself for screen
readers (<title>, <desc>, aria-labelledby) and marks every bar with
data-series / data-value, so tests (and people with the inspector open) can
read exactly what was drawn. The page puts a data table under each chart.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

EMPTY_TEXT = "нет данных за период"
# Narrow on purpose: on a phone the whole chart shrinks to the screen, and a
# 460-unit drawing keeps its 15-unit text readable there.
WIDTH = 460
FONT = 15
# Okabe–Ito: told apart by people with colour-blindness and in greyscale print.
PALETTE = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#56B4E9",
    "#D55E00",
    "#F0E442",
    "#000000",
)
OTHER_COLOUR = "#999999"
INK = "#1f2933"
MUTED = "#5f6b7a"
GRID = "#d9dee5"


@dataclass(frozen=True, slots=True)
class Series:
    """One stacked series: a value per category (week)."""

    key: str
    label: str
    values: tuple[int, ...]
    colour: str = ""


@dataclass(frozen=True, slots=True)
class Bar:
    """One horizontal bar."""

    key: str
    label: str
    value: int
    colour: str = ""


def colour_for(index: int, key: str = "") -> str:
    return OTHER_COLOUR if key == "other" else PALETTE[index % len(PALETTE)]


def nice_ceiling(value: int, ticks: int = 4) -> tuple[int, int]:
    """(axis maximum, tick step): round numbers, whole counts only."""
    if value <= 0:
        return 1, 1
    raw = value / ticks
    magnitude = 10 ** math.floor(math.log10(raw)) if raw >= 1 else 1
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    step = max(1, int(step))
    return step * math.ceil(value / step), step


def percent_text(part: int, whole: int) -> str:
    """ "34 %" (Russian typography puts a space before %); "<1 %" for tiny shares."""
    if whole <= 0:
        return "0 %"
    share = 100 * part / whole
    if 0 < share < 1:
        return "<1 %"
    return f"{round(share)} %"


def _safe_id(chart_id: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_-]", "-", chart_id) or "chart"


def _open(chart_id: str, title: str, description: str, height: float, **data: str) -> list[str]:
    cid = _safe_id(chart_id)
    extra = "".join(f' data-{k}="{escape(v)}"' for k, v in data.items())
    return [
        f'<svg class="chart" id="{cid}" viewBox="0 0 {WIDTH} {math.ceil(height)}" width="100%"'
        f' preserveAspectRatio="xMinYMin meet" role="img"'
        f' aria-labelledby="{cid}-title {cid}-desc" font-family="system-ui, sans-serif"'
        f' font-size="{FONT}" xmlns="http://www.w3.org/2000/svg"{extra}>',
        f'<title id="{cid}-title">{escape(title)}</title>',
        f'<desc id="{cid}-desc">{escape(description)}</desc>',
    ]


def _close(parts: list[str]) -> Markup:
    # Safe by construction: every text or key put into `parts` went through
    # escape(); the rest are numbers and our own constants.
    return Markup("".join([*parts, "</svg>"]))  # noqa: S704


def empty_chart(chart_id: str, title: str) -> Markup:
    """The same frame with a calm "no data" line instead of bars."""
    parts = _open(chart_id, title, EMPTY_TEXT, 80, empty="1")
    parts.append(
        f'<text x="{WIDTH / 2}" y="46" text-anchor="middle" fill="{MUTED}">{EMPTY_TEXT}</text>'
    )
    return _close(parts)


def _legend(series: Sequence[tuple[str, str, str]], top: float) -> tuple[list[str], float]:
    """Legend swatches flowing in rows; returns the parts and the height used."""
    parts: list[str] = []
    x, y, row = 0.0, top, FONT + 10
    for key, label, colour in series:
        width = 20 + len(label) * FONT * 0.62 + 16
        if x > 0 and x + width > WIDTH:
            x, y = 0.0, y + row
        parts.append(
            f'<g class="legend" data-series="{escape(key)}">'
            f'<rect x="{x:.1f}" y="{y:.1f}" width="14" height="14" fill="{colour}"/>'
            f'<text x="{x + 20:.1f}" y="{y + 12:.1f}" fill="{INK}">{escape(label)}</text></g>'
        )
        x += width
    return parts, (y - top) + row if series else 0.0


def stacked_bars(
    chart_id: str,
    title: str,
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    y_label: str,
    x_label: str,
    category_titles: Sequence[str] = (),
) -> Markup:
    """Vertical bars per category (a week), each split into stacked series.

    `categories` are the short axis labels ("06.01"); `category_titles` the long
    ones for tooltips ("06.01–12.01.2025"). Zero parts draw nothing.
    """
    totals = [sum(s.values[i] for s in series) for i in range(len(categories))]
    if not categories or not any(totals):
        return empty_chart(chart_id, title)
    names = list(category_titles) or list(categories)
    left, right, top, plot_h = 52.0, 8.0, 12.0, 220.0
    plot_w = WIDTH - left - right
    y_max, step = nice_ceiling(max(totals))
    band = plot_w / len(categories)
    bar_w = max(2.0, band * 0.72)
    colours = [s.colour or colour_for(i, s.key) for i, s in enumerate(series)]
    label_y = top + plot_h + FONT + 6
    axis_y = label_y + FONT + 8
    legend, legend_h = _legend(
        [(s.key, s.label, c) for s, c in zip(series, colours, strict=True)], axis_y + 14
    )
    described = ", ".join(f"{s.label}: {sum(s.values)}" for s in series)
    height = axis_y + 14 + legend_h + 4
    parts = _open(chart_id, title, f"{title}. Всего за период — {described}.", height)
    # gridlines and the y axis
    for tick in range(0, y_max + 1, step):
        y = top + plot_h - plot_h * tick / y_max
        parts.append(
            f'<line x1="{left}" x2="{WIDTH - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}"/>'
            f'<text x="{left - 6}" y="{y + 5:.1f}" text-anchor="end" fill="{MUTED}">{tick}</text>'
        )
    parts.append(
        f'<text transform="translate(14 {top + plot_h / 2:.1f}) rotate(-90)" text-anchor="middle"'
        f' fill="{MUTED}">{escape(y_label)}</text>'
    )
    # bars
    for i, category in enumerate(categories):
        x = left + band * i + (band - bar_w) / 2
        base = top + plot_h
        for s, colour in zip(series, colours, strict=True):
            value = s.values[i]
            if value <= 0:
                continue
            h = plot_h * value / y_max
            base -= h
            tip = f"{names[i]}: {s.label} — {value}"
            parts.append(
                f'<rect class="bar" x="{x:.1f}" y="{base:.1f}" width="{bar_w:.1f}"'
                f' height="{h:.1f}" fill="{colour}" data-series="{escape(s.key)}"'
                f' data-category="{escape(category)}" data-value="{value}">'
                f"<title>{escape(tip)}</title></rect>"
            )
    # x labels: as many as fit without overlapping (about 46 units each)
    every = max(1, math.ceil(len(categories) / (plot_w / 46)))
    for i, category in enumerate(categories):
        if i % every == 0:
            x = left + band * i + band / 2
            parts.append(
                f'<text x="{x:.1f}" y="{label_y:.1f}" text-anchor="middle" fill="{INK}"'
                f' font-size="{FONT - 2}">{escape(category)}</text>'
            )
    parts.append(
        f'<line x1="{left}" x2="{WIDTH - right}" y1="{top + plot_h}" y2="{top + plot_h}"'
        f' stroke="{MUTED}"/>'
    )
    parts.append(
        f'<text x="{left + plot_w / 2:.1f}" y="{axis_y:.1f}" text-anchor="middle"'
        f' fill="{MUTED}">{escape(x_label)}</text>'
    )
    parts.extend(legend)
    return _close(parts)


def horizontal_bars(
    chart_id: str,
    title: str,
    bars: Sequence[Bar],
    *,
    x_label: str,
    percent: bool = True,
    colours: Mapping[str, str] | None = None,
) -> Markup:
    """One bar per item, label above it (room for long Russian names on a phone),
    the count and its share at the end. Bars keep the given order."""
    total = sum(b.value for b in bars)
    if not bars or total <= 0:
        return empty_chart(chart_id, title)
    top, row, bar_h = 8.0, FONT * 2 + 14, 16.0
    value_room = 110.0
    plot_w = WIDTH - value_room
    biggest = max(b.value for b in bars)
    described = ", ".join(
        f"{b.label}: {b.value}" + (f" ({percent_text(b.value, total)})" if percent else "")
        for b in bars
    )
    height = top + row * len(bars) + FONT + 12
    parts = _open(chart_id, title, f"{title}. {described}.", height)
    for i, bar in enumerate(bars):
        y = top + row * i
        colour = bar.colour or (colours or {}).get(bar.key) or colour_for(0, bar.key)
        width = plot_w * bar.value / biggest if biggest else 0
        share = percent_text(bar.value, total)
        shown = f"{bar.value} ({share})" if percent else str(bar.value)
        data_share = f' data-percent="{escape(share)}"' if percent else ""
        parts.append(
            f'<text x="0" y="{y + FONT:.1f}" fill="{INK}">{escape(bar.label)}</text>'
            f'<rect class="bar" x="0" y="{y + FONT + 4:.1f}" width="{max(width, 1.5):.1f}"'
            f' height="{bar_h}" fill="{colour}" data-series="{escape(bar.key)}"'
            f' data-value="{bar.value}"{data_share}>'
            f"<title>{escape(bar.label)} — {escape(shown)}</title></rect>"
            f'<text x="{max(width, 1.5) + 6:.1f}" y="{y + FONT + 4 + bar_h - 3:.1f}"'
            f' fill="{INK}">{escape(shown)}</text>'
        )
    parts.append(
        f'<text x="0" y="{height - 6:.1f}" fill="{MUTED}" font-size="{FONT - 2}">'
        f"{escape(x_label)}</text>"
    )
    return _close(parts)
