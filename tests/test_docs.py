"""Every code block of README.md and docs/*.md runs.

Python blocks run in order, one document at a time, in a fresh folder; ``bash`` blocks run
their cheap ``caitlab`` commands (:data:`CHEAP`) in that folder first, in document order.
A block preceded by ``<!-- not executed: reason -->`` is skipped, with its reason.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import matplotlib
import pytest
from typer.testing import CliRunner

from caitlab.cli import _register_commands, app

matplotlib.use("Agg")
_register_commands()

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"(<!-- not executed: [^>]+ -->\n)?```(\w*)\n(.*?)```", re.S)
#: caitlab commands run from bash blocks: those that take seconds, not minutes
CHEAP = {"example", "check", "run", "plot", "figures", "export", "--version"}


def blocks(path: Path) -> list[tuple[str, str, bool]]:
    """(language, code, skipped) of every fenced block of ``path``."""
    return [
        (m.group(2), m.group(3), m.group(1) is not None) for m in BLOCK.finditer(path.read_text())
    ]


def cheap_commands(code: str) -> list[list[str]]:
    """The cheap ``caitlab`` command lines of a bash block, as argument lists."""
    commands = []
    for line in code.replace("\\\n", " ").splitlines():
        line = re.sub(r"\s#.*$", "", line).strip()
        words = [w for w in shlex.split(line) if not w.startswith("[")] if line else []
        if words[:1] == ["caitlab"] and len(words) > 1 and words[1] in CHEAP:
            commands.append(words[1:])
    return commands


def test_no_document_points_at_files_users_do_not_have():
    for path in DOCUMENTS:
        assert "../shared" not in path.read_text(), path.name


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: p.name)
def test_code_blocks_run(path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    found = blocks(path)
    for language, code, skipped in found:
        if skipped:
            continue
        if language == "bash":
            for args in cheap_commands(code):
                done = runner.invoke(app, args)
                assert done.exit_code == 0, f"caitlab {' '.join(args)}: {done.output}"
        elif language == "python":
            exec(compile(code, f"{path.name} block", "exec"), {"__name__": "__doc_block__"})
    import matplotlib.pyplot as plt

    plt.close("all")
