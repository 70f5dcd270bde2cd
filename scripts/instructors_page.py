"""Generate ``book/instructors.md``: every exercise of every chapter in one table, for instructors.

    python scripts/instructors_page.py            # rewrite the page (make instructors)
    python scripts/instructors_page.py --check    # exit 1 if the page is not current (the tests do this)

The table is read from the notebooks listed in ``_toc.yml``, in the book's order, so it cannot drift
from them. For each ``exercise`` directive:

* **kind** -- *self-checking* when the statement or the code cell the reader fills in calls
  ``exercises.check_...``; *code* when the solution holds code, a cell is left for the reader's code,
  or the statement asks to write, run, train, plot, ...; *prose* otherwise;
* **needs** -- what the reader must run: *nothing* (prose), *any* (code that runs in seconds in any
  profile, ``smoke`` included; self-checks), *cpu* (trains again, or its answer is a measured accuracy,
  BLEU, perplexity or loss, which means something only with the real weights of the ``cpu``
  profile: minutes on 2 cores), *gpu* (the statement asks for the ``gpu`` profile);
* **time** -- a rough estimate from the kind and what it needs: 15 min for prose, 30 min for code
  that runs in seconds, 45-90 min when experiments run again on a CPU, 2 h or more on a GPU.

An author can state both for one exercise with a MyST comment line in the exercise's body, which the
site does not show: ``% instructors: needs=cpu, time=60 min``. The page lists where each value came
from (``*`` marks an author's value).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
PAGE = BOOK / "instructors.md"
TOC = ROOT / "_toc.yml"
sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_student import FENCE, directive_name  # noqa: E402

CHECK_CALL = re.compile(r"\bcheck_\w+\s*\(")
RUN_WORDS = re.compile(r"\b(write|implement|compute|plot|run|re-run|rerun|train|pre-train|repeat|measure|"
                       r"try|sweep|tune|sample|construct|give the)\b", re.I)
CPU_WORDS = re.compile(r"\b(re-?run|train(?:ing)?|pre-train|fine-tune|repeat the|seeds|sweep|steps|epochs?|"
                       r"tune it)\b", re.I)
MEASURED = re.compile(r"\b(accuracy|BLEU|perplexit(?:y|ies)|loss)\b", re.I)
GPU_WORDS = re.compile(r"\b(gpu profile|on a gpu|colab gpu|full (?:imdb|data ?set|dataset))\b", re.I)
AUTHOR = re.compile(r"^\s*%\s*instructors:\s*(?P<body>.*)$", re.M)
NEEDS = ("nothing", "any", "cpu", "gpu")


@dataclass
class Exercise:
    notebook: str
    label: str
    title: str
    statement: str
    stub_code: list[str] = field(default_factory=list)
    solution: list[str] = field(default_factory=list)
    solution_code: bool = False

    @property
    def author(self) -> dict:
        match = AUTHOR.search(self.statement)
        if not match:
            return {}
        values = dict(part.split("=", 1) for part in re.split(r"[,;]\s*", match.group("body").strip()) if "=" in part)
        return {k.strip(): v.strip() for k, v in values.items()}

    @property
    def kind(self) -> str:
        if any(CHECK_CALL.search(code) for code in self.stub_code) or CHECK_CALL.search(self.statement):
            return "self-checking"
        if self.stub_code or self.solution_code or "```" in "\n".join(self.solution) \
                or RUN_WORDS.search(self.statement):
            return "code"
        return "prose"

    @property
    def needs(self) -> tuple[str, bool]:
        if "needs" in self.author:
            if self.author["needs"] not in NEEDS:
                raise ValueError(f"{self.notebook} {self.label}: needs={self.author['needs']!r}, "
                                 f"expected one of {NEEDS}")
            return self.author["needs"], True
        if GPU_WORDS.search(self.statement):
            return "gpu", False
        if self.kind == "prose":
            return "nothing", False
        if self.kind == "self-checking":
            return "any", False
        if CPU_WORDS.search(self.statement + "\n" + "\n".join(self.solution)) or MEASURED.search(self.statement):
            return "cpu", False
        return "any", False

    @property
    def time(self) -> tuple[str, bool]:
        if "time" in self.author:
            return self.author["time"], True
        needs = self.needs[0]
        if needs == "gpu":
            return "2 h+", False
        if needs == "cpu":
            return "45-90 min", False
        if self.kind == "prose":
            return "15 min", False
        return "30 min", False


def _lines(cell) -> list[str]:
    source = cell.get("source", "")
    return ("".join(source) if isinstance(source, list) else source).splitlines()


def _blocks(lines: list[str]):
    """``(name, info, body_lines)`` of each top-level directive fence in a markdown cell."""
    i = 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match or not directive_name(match.group("info")):
            if match:  # a plain code fence: skip to its end
                fence = match.group("fence")
                i += 1
                while i < len(lines) and not (lines[i].strip().startswith(fence[0] * len(fence))
                                              and not lines[i].strip().strip(fence[0])):
                    i += 1
            i += 1
            continue
        fence, info = match.group("fence"), match.group("info")
        j = i + 1
        while j < len(lines):
            close = FENCE.match(lines[j])
            if close and close.group("fence")[0] == fence[0] and len(close.group("fence")) >= len(fence) \
                    and not close.group("info").strip():
                break
            j += 1
        yield directive_name(info), info, lines[i + 1:j]
        i = j + 1


def _label(body: list[str]) -> str | None:
    for line in body:
        match = re.match(r"\s*:label:\s*(\S+)", line)
        if match:
            return match.group(1)
    return None


def _statement(body: list[str]) -> str:
    return "\n".join(line for line in body if not re.match(r"\s*:[\w-]+:", line)).strip()


def exercises(path: Path) -> list[Exercise]:
    """The exercises of one notebook, with the code cells a reader fills in and their solutions."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    found: list[Exercise] = []
    by_label: dict[str, Exercise] = {}
    current: Exercise | None = None
    gated: Exercise | None = None
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "markdown":
            code = "\n".join(_lines(cell))
            if gated is not None:
                gated.solution.append(code)
                gated.solution_code = True
            elif current is not None:
                current.stub_code.append(code)
            continue
        lines = _lines(cell)
        for name, info, body in _blocks(lines):
            argument = info.split("}", 1)[1].strip() if "}" in info else ""
            if name == "exercise":
                label = _label(body) or f"(unlabelled {len(found) + 1})"
                current = Exercise(path.name, label, argument, _statement(body))
                found.append(current)
                by_label[label] = current
            elif name == "solution":
                target = by_label.get(argument) or current
                if target is not None:
                    target.solution.append("\n".join(body))
                current = None
            elif name == "solution-start":
                gated = by_label.get(argument) or current
                current = None
            elif name == "solution-end":
                gated = None
        if gated is not None:  # markdown text of a gated solution (after its start fence)
            gated.solution.append("\n".join(lines))
    return found


