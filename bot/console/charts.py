"""Charts for the analytics page, drawn on the server as SVG: no script, nothing loaded from
elsewhere, nothing the console's Content-Security-Policy refuses (colours are presentation
attributes, not styles). Each chart is an image with a name; the table under it carries the same
numbers for screen readers and for copying.

Right-to-left: the bars grow from the right edge with their labels on the right, and a time line
runs from right to left (the x axis mirrored), as an Arabic reader expects. Text is drawn with
``direction="ltr"`` positions computed here, so Arabic words keep their own shaping and order.
Hidden counts ("<10", "—") are drawn as a dashed stub with their mark, never as a length.
"""

from __future__ import annotations

from typing import Callable, List

from markupsafe import Markup, escape

from bot.analytics.report import Table

__all__ = ["bar_chart", "column_chart"]

INK, BAR, MUTED, LINE = "#1d2a33", "#1f6f78", "#5b6b75", "#d5dde2"
WIDTH = 560
LABEL_CHARS = 30  # longer labels are cut with "…" in the chart; the table under it has them whole


def _text(x: float, y: float, text: str, anchor: str, fill: str = INK, size: int = 13) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="{fill}" font-size="{size}" '
        f'dominant-baseline="middle">{escape(text)}</text>'
    )


def _svg(chart_id: str, title: str, height: float, parts: List[str]) -> Markup:
    return Markup(
        f'<svg class="chart" id="chart-{chart_id}" data-testid="chart" role="img" aria-labelledby="chart-{chart_id}-title" '
        f'viewBox="0 0 {WIDTH} {height:.0f}" width="100%" direction="ltr" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="chart-{chart_id}-title">{escape(title)}</title>{"".join(parts)}</svg>'
    )


def _short(text: str) -> str:
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1].rstrip() + "…"


def bar_chart(table: Table, title: str, label: Callable[[str], str], rtl: bool) -> Markup:
    """One horizontal bar per row."""
    label_width, row, top = 230, 28, 8
    area = WIDTH - label_width - 56
    largest = max([r.cell.value for r in table.rows if not r.cell.hidden] + [1])
    parts: List[str] = []
    for i, r in enumerate(table.rows):
        y = top + i * row
        middle = y + row / 2 - 2
        length = 0.0 if r.cell.hidden else area * r.cell.value / largest
        if rtl:
            bar_end = WIDTH - label_width
            parts.append(_text(WIDTH - 6, middle, _short(label(r.key)), "end"))
            x = bar_end - (12 if r.cell.hidden else length)
            value_x, value_anchor = x - 6, "end"
        else:
            parts.append(_text(label_width - 6, middle, _short(label(r.key)), "end"))
            x = label_width
            value_x, value_anchor = x + (12 if r.cell.hidden else length) + 6, "start"
        if r.cell.hidden:
            parts.append(
                f'<rect x="{x:.1f}" y="{y + 5}" width="12" height="{row - 12}" fill="none" stroke="{MUTED}" stroke-dasharray="3 2"/>'
            )
        elif length:
            parts.append(f'<rect x="{x:.1f}" y="{y + 5}" width="{length:.1f}" height="{row - 12}" fill="{BAR}"/>')
        parts.append(_text(value_x, middle, r.cell.shown, value_anchor, MUTED if r.cell.hidden else INK))
    if not table.rows:
        parts.append(_text(WIDTH / 2, 20, "—", "middle", MUTED))
    return _svg(table.id, title, top * 2 + max(1, len(table.rows)) * row, parts)


def column_chart(table: Table, title: str, label: Callable[[str], str], rtl: bool) -> Markup:
    """A time line of columns, oldest first in the reading direction; a few period labels under it."""
    left, right, top, height = 40, 10, 10, 160
    n = max(1, len(table.rows))
    step = (WIDTH - left - right) / n
    largest = max([r.cell.value for r in table.rows if not r.cell.hidden] + [1])
    base = top + height
    parts = [f'<line x1="{left}" y1="{base}" x2="{WIDTH - right}" y2="{base}" stroke="{LINE}"/>']
    parts.append(_text(left - 6, top + 6, str(largest), "end", MUTED, 11))
    parts.append(_text(left - 6, base, "0", "end", MUTED, 11))
    ticks = {0, n - 1, (n - 1) // 2}
    for i, r in enumerate(table.rows):
        x = (WIDTH - right - (i + 1) * step) if rtl else (left + i * step)
        width = max(1.0, step * 0.8)
        if r.cell.hidden:
            parts.append(
                f'<rect x="{x:.1f}" y="{base - 8}" width="{width:.1f}" height="8" fill="none" stroke="{MUTED}" stroke-dasharray="2 2"/>'
            )
        elif r.cell.value:
            h = height * r.cell.value / largest
            parts.append(f'<rect x="{x:.1f}" y="{base - h:.1f}" width="{width:.1f}" height="{h:.1f}" fill="{BAR}"/>')
        if i in ticks:
            parts.append(_text(x + width / 2, base + 14, label(r.key), "middle", MUTED, 11))
    return _svg(table.id, title, base + 26, parts)
