"""scripts/make_student.py: student versions hold no solution, whatever its directive form.

The book-wide test finds the solutions with an independent parser (markdown-it with MyST's colon
fences, the parser MyST itself builds on) and checks that none of their text is left.
"""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from mdit_py_plugins.colon_fence import colon_fence_plugin

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import make_student  # noqa: E402

BOOK_NOTEBOOKS = sorted(p for p in (ROOT / "book").glob("*.ipynb") if not p.name.startswith("_"))


def _nb(cells):
    return {"cells": [{"cell_type": t, "source": s, "metadata": {},
                       **({"outputs": [{"output_type": "stream", "name": "stdout", "text": "x"}],
                           "execution_count": 3} if t == "code" else {})}
                      for t, s in cells],
            "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def _text(nb):
    return "\n".join("".join(c["source"]) for c in nb["cells"])


# ------------------------------------------------------------------------------ every directive form
EXERCISE = "```{exercise} Title\n:label: ex-1\n\nDo the thing.\n```\n"
FORMS = {
    "three backticks": EXERCISE + "\n```{solution} ex-1\n:class: dropdown\n\nSECRET prose.\n```\n",
    "four backticks around code": EXERCISE + "\n````{solution} ex-1\n:class: dropdown\n\nSECRET:\n\n"
                                            "```python\nsecret = 42\n```\n\nMore SECRET.\n````\n",
    "colon fence": EXERCISE + "\n:::{solution} ex-1\n:class: dropdown\n\nSECRET prose.\n:::\n",
    "colon fence around a code block": EXERCISE + "\n::::{solution} ex-1\n\n```python\nSECRET = 1\n```\n"
                                                 "::::\n",
    "five backticks, unclosed inner block": EXERCISE + "\n`````{solution} ex-1\n```\nSECRET\n`````\n",
    "indented fence": EXERCISE + "\n  ```{solution} ex-1\n  SECRET\n  ```\n",
}


@pytest.mark.parametrize("form", sorted(FORMS))
def test_every_solution_directive_form_is_removed(form):
    nb = _nb([("markdown", FORMS[form] + "\nAfter the solution."), ("code", "print(1)")])
    out = make_student.strip_solutions(nb)
    text = _text(out)
    assert "SECRET" not in text and "secret" not in text and "{solution" not in text
    assert "Do the thing." in text and ":label: ex-1" in text and "After the solution." in text
    assert out["cells"][1]["outputs"] == [] and out["cells"][1]["execution_count"] is None


def test_several_exercises_and_solutions_in_one_cell():
    cell = (EXERCISE + "\n```{solution} ex-1\nSECRET one\n```\n\n"
            "```{exercise} Second\n:label: ex-2\n\nSecond statement.\n```\n\n"
            "````{solution} ex-2\n```python\nSECRET two\n```\n````\n\nClosing words.")
    text = _text(make_student.strip_solutions(_nb([("markdown", cell)])))
    assert "SECRET" not in text
    assert "Do the thing." in text and "Second statement." in text and "Closing words." in text


def test_gated_solution_across_cells_keeps_the_stub_and_the_next_exercise():
    nb = _nb([
        ("markdown", EXERCISE),
        ("code", "def f(x):\n    raise NotImplementedError  # your code here\n\n\nexercises.check_f(f)"),
        ("markdown", "Before.\n\n```{solution-start} ex-1\n:class: dropdown\n```\nSECRET explanation."),
        ("code", "def f(x):\n    return 'SECRET'\n\n\nexercises.check_f(f)"),
        ("markdown", "```{solution-end}\n```\n\n```{exercise} Next\n:label: ex-2\n\nNext statement.\n```"),
        ("code", "print('set-up of the next part')"),
    ])
    out = make_student.strip_solutions(nb)
    text = _text(out)
    assert "SECRET" not in text and "{solution" not in text
    assert "NotImplementedError" in text and text.count("exercises.check_f(f)") == 1
    assert "Before." in text and "Next statement." in text and "set-up of the next part" in text
    assert [c["cell_type"] for c in out["cells"]] == ["markdown", "code", "markdown", "markdown", "code"]


def test_gated_solution_with_colon_fences():
    nb = _nb([("markdown", ":::{solution-start} ex-1\n:::\nSECRET"), ("code", "SECRET = 1"),
              ("markdown", ":::{solution-end}\n:::\nAfter.")])
    assert _text(make_student.strip_solutions(nb)) == "After."


def test_a_solution_shown_as_literal_code_is_not_a_solution():
    # A code block that *shows* the syntax (four backticks around it) is text, not a directive.
    doc = "How to write one:\n\n````markdown\n```{solution} ex-1\nanswer\n```\n````\n"
    assert _text(make_student.strip_solutions(_nb([("markdown", doc)]))) == doc.rstrip("\n")


@pytest.mark.parametrize("cells, match", [
    ([("markdown", "```{solution-start} e\n```")], "no matching solution-end"),
    ([("markdown", "```{solution-end}\n```")], "without a solution-start"),
    ([("markdown", "```{solution-start} a\n```"), ("markdown", "```{solution-start} b\n```")], "inside another"),
    ([("markdown", "````{solution} e\ntext\n```")], "not closed"),
])
def test_unbalanced_solutions_are_errors(cells, match):
    with pytest.raises(ValueError, match=match):
        make_student.strip_solutions(_nb(cells))


def test_command_line_writes_student_versions_and_refuses_the_book_folder(tmp_path):
    src = tmp_path / "ch99_x.ipynb"
    src.write_text(json.dumps(_nb([("markdown", FORMS["three backticks"]), ("code", "1")])))
    out = tmp_path / "student"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "make_student.py"), "--out", str(out), str(src)],
                   check=True, capture_output=True)
    assert "SECRET" not in (out / src.name).read_text()
    same = subprocess.run([sys.executable, str(ROOT / "scripts" / "make_student.py"), "--out", str(tmp_path),
                           str(src)], capture_output=True, text=True)
    assert same.returncode != 0 and "must differ" in same.stderr


