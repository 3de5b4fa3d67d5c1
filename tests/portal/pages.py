"""Reading the portal's HTML as a browser's link checker would: every link and embedded resource, every
``id`` a fragment can name, and the balance of its elements."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from posixpath import normpath
from urllib.parse import urldefrag, urljoin, urlsplit

#: Elements without an end tag.
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
#: SVG elements written self-closed.
SELF_CLOSED = {"line", "rect", "circle", "polyline", "path"}


@dataclass
class Page:
    """What one HTML page holds: its links (``href``), embedded resources (``src``, stylesheets),
    element ids, its title, and the elements left unclosed or closed out of order."""

    links: list[str] = field(default_factory=list)
    resources: list[str] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)
    title: str = ""
    unbalanced: list[str] = field(default_factory=list)
    scripts: int = 0
    styles: list[str] = field(default_factory=list)


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Page()
        self.stack: list[str] = []
        self._in_title = False
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("id"):
            self.page.ids.add(str(values["id"]))
        if tag == "a" and values.get("href") is not None:
            self.page.links.append(str(values["href"]))
        if tag == "link" and values.get("href") is not None:
            self.page.resources.append(str(values["href"]))
        if values.get("src") is not None:
            self.page.resources.append(str(values["src"]))
        if tag == "script":
            self.page.scripts += 1
        self._in_title = tag == "title" and not self.stack.count("svg")
        self._in_style = tag == "style"
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in VOID and tag not in SELF_CLOSED:
            self.page.unbalanced.append(f"<{tag}/>")

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.page.unbalanced.append(f"</{tag}> closes {self.stack[-1] if self.stack else 'nothing'}")
            if tag in self.stack:
                while self.stack and self.stack.pop() != tag:
                    pass
            return
        self.stack.pop()
        self._in_title = False
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.page.title += data
        if self._in_style:
            self.page.styles.append(data)


def read_page(html: str) -> Page:
    """The links, resources, ids and title of ``html``; elements left open are reported as unbalanced."""
    reader = _Reader()
    reader.feed(html)
    reader.close()
    reader.page.unbalanced += [f"<{tag}> never closed" for tag in reader.stack]
    return reader.page


def is_external(url: str) -> bool:
    """Whether a link leaves the site's origin (a scheme or a network location of its own)."""
    parts = urlsplit(url)
    return bool(parts.scheme or parts.netloc)


def resolve(base: str, url: str) -> tuple[str, str]:
    """The absolute path (no query) and fragment a relative link of the page at path ``base`` names."""
    target, fragment = urldefrag(urljoin(base, url))
    path = urlsplit(target).path
    return (normpath(path) + ("/" if path.endswith("/") and path != "/" else "")), fragment
