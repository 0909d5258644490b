"""The Python examples of README.md and docs/*.md run, and print what the docs say.

Each Markdown file's ```python blocks run in order, in one fresh namespace, in a
subprocess whose working directory is a temporary directory (so the files they write go
there). A ```text block right after a python block is that block's expected output.
A block preceded by ``<!-- skip: reason -->`` does not run (it needs a cluster, a GPU
framework or a napari window); it must still compile and import only names that exist.
Then the ``napari-datatools ...`` lines of the file's ```bash blocks run in the same
directory (the console command on the recipe the Python examples saved) and must exit 0.
"""

from __future__ import annotations

import ast
import importlib
import json
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```\s*([\w+-]*)\s*$")
SKIP = re.compile(r"^<!--\s*skip:\s*(?P<reason>.*?)\s*-->$")
#: Seconds one file's blocks may take (create_dataset, data_flow with processes...).
TIMEOUT = 600

# Runs in the subprocess: reads the blocks, runs them in one namespace, records each
# block's stdout, stops at the first error.
RUNNER = r"""
import contextlib, io, json, sys, traceback
blocks = json.load(open(sys.argv[1]))
namespace = {"__name__": "__main__"}
results = []
for block in blocks:
    out = io.StringIO()
    code = "\n" * (block["line"] - 1) + block["code"]  # tracebacks name the Markdown line
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(code, block["file"], "exec"), namespace)
        results.append({"stdout": out.getvalue(), "error": None})
    except BaseException:
        results.append({"stdout": out.getvalue(), "error": traceback.format_exc()})
        break
json.dump(results, open(sys.argv[2], "w"))
"""


@dataclass
class Block:
    file: str  # relative to the repository root
    line: int  # line of the first code line in the file
    lang: str
    code: str
    skip: str | None = None  # reason it is not run
    output: str | None = None  # the ```text block that follows it

    @property
    def id(self) -> str:
        return f"{self.file}:{self.line}"


def read_blocks(path: Path, root: Path = ROOT) -> list[Block]:
    """The fenced blocks of a Markdown file, each python block with its skip reason and
    its expected output."""
    lines = path.read_text().splitlines()
    blocks: list[Block] = []
    previous = ""  # the last non-blank line before a fence
    last_end = -1  # index of the closing fence of the previous block
    i = 0
    while i < len(lines):
        match = FENCE.match(lines[i].strip())
        if not match:
            previous = lines[i].strip() or previous
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].strip() == "```")
        skip = SKIP.match(previous)
        block = Block(str(path.relative_to(root)), i + 2, match.group(1),
                      "\n".join(lines[i + 1 : end]) + "\n", skip and skip.group("reason"))
        follows = blocks and not any(line.strip() for line in lines[last_end + 1 : i])
        if block.lang == "text" and follows and blocks[-1].lang == "python":
            blocks[-1].output = block.code
        blocks.append(block)
        previous, last_end, i = "", end, end + 1
    return blocks


def python_blocks(path: Path) -> list[Block]:
    return [b for b in read_blocks(path) if b.lang == "python"]


def run_blocks(blocks: list[Block], cwd: Path) -> list[dict]:
    """Run ``blocks`` in order in one namespace in a subprocess; their stdout and errors."""
    todo, done = cwd / ".blocks.json", cwd / ".results.json"
    todo.write_text(json.dumps([{"file": b.file, "line": b.line, "code": b.code}
                                for b in blocks]))
    proc = subprocess.run([sys.executable, "-c", RUNNER, str(todo), str(done)], cwd=cwd,
                          capture_output=True, text=True, timeout=TIMEOUT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(done.read_text())


DOC_IDS = [str(p.relative_to(ROOT)) for p in DOCS]


@pytest.mark.parametrize("path", DOCS, ids=DOC_IDS)
def test_examples_run_and_print_what_the_docs_say(path, tmp_path):
    blocks = [b for b in python_blocks(path) if b.skip is None]
    if not blocks:
        pytest.skip(f"{path.name} has no Python example to run")
    results = run_blocks(blocks, tmp_path)
    for block, result in zip(blocks, results, strict=False):
        assert result["error"] is None, f"{block.id} raised:\n{result['error']}"
        if block.output is not None:
            assert result["stdout"] == block.output, (
                f"{block.id} printed\n{result['stdout']}\nthe docs say\n{block.output}")
    assert len(results) == len(blocks)
    for line in cli_lines(path):
        proc = subprocess.run([sys.executable, "-m", "napari_datatools.cli", *line[1:]],
                              cwd=tmp_path, capture_output=True, text=True, timeout=TIMEOUT)
        assert proc.returncode == 0, f"{path.name}: {shlex.join(line)}\n{proc.stderr[-3000:]}"


def cli_lines(path: Path) -> list[list[str]]:
    """The ``napari-datatools ...`` commands of the file's bash blocks, comments removed."""
    return [shlex.split(line, comments=True) for b in read_blocks(path) if b.lang == "bash"
            for line in b.code.splitlines() if line.startswith("napari-datatools ")]


SKIPPED = [b for p in DOCS for b in python_blocks(p) if b.skip is not None]


def _imported_names(tree: ast.Module) -> list[tuple[str, str | None]]:
    """(module, name) of every import of napari_datatools in ``tree`` (name None: a module)."""
    found: list[tuple[str, str | None]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("napari_datatools"):
            found += [(node.module or "", alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [(a.name, None) for a in node.names if a.name.startswith("napari_datatools")]
    return found


@pytest.mark.parametrize("block", SKIPPED, ids=[b.id for b in SKIPPED])
def test_skipped_examples_compile_and_import_what_exists(block):
    assert block.skip, f"{block.id}: say why it is skipped (<!-- skip: reason -->)"
    tree = ast.parse(block.code, block.id)
    for module, name in _imported_names(tree):
        imported = importlib.import_module(module)
        assert name is None or hasattr(imported, name), f"{block.id}: {module} has no {name}"
    pytest.skip(f"not run: {block.skip}")


def test_the_block_reader_finds_skips_and_outputs(tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text(
        "# Title\n\n```python\nprint(1)\n```\n\n```text\n1\n```\n\n"
        "<!-- skip: needs a GPU -->\n```python\nimport torch\n```\n\n```bash\nls\n```\n"
    )
    blocks = read_blocks(doc, root=tmp_path)
    assert [(b.lang, b.line, b.skip, b.output) for b in blocks] == [
        ("python", 4, None, "1\n"),
        ("text", 8, None, None),
        ("python", 13, "needs a GPU", None),
        ("bash", 17, None, None),
    ]
    results = run_blocks([blocks[0], Block("doc.md", 20, "python", "1 / 0\n")], tmp_path)
    assert results[0] == {"stdout": "1\n", "error": None}
    assert 'File "doc.md", line 20' in results[1]["error"]
    assert "ZeroDivisionError" in results[1]["error"]
