"""The changelog page's source: ``CHANGELOG.md`` of the project, rendered to HTML.

:func:`find_changelog` looks for the file beside the package's source tree (a checkout, an editable
install); a wheel ships none, and the page then says so. :func:`render_markdown` renders the Markdown
a changelog uses: headings, paragraphs, bullet lists (with continuation lines), inline code, bold and
links; everything else is text, escaped::

    html = render_markdown(Path("CHANGELOG.md").read_text(encoding="utf-8"))
"""

from __future__ import annotations

import re
from pathlib import Path

from markupsafe import Markup, escape

__all__ = ["find_changelog", "render_markdown"]

_HEADING = re.compile(r"(#{1,6})\s+(.*)")
_BULLET = re.compile(r"([-*+])\s+(.*)")
_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")
_BOLD = re.compile(r"\*\*(.+?)\*\*")


def find_changelog() -> Path | None:
    """``CHANGELOG.md`` at the root of the source tree the package runs from, or ``None``."""
    candidate = Path(__file__).resolve().parents[2] / "CHANGELOG.md"
    return candidate if candidate.is_file() else None


def _inline(text: str) -> str:
    out = []
    for i, piece in enumerate(text.split("`")):
        if i % 2:  # inside a code span
            out.append(f"<code>{escape(piece)}</code>")
            continue
        html = str(escape(piece))
        html = _BOLD.sub(r"<strong>\1</strong>", html)
        html = _LINK.sub(lambda m: f'<a href="{m.group(2)}">{m.group(1)}</a>'
                         if m.group(2).startswith(("http://", "https://", "#")) else m.group(1), html)
        out.append(html)
    return "".join(out)


def render_markdown(text: str, *, shift: int = 1) -> Markup:
    """HTML of a changelog's Markdown (see the module doc); headings go ``shift`` levels down (a page
    has its own ``h1``)."""
    html: list[str] = []
    paragraph: list[str] = []
    items: list[list[str]] = []

    def flush() -> None:
        if paragraph:
            html.append(f"<p>{_inline(' '.join(paragraph))}</p>")
            paragraph.clear()
        if items:
            html.append("<ul>" + "".join(f"<li>{_inline(' '.join(item))}</li>" for item in items) + "</ul>")
            items.clear()

    for raw in text.splitlines():
        line = raw.strip()
        heading = _HEADING.fullmatch(line)
        bullet = _BULLET.fullmatch(line)
        if not line:
            flush()
        elif heading and not raw.startswith(" "):
            flush()
            level = min(len(heading.group(1)) + shift, 6)
            html.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
        elif bullet and not raw.startswith("    "):
            if paragraph:
                flush()
            items.append([bullet.group(2)])
        elif items and raw.startswith(" "):
            items[-1].append(line)
        else:
            if items:
                flush()
            paragraph.append(line)
    flush()
    return Markup("\n".join(html))
