"""Issue 11 item 7: every shell and Python block of README.md and docs/*.md runs as written.

Blocks fenced as ``sh``/``bash``/``shell`` run with ``bash -euo pipefail`` in a fresh directory that
links the repository's ``examples/`` and ``bench/`` (so ``examples/hems-voltage.json`` resolves), with
``dso-saref`` and ``python`` of the running interpreter first on PATH; blocks fenced as ``python``
run in a fresh interpreter in the same kind of directory. A block whose command starts a server
(``dso-saref ke emulate``, ``dso-saref serve``) starts it in the background, waits (with a deadline)
for the line that says it is ready, and stops it when the block ends; port 8280 is replaced by a free
port so that runs never meet another developer's stand-in.

A block that must not run is preceded by ``<!-- docs-test: skip (REASON) -->`` (the reason is
required: say why, e.g. it installs packages or needs a real Knowledge Engine). Other fences (``text``,
``toml``, ``json``, ``turtle``, none) are not run.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT

RUN = {"sh": "shell", "bash": "shell", "shell": "shell", "python": "python"}
SKIP = re.compile(r"<!--\s*docs-test:\s*skip\s*(?:\((?P<reason>[^)]*)\))?\s*-->")
FENCE = re.compile(r"^```(?P<lang>[\w-]*)\s*$")
TIMEOUT = 300

#: Shell functions in front of every shell block: servers go to the background until ready.
PRELUDE = r"""
__started=()
__wait_for() {  # FILE TEXT: wait until the server's output says it is ready (a deadline, not a sleep)
    local deadline=$((SECONDS + 60))
    until grep -q "$2" "$1" 2>/dev/null; do
        if ((SECONDS > deadline)); then echo "not ready in 60 s: $1" >&2; cat "$1" >&2; return 1; fi
        sleep 0.1
    done
}
dso-saref() {
    if [[ "${1:-}" == "serve" || "${1:-} ${2:-}" == "ke emulate" ]]; then
        local log; log=$(mktemp -p "$PWD" server.XXXX.log)
        command dso-saref "$@" >"$log" 2>&1 &
        __started+=($!)
        echo $! >> "$PWD/.servers"
        if [[ "$1" == "serve" ]]; then __wait_for "$log" "serving the DSO"; else __wait_for "$log" "emulator at"; fi
    else
        command dso-saref "$@"
    fi
}
"""


@dataclass(frozen=True)
class Block:
    """A fenced block of a document: where it starts, its language, text, and why it is skipped."""

    path: Path
    line: int
    kind: str
    text: str
    skip: str | None

    @property
    def id(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def blocks(path: Path) -> list[Block]:
    """The runnable blocks of a markdown file (the skip marker must be on the line before the fence)."""
    found: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if match is None:
            i += 1
            continue
        start = i
        i += 1
        body: list[str] = []
        while i < len(lines) and not lines[i].startswith("```"):
            body.append(lines[i])
            i += 1
        i += 1
        kind = RUN.get(match.group("lang"))
        marker = SKIP.search(lines[start - 1]) if start else None
        if kind is None:
            assert marker is None, f"{path}:{start + 1}: a skip marker before a block that never runs"
            continue
        reason = None
        if marker is not None:
            reason = (marker.group("reason") or "").strip()
            assert reason, f"{path}:{start + 1}: a skip marker needs a reason: <!-- docs-test: skip (why) -->"
        found.append(Block(path, start + 1, kind, "\n".join(body) + "\n", reason))
    return found


DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCKS = [block for path in DOCUMENTS for block in blocks(path)]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def workspace(tmp_path: Path) -> dict[str, str]:
    """A fresh directory like a clone's root (examples/, bench/ linked) and the environment to run in."""
    for name in ("examples", "bench"):
        (tmp_path / name).symlink_to(ROOT / name)
    bin_dir = tmp_path / ".bin"
    bin_dir.mkdir()
    for name in ("python", "python3"):  # a wrapper, not a link: a virtual environment knows itself by its path
        wrapper = bin_dir / name
        wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n', encoding="utf-8")
        wrapper.chmod(0o755)
    path = os.pathsep.join([str(bin_dir), str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return {**os.environ, "PATH": path, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"}


def shell_script(text: str, port: int) -> str:
    """The block as a script: port 8280 replaced, servers started in the background by the prelude
    (a trailing ``&`` on their line is dropped: the prelude backgrounds them once they are ready)."""
    text = text.replace("8280", str(port))
    text = re.sub(r"^(\s*dso-saref (?:serve|ke emulate)\b.*?)\s*&\s*(#.*)?$", r"\1", text, flags=re.MULTILINE)
    return PRELUDE + text


def stop_servers(tmp_path: Path) -> None:
    pids = tmp_path / ".servers"
    if not pids.exists():
        return
    for pid in pids.read_text().split():
        try:
            os.kill(int(pid), 15)
        except ProcessLookupError:
            continue
    for pid in pids.read_text().split():
        try:
            os.waitpid(int(pid), 0)
        except ChildProcessError:  # not our child (the shell started it): poll /proc until it is gone
            _wait_gone(int(pid))


def _wait_gone(pid: int) -> None:
    import time

    deadline = time.monotonic() + 20
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    if Path(f"/proc/{pid}").exists():
        os.kill(pid, 9)


def test_skip_markers_are_few_and_give_reasons() -> None:
    skipped = [b for b in BLOCKS if b.skip is not None]
    assert len(skipped) <= len(BLOCKS) // 3, [b.id for b in skipped]
    assert all(len(b.skip or "") >= 10 for b in skipped)


@pytest.mark.slow
@pytest.mark.parametrize("block", BLOCKS, ids=[b.id for b in BLOCKS])
def test_block_runs_as_written(block: Block, tmp_path: Path) -> None:
    if block.skip is not None:
        pytest.skip(block.skip)
    env = workspace(tmp_path)
    if block.kind == "python":
        command = [sys.executable, "-c", textwrap.dedent(block.text)]
    else:
        command = ["bash", "-euo", "pipefail", "-c", shell_script(block.text, free_port())]
    try:
        run = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=TIMEOUT,
                             check=False)
    finally:
        stop_servers(tmp_path)
    assert run.returncode == 0, f"{block.id} failed ({run.returncode}):\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"


# -- the published wire contract and the packaging files (item 12) ----------------------------------------

MESSAGES = ROOT / "docs" / "messages.md"
GENERATED = re.compile(r"(<!-- generated: begin[^\n]*-->\n)(.*?)(<!-- generated: end -->)", re.DOTALL)


def generated_messages() -> str:
    from dso_saref.cli.messages import markdown_catalog

    return markdown_catalog()


def test_docs_messages_is_the_catalog_as_generated() -> None:
    match = GENERATED.search(MESSAGES.read_text(encoding="utf-8"))
    assert match is not None, "docs/messages.md lost its generated-section markers"
    assert match.group(2) == generated_messages(), (
        "docs/messages.md is out of date with the catalog: run python -m tests.test_docs --write-messages")


def test_the_readme_and_the_package_doc_point_to_the_published_contract() -> None:
    import dso_saref

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "docs/messages.md" in readme and "(`MESSAGES.md`)" not in readme
    assert "docs/messages.md" in (dso_saref.__doc__ or "")


def test_licence_changelog_and_typing_marker_ship() -> None:
    import tomllib

    import dso_saref

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["license"] == {"text": "Apache-2.0"}
    licence = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in licence and "Version 2.0, January 2004" in licence
    assert "END OF TERMS AND CONDITIONS" in licence
    assert (ROOT / "dso_saref" / "py.typed").exists()
    assert "py.typed" in project["tool"]["setuptools"]["package-data"]["dso_saref"]
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert f"## {dso_saref.__version__}" in changelog and project["project"]["version"] == dso_saref.__version__
    assert project["project"]["urls"]


def test_the_slow_list_names_tests_that_exist() -> None:
    import ast

    from tests.conftest import SLOW_TESTS

    for name in SLOW_TESTS:
        path, _, function = name.partition("::")
        tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
        assert not function or function in {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}, name


def write_messages() -> None:
    """Rewrite docs/messages.md's generated part from the catalog."""
    text = MESSAGES.read_text(encoding="utf-8")
    MESSAGES.write_text(GENERATED.sub(lambda m: m.group(1) + generated_messages() + m.group(3), text), encoding="utf-8")


if __name__ == "__main__":
    if sys.argv[1:] != ["--write-messages"]:
        raise SystemExit("usage: python -m tests.test_docs --write-messages")
    write_messages()
