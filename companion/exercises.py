"""Self-checking exercises: the reader calls a check on their answer and gets a specific message.

Checks never raise on a wrong answer (a notebook keeps running); they print what is wrong and
return a :class:`Feedback` that is truthy only when the answer is right::

    from companion.exercises import check_function
    check_function(my_macro_f1, cases=[(([0, 1], [0, 0]), 1 / 3)], name="macro_f1")

``python -m companion.exercises strip-solutions IN.ipynb OUT.ipynb`` writes a student version of a
chapter without the solution cells (everything between ``solution-start`` and ``solution-end``
directives, inclusive).

Book section: every chapter's "Exercises".
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np


@dataclass
class Feedback:
    """The result of a check: ``ok`` and a human-readable ``message``; ``bool(feedback) == ok``.

    A check prints its feedback once. When the check is the last line of a notebook cell, IPython
    would display the returned object a second time; :meth:`_ipython_display_` prevents that, so a
    cell shows the message exactly once whichever way it is written.
    """

    ok: bool
    message: str
    shown: bool = False

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        return ("✅ " if self.ok else "❌ ") + self.message

    def show(self) -> "Feedback":
        print(repr(self))
        self.shown = True
        return self

    def _ipython_display_(self) -> None:
        if not self.shown:
            self.show()


def _close(a: Any, b: Any, rel_tol: float, abs_tol: float) -> bool:
    if isinstance(b, (str, bytes, bool)) or b is None:
        return a == b
    if isinstance(b, (int, float, np.integer, np.floating)):
        try:
            return math.isclose(float(a), float(b), rel_tol=rel_tol, abs_tol=abs_tol)
        except (TypeError, ValueError):
            return False
    try:
        a_arr, b_arr = np.asarray(a), np.asarray(b)
    except Exception:  # noqa: BLE001 - anything unconvertible is simply "not equal"
        return a == b
    if a_arr.shape != b_arr.shape:
        return False
    if np.issubdtype(b_arr.dtype, np.number):
        return bool(np.allclose(a_arr.astype(float), b_arr.astype(float), rtol=rel_tol, atol=abs_tol))
    return bool(np.array_equal(a_arr, b_arr))


def check_value(answer: Any, expected: Any, name: str = "answer", *, rel_tol: float = 1e-6,
                abs_tol: float = 1e-9, hint: str | None = None, show: bool = True) -> Feedback:
    """Compare an answer with the expected value (numbers within tolerance, arrays elementwise).

    Args:
        answer: the reader's value.
        expected: the right value.
        name: what the answer is, used in the message.
        rel_tol, abs_tol: tolerances for numbers and numeric arrays.
        hint: extra advice printed when the answer is wrong.
        show: print the feedback.

    Returns:
        A :class:`Feedback`.
    """
    if answer is None or answer is Ellipsis:
        fb = Feedback(False, f"{name}: no answer yet (got {answer!r})")
    elif _close(answer, expected, rel_tol, abs_tol):
        fb = Feedback(True, f"{name}: correct ({_short(answer)})")
    else:
        fb = Feedback(False, f"{name}: got {_short(answer)}, expected {_short(expected)}"
                      + (f". Hint: {hint}" if hint else ""))
    return fb.show() if show else fb


def check_function(fn: Callable, cases: Iterable[tuple[Sequence[Any], Any]], name: str | None = None,
                   *, rel_tol: float = 1e-6, abs_tol: float = 1e-9,
                   hints: Sequence[str | None] | None = None, show: bool = True) -> Feedback:
    """Run ``fn(*args)`` on each ``(args, expected)`` case and report the first mismatch.

    Args:
        fn: the reader's function.
        cases: pairs of positional-argument tuples and expected results.
        name: the function's name in messages (default ``fn.__name__``).
        rel_tol, abs_tol: tolerances as in :func:`check_value`.
        hints: optional advice per case, shown when that case fails.
        show: print the feedback.

    Returns:
        A :class:`Feedback`; an exception inside ``fn`` is reported, not raised.

    Raises:
        TypeError: if ``fn`` is not callable.
    """
    if not callable(fn):
        raise TypeError(f"fn: expected a function, got {type(fn).__name__}")
    name = name or getattr(fn, "__name__", "your function")
    cases = list(cases)
    hints = list(hints) if hints is not None else [None] * len(cases)
    fb = Feedback(True, f"{name}: all {len(cases)} cases pass")
    for i, ((args, expected), hint) in enumerate(zip(cases, hints), start=1):
        shown = ", ".join(_short(a) for a in args)
        try:
            got = fn(*args)
        except NotImplementedError:
            fb = Feedback(False, f"{name}: not implemented yet")
            break
        except Exception as exc:  # noqa: BLE001 - report the reader's error, do not crash the notebook
            fb = Feedback(False, f"{name}({shown}) raised {type(exc).__name__}: {exc}")
            break
        if not _close(got, expected, rel_tol, abs_tol):
            fb = Feedback(False, f"case {i}: {name}({shown}) returned {_short(got)}, expected {_short(expected)}"
                          + (f". Hint: {hint}" if hint else ""))
            break
    return fb.show() if show else fb


def _short(x: Any, limit: int = 80) -> str:
    if isinstance(x, float):
        text = f"{x:.6g}"
    elif isinstance(x, np.ndarray):
        text = np.array2string(x, precision=4, threshold=10)
    else:
        text = repr(x)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ---------------------------------------------------------------------------- 8.1 text classification
def check_macro_f1(fn: Callable[[Sequence[int], Sequence[int]], float], show: bool = True) -> Feedback:
    """Check a from-scratch macro-F1 ``fn(y_true, y_pred) -> float`` against scikit-learn.

    Cases include a class that is never predicted (its F1 is 0, not skipped) and three classes.
    """
    from sklearn.metrics import f1_score

    raw = [([0, 1, 1, 0], [0, 1, 0, 0]), ([1, 1, 1, 0], [1, 1, 1, 1]), ([0, 1, 2, 2, 1], [0, 2, 2, 2, 1]),
           ([0, 0, 1, 1], [1, 1, 0, 0])]
    cases = [((t, p), float(f1_score(t, p, average="macro", zero_division=0))) for t, p in raw]
    hints = [None, "a class that is never predicted has precision 0 and F1 0; it still counts in the mean",
             "average the per-class F1 over every class, unweighted", "all wrong: F1 is 0 for both classes"]
    return check_function(fn, cases, name="macro_f1", hints=hints, show=show)


def check_lora_parameters(fn: Callable[[int, int, int, int], int], show: bool = True) -> Feedback:
    """Check ``fn(hidden_size, num_layers, r, num_labels) -> int``: trainable parameters of LoRA on
    BERT's ``query`` and ``value`` projections plus a trainable classification head."""
    def ref(h, n, r, k):
        return n * 2 * r * (h + h) + (h * k + k)

    args = [(768, 12, 8, 2), (384, 6, 8, 2), (1024, 24, 16, 3), (384, 6, 1, 2)]
    hints = ["BERT-base: 294,912 LoRA parameters + 1,538 for the head",
             None, "each adapted matrix of shape (h, h) gets A: r x h and B: h x r", None]
    return check_function(fn, [(a, ref(*a)) for a in args], name="lora_parameters", hints=hints, show=show)


