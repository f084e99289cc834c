"""The pieces every drawing shares: the <svg> element with its accessible name, the style
sheet that follows the pages' colour scheme, escaped text, compact path data.

Drawings are inline SVG returned as markupsafe.Markup, so Jinja inserts them as they are;
everything that came from a record or a caller went through `markupsafe.escape` first.
Colours are the pages' CSS variables (resolver/templates/base.html), each with a light
fallback so a drawing also reads outside those pages.
"""

from __future__ import annotations

from collections.abc import Iterable

from markupsafe import Markup, escape

# Selectors are scoped by .fdo-svg: an inline <style> applies to the whole HTML page.
STYLE = """
.fdo-svg{display:block;max-width:100%;height:auto;font:12px system-ui,sans-serif}
.fdo-map{width:100%}
.fdo-svg .sea{fill:var(--soft,#eef4f9)}
.fdo-svg .land{fill:var(--line,#dde1e8);stroke:var(--card,#fff);stroke-width:.6;
 fill-rule:evenodd;stroke-linejoin:round}
.fdo-svg .cut{stroke:none}
.fdo-svg .border{fill:none;stroke:var(--card,#fff);stroke-width:.6;stroke-linejoin:round}
.fdo-svg .grid{fill:none;stroke:var(--line,#dde1e8);stroke-width:.5}
.fdo-svg .c1,.fdo-svg .c2,.fdo-svg .c3,.fdo-svg .c4,.fdo-svg .c5{fill:var(--accent,#0d5c8c)}
.fdo-svg .c1{fill-opacity:.25}.fdo-svg .c2{fill-opacity:.42}.fdo-svg .c3{fill-opacity:.6}
.fdo-svg .c4{fill-opacity:.8}.fdo-svg .c5{fill-opacity:1}
@media (prefers-color-scheme:dark){.fdo-svg .c1,.fdo-svg .c2,.fdo-svg .c3,.fdo-svg .c4,
.fdo-svg .c5{fill:#7cc0f0}}
.fdo-svg .dots circle,.fdo-svg .marker{fill:var(--bad,#9b1c1c);fill-opacity:.75;
 stroke:var(--card,#fff);stroke-width:.8}
.fdo-svg .marker{fill-opacity:1;stroke-width:2}
.fdo-svg .halo{fill:none;stroke:var(--bad,#9b1c1c);stroke-width:1.5}
.fdo-svg .bar{fill:var(--accent,#0d5c8c)}
.fdo-svg text{fill:var(--text,#1c2230)}
.fdo-svg .count,.fdo-svg .axis{fill:var(--muted,#5a6372)}
.fdo-svg .key{fill:var(--card,#fff);fill-opacity:.85;stroke:var(--line,#dde1e8)}
.fdo-svg a:hover .bar,.fdo-svg a:focus .bar,.fdo-svg a:hover .land,.fdo-svg a:focus .land{
 stroke:var(--text,#1c2230);stroke-width:1.2}
.fdo-svg a:focus{outline:2px solid var(--accent,#0d5c8c)}
""".replace("\n", "")


def svg_element(width: float, height: float, label: str, description: str, body: str,
                *, kind: str, linked: bool = False) -> Markup:
    """The <svg> element around `body` (already escaped markup). Scales with its
    container (viewBox, width 100%). Without links it is one image to assistive
    technology (role="img", named by `label`); with links it is a group, so the links
    inside stay reachable. `description` is its longer text alternative (<desc>)."""
    role = "group" if linked else "img"
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="fdo-svg {kind}" '
        f'viewBox="0 0 {number(width)} {number(height)}" width="{number(width)}" '
        f'height="{number(height)}" role="{role}" aria-label="{escape(label)}">'
        f"<title>{escape(label)}</title><desc>{escape(description)}</desc>"
        f"<style>{STYLE}</style>{body}</svg>")


def number(value: float, digits: int = 1) -> str:
    """A coordinate as short as it can be written: 12.0 -> 12, -0.04 -> 0."""
    text = f"{round(value, digits) + 0.0:.{digits}f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def path_data(rings: Iterable[Iterable[tuple[float, float]]], digits: int = 1,
              closed: bool = True) -> str:
    """Closed rings (or open lines) as SVG path data: absolute first point, then relative
    steps between rounded points (shorter), repeats left out."""
    parts = []
    for ring in rings:
        points = [(round(x, digits), round(y, digits)) for x, y in ring]
        steps = [f"M{number(points[0][0], digits)} {number(points[0][1], digits)}"]
        last = points[0]
        for point in points[1:]:
            if point != last:
                steps.append(f"l{number(point[0] - last[0], digits)} "
                             f"{number(point[1] - last[1], digits)}")
                last = point
        if len(steps) >= (3 if closed else 2):
            parts.append("".join(steps) + ("z" if closed else ""))
    return "".join(parts)


def linked(href: str | None, inner: str) -> str:
    """`inner` inside a link when there is an href (escaped here)."""
    return f'<a href="{escape(href)}">{inner}</a>' if href else inner


def tooltip(text: str) -> str:
    return f"<title>{escape(text)}</title>"


def count_text(count: int) -> str:
    return f"{count:,}"
