"""Write student versions of the chapter notebooks: every solution removed, outputs cleared.

    python scripts/make_student.py --out student                 # every notebook of book/ (make student)
    python scripts/make_student.py --out handout book/ch05_finetuning_overview.ipynb

A solution is removed whichever ``sphinx-exercise`` form it uses:

* a ``solution`` directive in a markdown cell, fenced with three or more backticks or colons
  (```` ```{solution} ````, ````` ````{solution} ````` around a nested code block, ``:::{solution}``),
  wherever it sits in the cell (several exercises and solutions may share one cell);
* a gated solution: everything from a ``solution-start`` directive to the next ``solution-end``
  directive, across cells, code cells included; text before the start and after the end (the next
  exercise, say) stays.

Fences follow the CommonMark rules MyST uses: a fence closes with the same character, at least as
many times, and nothing after it, so a code block nested in a four-backtick solution does not end it.
Everything else stays: the exercise statements, the code cells that call ``exercises.check_...`` on
the reader's answer, the set-up cells. Code-cell outputs and execution counts are cleared.

Book section: the preface (instructors) and ``book/instructors.md``.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"

FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|:{3,})(?P<info>.*)$")
DIRECTIVE = re.compile(r"^\s*\{(?P<name>[A-Za-z0-9_:+-]+)\}")


def _lines(source) -> list[str]:
    text = "".join(source) if isinstance(source, list) else source
    return text.splitlines(keepends=True)


def directive_name(info: str) -> str | None:
    """``"solution"`` for the info string ``{solution} ex-1``; None for a plain code fence."""
    match = DIRECTIVE.match(info)
    return match.group("name") if match else None


@dataclass
class _Frame:
    char: str
    length: int
    kind: str  # "literal" (code block: not scanned), "container" (a directive: scanned), "solution",
    #            "gate-start", "gate-end"


@dataclass
class Scanner:
    """Walks a notebook's markdown cell by cell and says which lines belong to a solution.

    ``gated`` carries a ``solution-start`` ... ``solution-end`` region from one cell to the next.
    """

    gated: bool = False
    cell: int = 0
    stack: list = field(default_factory=list)

    def _dropping(self) -> bool:
        return self.gated or any(f.kind != "literal" and f.kind != "container" for f in self.stack)

    def markdown(self, lines: list[str]) -> list[tuple[str, bool]]:
        """``(line, is_solution)`` for each line of one markdown cell.

        Raises:
            ValueError: a solution fence is not closed in its cell, a ``solution-end`` comes without a
                ``solution-start``, or a ``solution-start`` comes inside another.
        """
        out = []
        self.stack = []
        for line in lines:
            match = FENCE.match(line.rstrip("\n"))
            closes = None
            if match and not match.group("info").strip():
                fence = match.group("fence")
                # The outermost fence this line can close wins: MyST finds a fence's end before it
                # parses the fence's content, so an unclosed code block inside a solution ends with it.
                closes = next((i for i, f in enumerate(self.stack)
                               if fence[0] == f.char and len(fence) >= f.length), None)
            if closes is not None:
                out.append((line, self._dropping()))
                closed = self.stack[closes]
                del self.stack[closes:]
                if closed.kind == "gate-start":
                    self.gated = True
                elif closed.kind == "gate-end":
                    self.gated = False
                continue
            if self.stack and self.stack[-1].kind == "literal":
                out.append((line, self._dropping()))
                continue
            if match:
                fence, info = match.group("fence"), match.group("info")
                name = directive_name(info)
                if name == "solution":
                    kind = "solution"
                elif name == "solution-start":
                    if self.gated:
                        raise ValueError(f"cell {self.cell}: a solution-start inside another solution")
                    kind = "gate-start"
                elif name == "solution-end":
                    if not self.gated:
                        raise ValueError(f"cell {self.cell}: a solution-end without a solution-start")
                    kind = "gate-end"
                else:
                    kind = "container" if name else "literal"
                self.stack.append(_Frame(fence[0], len(fence), kind))
            out.append((line, self._dropping()))
        open_solutions = [f for f in self.stack if f.kind not in ("literal", "container")]
        if open_solutions:
            raise ValueError(f"cell {self.cell}: a solution fence ({open_solutions[0].char * open_solutions[0].length}) "
                             "is not closed in its cell")
        return out


def _tidy(lines: list[str]) -> list[str]:
    """Collapse the blank lines a removed solution leaves behind; no blank lines at either end."""
    out: list[str] = []
    for line in lines:
        if not line.strip() and (not out or not out[-1].strip()):
            continue
        out.append(line)
    while out and not out[-1].strip():
        out.pop()
    if out:
        out[-1] = out[-1].rstrip("\n")  # nbformat: the last line of a source has no newline
    return out


def strip_solutions(notebook: dict) -> dict:
    """A copy of ``notebook`` (nbformat 4 JSON) without solutions, code outputs cleared.

    Raises:
        ValueError: unbalanced solution directives (see :meth:`Scanner.markdown`), or a
            ``solution-start`` that never ends.
    """
    scanner = Scanner()
    cells = []
    for index, cell in enumerate(notebook.get("cells", [])):
        scanner.cell = index
        kind = cell.get("cell_type")
        if kind == "markdown":
            kept = [line for line, drop in scanner.markdown(_lines(cell.get("source", ""))) if not drop]
            kept = _tidy(kept)
            if not "".join(kept).strip():
                continue
            new = copy.deepcopy(cell)
            new["source"] = kept
            cells.append(new)
            continue
        if scanner.gated:
            continue
        new = copy.deepcopy(cell)
        if kind == "code":
            new["outputs"], new["execution_count"] = [], None
            for key in ("execution", "papermill"):
                new.get("metadata", {}).pop(key, None)
        cells.append(new)
    if scanner.gated:
        raise ValueError("notebook: a solution-start has no matching solution-end")
    out = {k: copy.deepcopy(v) for k, v in notebook.items() if k != "cells"}
    out.get("metadata", {}).pop("papermill", None)
    out["cells"] = cells
    return out


def write_student(source: Path, target: Path) -> dict:
    """Write the student version of ``source`` to ``target`` and return it.

    Raises:
        ValueError: ``target`` is ``source`` (the chapter would lose its solutions), or see
            :func:`strip_solutions`.
    """
    if source.resolve() == target.resolve():
        raise ValueError(f"target: must differ from the source {source} (the chapter would lose its solutions)")
    try:
        nb = strip_solutions(json.loads(source.read_text(encoding="utf-8")))
    except ValueError as exc:
        raise ValueError(f"{source.name}: {exc}") from None
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return nb


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="folder for the student notebooks (e.g. student)")
    parser.add_argument("notebooks", nargs="*", type=Path, help="notebooks (default: every book/*.ipynb)")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted(p for p in BOOK.glob("*.ipynb") if not p.name.startswith("_"))
    if args.out.resolve() in {p.parent.resolve() for p in paths}:
        parser.error("--out: must differ from the notebooks' folder (the chapters would lose their solutions)")
    for path in paths:
        try:
            nb = write_student(path, args.out / path.name)
        except ValueError as exc:
            parser.error(str(exc))
        print(f"{args.out / path.name}: {len(nb['cells'])} cells")
    return 0


if __name__ == "__main__":
    sys.exit(main())