def toc_notebooks(toc: Path = TOC) -> list[Path]:
    """The notebooks of ``_toc.yml``, in the book's order."""
    files = re.findall(r"^\s*-?\s*(?:file|root):\s*(\S+)", toc.read_text(encoding="utf-8"), flags=re.M)
    paths = [ROOT / f"{f}.ipynb" for f in files]
    return [p for p in paths if p.exists()]


def _cell(text: str) -> str:
    """Text for a table cell inside a role: no pipes, backticks, angle brackets or newlines."""
    return re.sub(r"[`<>]", "", text).replace("|", "/").replace("\n", " ").strip()


HEADER = """\
# For instructors

*This page is generated by `python scripts/instructors_page.py` (`make instructors`) from the
chapter notebooks; a test fails when it is out of date. Do not edit it by hand.*

## Handing out the exercises

Every chapter ends with at least three exercises; their solutions sit in drop-downs on this site and
in the notebooks. To give students the notebooks without the solutions, run, in a clone of the
repository:

```bash
make student          # or: python scripts/make_student.py --out student
```

`student/` then holds one notebook per chapter with every solution removed (whatever directive form
it uses, including solutions that span several cells), the code outputs cleared, and everything
else kept: the set-up cells, the chapter's text and code, the exercise statements and the cells in
which students write their answer. Upload those notebooks to your course page or to Colab; on Colab,
their first cell installs the course package from the repository named in it (see the README). A
test runs the command on every notebook of the book and fails if any solution text is left.

## How the self-checks report

A *self-checking* exercise gives the student a cell with a stub (a function that raises
`NotImplementedError`, or `answer = ...`) followed by a call such as
`exercises.check_macro_f1(my_macro_f1)`. The check runs the student's answer on a few cases and prints
one line: `✅ macro_f1: all 4 cases pass`, or `❌` with the first failing case, what it expected and,
where common mistakes are known, a hint (for example that a class that is never predicted still counts
in macro-F1). A check never raises: a wrong answer does not stop the notebook. It returns an object that
is true only when the answer is right, so an autograder can collect results with
`assert exercises.check_macro_f1(my_macro_f1, show=False)`. The reference answers are compared with
library implementations (scikit-learn, sacreBLEU, `transformers`) in the package's unit tests.

## Every exercise

*kind*: prose, code, or self-checking (calls an `exercises.check_...` function). *needs*: nothing (paper
and pencil), any (seconds of code on any machine), cpu (re-runs part of the chapter with the `cpu`
profile: minutes on 2 cores), gpu (a full-size run). *time*: a rough estimate for a student, including
the runs. Values marked * were set by the chapter's author; the others follow from the exercise's
text (see `scripts/instructors_page.py`).

"""


def render(notebooks: list[Path] | None = None) -> str:
    notebooks = toc_notebooks() if notebooks is None else notebooks
    rows = ["| chapter | exercise | label | kind | needs | time |", "|---|---|---|---|---|---|"]
    counts = {"prose": 0, "code": 0, "self-checking": 0}
    total = 0
    for path in notebooks:
        doc = path.stem  # the book's notebooks all sit in book/, next to this page
        for ex in exercises(path):
            needs, needs_author = ex.needs
            time, time_author = ex.time
            counts[ex.kind] += 1
            total += 1
            rows.append(f"| {{doc}}`{doc}` | {{ref}}`{_cell(ex.title) or ex.label} <{ex.label}>` | `{ex.label}` "
                        f"| {ex.kind} | {needs}{'*' if needs_author else ''} | {time}{'*' if time_author else ''} |")
    summary = (f"{total} exercises in {len(notebooks)} notebooks: {counts['self-checking']} self-checking, "
               f"{counts['code']} code, {counts['prose']} prose.\n\n")
    return HEADER + summary + "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help=f"exit 1 if {PAGE.name} is not current")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = PAGE.exists() and PAGE.read_text(encoding="utf-8") == text
        print(f"{PAGE.relative_to(ROOT)} is {'current' if current else 'out of date: run make instructors'}")
        return 0 if current else 1
    PAGE.write_text(text, encoding="utf-8")
    print(f"wrote {PAGE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
