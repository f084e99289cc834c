"""Bar charts as inline SVG: counts by discipline, by year of collection and the like.

`bar_chart` returns markupsafe.Markup (an <svg> element) with every label escaped; it
scales with its container and follows the pages' light and dark colours (resolver/svg.py).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from markupsafe import Markup, escape

from resolver.svg import count_text, linked, number, svg_element, tooltip

Bar = tuple[str, int, str | None]  # label, count, href (or None)

CHAR_WIDTH = 7.0  # an average glyph of the 12px font, for sizing the label column
MAX_LABEL = 32  # longer labels are cut with an ellipsis; the tooltip has them whole
ROW = 22.0  # height of a horizontal bar's row
BAR_LENGTH = 300.0  # the longest bar
PLOT_WIDTH = 600.0  # vertical bars share this width (narrower when they are few)
COLUMN = 24.0  # the widest a vertical bar's column gets


def short_label(label: str) -> str:
    return label if len(label) <= MAX_LABEL else label[:MAX_LABEL - 1] + "…"


def _horizontal(bars: Sequence[Bar], largest: int) -> tuple[float, float, str]:
    label_width = CHAR_WIDTH * max(len(short_label(label)) for label, _, _ in bars) + 8
    count_width = CHAR_WIDTH * len(count_text(largest)) + 8
    rows = []
    for index, (label, count, href) in enumerate(bars):
        top = index * ROW
        length = max(1.0, BAR_LENGTH * count / largest) if count > 0 else 0.0
        middle = number(top + ROW / 2 + 4)
        rows.append(linked(href, (
            f"<g>{tooltip(f'{label}: {count_text(count)}')}"
            f'<text x="{number(label_width - 6)}" y="{middle}" text-anchor="end">'
            f"{escape(short_label(label))}</text>"
            f'<rect class="bar" x="{number(label_width)}" y="{number(top + 3)}" '
            f'width="{number(length)}" height="{number(ROW - 6)}"/>'
            f'<text class="count" x="{number(label_width + length + 4)}" y="{middle}">'
            f"{count_text(count)}</text></g>")))
    return label_width + BAR_LENGTH + count_width, ROW * len(bars), "".join(rows)


def _vertical(bars: Sequence[Bar], largest: int) -> tuple[float, float, str]:
    """Columns along an axis labelled every few bars (years run to hundreds), with the
    largest count written at the top left; each column's count is in its tooltip."""
    plot_height, axis_height, top, side = 160.0, 18.0, 16.0, 24.0
    column_width = min(COLUMN, PLOT_WIDTH / len(bars))
    label_width = CHAR_WIDTH * max(len(short_label(label)) for label, _, _ in bars) + 8
    every = max(1, math.ceil(label_width / column_width))
    columns = [f'<text class="axis" x="{number(side)}" y="11">{count_text(largest)}</text>']
    for index, (label, count, href) in enumerate(bars):
        left = side + index * column_width
        height = max(1.0, plot_height * count / largest) if count > 0 else 0.0
        gap = min(1.0, column_width / 6)
        column = (f"<g>{tooltip(f'{label}: {count_text(count)}')}"
                  f'<rect class="bar" x="{number(left + gap, 2)}" '
                  f'y="{number(top + plot_height - height)}" '
                  f'width="{number(column_width - 2 * gap, 2)}" height="{number(height)}"/>')
        if index % every == 0:
            column += (f'<text class="axis" x="{number(left + column_width / 2, 2)}" '
                       f'y="{number(top + plot_height + axis_height - 4)}" text-anchor="middle">'
                       f"{escape(short_label(label))}</text>")
        columns.append(linked(href, column + "</g>"))
    width = 2 * side + column_width * len(bars)
    return width, top + plot_height + axis_height, "".join(columns)


def bar_chart(bars: Sequence[Bar], *, title: str, vertical: bool = False) -> Markup | None:
    """Bars of (label, count, href or None) in the order given, as an inline <svg>
    (Markup), or None when there are no bars.

    Horizontal (default): one row per bar with its label, bar and count written out,
    for categories. Vertical: columns for a sequence such as years, labelled every few
    columns, each count in the column's tooltip. A bar with an href is a link. `title`
    names the chart for assistive technology; its description lists every bar's count.
    """
    if not bars:
        return None
    largest = max(1, max(count for _, count, _ in bars))
    width, height, body = (_vertical if vertical else _horizontal)(bars, largest)
    description = "; ".join(f"{label}: {count_text(count)}" for label, count, _ in bars)
    return svg_element(width, height, title, description, body, kind="fdo-chart",
                       linked=any(href for _, _, href in bars))