# ---------------------------------------------------------------------------- 8.2 machine translation
#: Cases for :func:`check_corpus_bleu`: Chinese characters and punctuation only (so sacreBLEU's ``zh``
#: tokenizer splits every character), and every n-gram precision (n = 1..4) above zero, so no smoothing.
BLEU_CASES = [
    (["我今天很高兴见到你。"], ["今天我很高兴见到你。"]),
    (["他跑了。"], ["他跑了。"]),
    (["今天我很高兴"], ["今天我很高兴见到你。"]),
    (["我们来试试吧。", "他是一个很好的老师。", "为什么是我？"], ["我们来试试。", "他是个好老师。", "为什么是我？"]),
    (["汤姆不知道玛丽在哪里。", "我想去北京。"], ["汤姆不知道玛丽去哪里了。", "我想去北京看看。"]),
]


def check_corpus_bleu(fn: Callable[[list, list], float], show: bool = True) -> Feedback:
    """Check a from-scratch character-level corpus BLEU ``fn(hypotheses, references) -> float``
    (in [0, 100], one reference per segment) against sacreBLEU with ``tokenize="zh"``.

    The cases (:data:`BLEU_CASES`) contain only Chinese characters and punctuation, so tokens are
    characters, and have no zero n-gram precision, so smoothing plays no role. Corpus BLEU pools the
    clipped n-gram counts and the lengths over all segments before the geometric mean and the
    brevity penalty (Papineni et al., ACL 2002).
    """
    from sacrebleu.metrics import BLEU

    bleu = BLEU(tokenize="zh")
    cases = [((list(h), list(r)), float(bleu.corpus_score(h, [r]).score)) for h, r in BLEU_CASES]
    hints = ["clip each n-gram count by its count in the reference; n = 1..4, geometric mean",
             "a perfect match scores 100 (BLEU is reported on a 0-100 scale)",
             "a hypothesis shorter than its reference pays the brevity penalty exp(1 - r/c)",
             "pool the n-gram counts and lengths over the whole corpus; do not average sentence scores",
             None]
    return check_function(fn, cases, name="corpus_bleu", hints=hints, rel_tol=1e-4, abs_tol=0.01, show=show)


# ---------------------------------------------------------------------------- student versions
def strip_solutions(notebook: dict) -> dict:
    """Return a copy of a notebook (nbformat JSON dict) without its solution cells.

    A cell is removed if it lies between a markdown cell containing ``{solution-start}`` and one
    containing ``{solution-end}`` (both removed too). Outputs of the remaining cells are cleared.

    Raises:
        ValueError: if a ``solution-start`` has no matching ``solution-end``.
    """
    cells, inside = [], False
    for cell in notebook.get("cells", []):
        text = "".join(cell.get("source", ""))
        if "{solution-start}" in text:
            inside = True
        if not inside:
            cell = dict(cell)
            if cell.get("cell_type") == "code":
                cell["outputs"], cell["execution_count"] = [], None
            cells.append(cell)
        if "{solution-end}" in text:
            if not inside:
                raise ValueError("notebook: 'solution-end' without a preceding 'solution-start'")
            inside = False
    if inside:
        raise ValueError("notebook: a 'solution-start' has no matching 'solution-end'")
    return {**notebook, "cells": cells}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m companion.exercises")
    sub = parser.add_subparsers(dest="command", required=True)
    strip = sub.add_parser("strip-solutions", help="write a student version without solution cells")
    strip.add_argument("source", type=Path)
    strip.add_argument("target", type=Path)
    args = parser.parse_args(argv)
    if args.source.resolve() == args.target.resolve():
        parser.error("target: must differ from source (the chapter would lose its solutions)")
    nb = strip_solutions(json.loads(args.source.read_text(encoding="utf-8")))
    args.target.parent.mkdir(parents=True, exist_ok=True)
    args.target.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {args.target} ({len(nb['cells'])} cells)")


if __name__ == "__main__":
    main()