# ------------------------------------------------------------------- the book, with another parser
_MD = MarkdownIt("commonmark").use(colon_fence_plugin)


def _directive(info):
    match = re.match(r"\s*\{([^}]+)\}", info or "")
    return match.group(1) if match else None


def _solution_spans(text):
    """``[(first, last_exclusive, kind)]`` line spans of solution directives in a markdown text (kind
    'solution', 'start' or 'end'), recursing into other directives' content as MyST does."""
    spans = []
    for tok in _MD.parse(text):
        if tok.type not in ("fence", "colon_fence") or tok.map is None:
            continue
        name = _directive(tok.info)
        first, last = tok.map
        if name == "solution":
            spans.append((first, last, "solution"))
        elif name == "solution-start":
            spans.append((first, last, "start"))
        elif name == "solution-end":
            spans.append((first, last, "end"))
        elif name:  # a directive: its content is markdown (body starts after the fence line)
            body = text.splitlines()[first + 1:last]
            spans += [(first + 1 + a, first + 1 + b, k) for a, b, k in _solution_spans("\n".join(body))]
    return spans


def _split(nb):
    """The notebook's lines, split into solution text and the rest (exercises, prose, code)."""
    solution, rest, gated, count = [], [], False, 0
    for cell in nb["cells"]:
        lines = "".join(cell["source"]).splitlines()
        if cell["cell_type"] != "markdown":
            (solution if gated else rest).extend(lines)
            continue
        marks = [None] * len(lines)
        for first, last, kind in sorted(_solution_spans("\n".join(lines))):
            count += kind in ("solution", "start")
            for i in range(first, min(last, len(lines))):
                marks[i] = kind
            if kind == "start":
                gated = True
                for i in range(last, len(lines)):
                    marks[i] = marks[i] or "gated"
            elif kind == "end":
                gated = False
                for i in range(last, len(lines)):
                    if marks[i] == "gated":
                        marks[i] = None
        if gated and not any(m == "start" for m in marks):
            marks = [m or "gated" for m in marks]
        for line, mark in zip(lines, marks):
            (solution if mark else rest).append(line)
    return solution, rest, count


@pytest.mark.parametrize("path", BOOK_NOTEBOOKS, ids=lambda p: p.stem)
def test_book_student_version_holds_no_solution_text(path):
    original = json.loads(path.read_text(encoding="utf-8"))
    student = make_student.strip_solutions(original)
    student_lines = {line.strip() for line in _text(student).splitlines()}
    solution, rest, count = _split(original)
    opened = len(re.findall(r"^ {0,3}(?:`{3,}|:{3,})\{solution(?:-start)?\}", _text(original), flags=re.M))
    assert count == opened, "the two parsers disagree on how many solutions there are"
    exercises = len(re.findall(r"^ {0,3}(?:`{3,}|:{3,})\{exercise", _text(original), flags=re.M))
    assert count >= exercises, f"{path.name}: {exercises} exercises but {count} solutions"
    # No solution line survives unless the same line is also outside the solutions (a repeated set-up line).
    everywhere_else = {line.strip() for line in rest}
    leaked = [line for line in solution if line.strip() and line.strip() not in everywhere_else
              and line.strip() in student_lines]
    assert not leaked, f"{path.name}: solution text left in the student version: {leaked[:3]}"
    assert "{solution" not in _text(student)
    # What a student needs stays: every other line (statements, stubs, check_ calls, set-up) ...
    missing = [line for line in rest if line.strip() and line.strip() not in student_lines]
    assert not missing, f"{path.name}: lost non-solution lines: {missing[:3]}"
    # ... and no output of the instructors' run.
    assert all(c.get("outputs", []) == [] for c in student["cells"] if c["cell_type"] == "code")


def test_the_book_has_solutions_to_remove():
    counts = [_split(json.loads(p.read_text(encoding="utf-8")))[2] for p in BOOK_NOTEBOOKS]
    assert sum(counts) >= 3 * len(BOOK_NOTEBOOKS)  # at least three exercises per chapter, each solved
