"""Issue 12 item 7: what the portal writes from text it is given. The changelog's Markdown becomes HTML
with every character of the source escaped (no markup of its own gets through, links only to http(s));
the Python snippets' payloads are the examples, as Python literals that evaluate back to them."""

from __future__ import annotations

import ast
import json
from html.parser import HTMLParser

from hypothesis import given, settings
from hypothesis import strategies as st

from dso_saref.catalog import DEFAULT
from dso_saref.portal.changelog import render_markdown
from dso_saref.portal.snippets import python_literal
from tests.conftest import NAMES

CHANGELOG = """# Changelog

## 0.2.0 (unreleased)

### Changed (may need changes on your side)

- `to_bindings()` returns a dict of binding sets keyed by part of the message's pattern
  (`NAME` for the core): nothing absent is written.
- **Breaking**: the modules `serialize` and `fastshacl` are gone.

A paragraph with a [link](https://example.org/x?a=1&b=2), a [local one](docs/rest.md) and
a [bad one](javascript:alert(1)).
"""


def test_a_changelog_renders_headings_lists_code_bold_and_links() -> None:
    html = str(render_markdown(CHANGELOG))
    assert "<h2>Changelog</h2>" in html and "<h3>0.2.0 (unreleased)</h3>" in html
    assert "<h4>Changed (may need changes on your side)</h4>" in html
    assert ("<li><code>to_bindings()</code> returns a dict of binding sets keyed by part of the message&#39;s pattern "
            "(<code>NAME</code> for the core): nothing absent is written.</li>") in html
    assert "<li><strong>Breaking</strong>: the modules <code>serialize</code>" in html
    assert '<a href="https://example.org/x?a=1&amp;b=2">link</a>' in html
    assert "a local one and a bad one)." in html  # only http(s) links are links
    assert "javascript" not in html


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attributes: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attributes.update(name for name, _ in attrs)


@settings(deadline=None)  # a shared machine: no per-example time limit
@given(st.text())
def test_no_markup_of_the_source_gets_through(text: str) -> None:
    reader = _Tags()
    reader.feed(str(render_markdown(text)))
    assert reader.tags <= {"h2", "h3", "h4", "h5", "h6", "p", "ul", "li", "code", "strong", "a"}
    assert reader.attributes <= {"href"}


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
                    | st.text(), lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner), max_leaves=20)


@settings(deadline=None)  # a shared machine: no per-example time limit
@given(JSON)
def test_a_python_literal_evaluates_to_the_json_value(value: object) -> None:
    assert ast.literal_eval(python_literal(value)) == value


def test_every_example_is_its_own_python_literal() -> None:
    for name in NAMES:
        example = DEFAULT[name].example()
        assert ast.literal_eval(python_literal(example)) == json.loads(json.dumps(example))
