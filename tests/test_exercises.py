import json
import subprocess
import sys

import pytest
from sklearn.metrics import f1_score

from companion import exercises


def test_check_value(capsys):
    assert exercises.check_value(0.30000000001, 0.3, "x")
    assert not exercises.check_value(0.31, 0.3, "x", hint="round later")
    out = capsys.readouterr().out
    assert "got 0.31, expected 0.3" in out and "round later" in out
    assert not exercises.check_value(None, 1, show=False)
    assert exercises.check_value([1, 2], [1.0, 2.0], show=False)
    assert not exercises.check_value([1, 2], [1, 2, 3], show=False)


def test_check_function_reports_first_failure_and_errors():
    fb = exercises.check_function(lambda a, b: a + b, [((1, 2), 3), ((2, 2), 5)], name="add", show=False)
    assert not fb and "case 2" in fb.message and "returned 4" in fb.message
    fb = exercises.check_function(lambda a: 1 / a, [((0,), 1)], name="inv", show=False)
    assert not fb and "ZeroDivisionError" in fb.message

    def todo(*a):
        raise NotImplementedError

    assert "not implemented" in exercises.check_function(todo, [((1,), 1)], show=False).message
    with pytest.raises(TypeError, match="fn"):
        exercises.check_function(3, [])


def test_check_macro_f1_accepts_reference_and_rejects_classic_mistakes():
    assert exercises.check_macro_f1(lambda t, p: f1_score(t, p, average="macro", zero_division=0), show=False)
    micro = exercises.check_macro_f1(lambda t, p: f1_score(t, p, average="micro"), show=False)
    assert not micro


def test_check_lora_parameters():
    assert exercises.check_lora_parameters(lambda h, n, r, k: n * 4 * r * h + h * k + k, show=False)
    no_head = exercises.check_lora_parameters(lambda h, n, r, k: n * 4 * r * h, show=False)
    assert not no_head and "294,912" in no_head.message


def _nb(cells):
    return {"cells": [{"cell_type": t, "source": s, "metadata": {}, **({"outputs": [1], "execution_count": 1} if t == "code" else {})}
                      for t, s in cells], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def test_strip_solutions(tmp_path):
    nb = _nb([("markdown", "intro"), ("markdown", "```{solution-start} ex1\n```"), ("code", "answer = 42"),
              ("markdown", "```{solution-end}\n```"), ("code", "print(1)")])
    out = exercises.strip_solutions(nb)
    assert [c["source"] for c in out["cells"]] == ["intro", "print(1)"]
    assert out["cells"][1]["outputs"] == []
    with pytest.raises(ValueError, match="solution-end"):
        exercises.strip_solutions(_nb([("markdown", "```{solution-start} e\n```")]))
    src, dst = tmp_path / "a.ipynb", tmp_path / "b.ipynb"
    src.write_text(json.dumps(nb))
    subprocess.run([sys.executable, "-m", "companion.exercises", "strip-solutions", str(src), str(dst)], check=True)
    assert len(json.loads(dst.read_text())["cells"]) == 2
    same = subprocess.run([sys.executable, "-m", "companion.exercises", "strip-solutions", str(src), str(src)])
    assert same.returncode != 0


# ---------------------------------------------------------------------------- 8.2 machine translation
def _char_bleu(hyps, refs, pooled=True, brevity=True):
    """A from-scratch character BLEU (the exercise's solution)."""
    import math
    from collections import Counter

    def grams(s, n):
        return Counter(s[i:i + n] for i in range(len(s) - n + 1))

    def score(pairs):
        match, total = [0] * 4, [0] * 4
        for h, r in pairs:
            for n in range(1, 5):
                gh, gr = grams(h, n), grams(r, n)
                match[n - 1] += sum(min(c, gr[g]) for g, c in gh.items())
                total[n - 1] += max(len(h) - n + 1, 0)
        c, r = sum(len(h) for h, _ in pairs), sum(len(x) for _, x in pairs)
        bp = 1.0 if (c > r or not brevity) else math.exp(1 - r / c)
        return 100 * bp * math.exp(sum(math.log(m / t) for m, t in zip(match, total)) / 4)

    pairs = list(zip(hyps, refs))
    return score(pairs) if pooled else sum(score([p]) for p in pairs) / len(pairs)


def test_bleu_cases_have_no_zero_precision():
    from sacrebleu.metrics import BLEU

    for h, r in exercises.BLEU_CASES:
        assert all(p > 0 for p in BLEU(tokenize="zh").corpus_score(h, [r]).precisions)


def test_check_corpus_bleu_accepts_reference_and_rejects_classic_mistakes():
    assert exercises.check_corpus_bleu(_char_bleu, show=False)
    import sacrebleu

    def mean_sentence_bleu(h, r):
        return sum(sacrebleu.sentence_bleu(x, [y], tokenize="zh").score for x, y in zip(h, r)) / len(h)

    mean = exercises.check_corpus_bleu(mean_sentence_bleu, show=False)
    assert not mean and "pool" in mean.message
    no_bp = exercises.check_corpus_bleu(lambda h, r: _char_bleu(h, r, brevity=False), show=False)
    assert not no_bp and "brevity" in no_bp.message

    wrong_tok = exercises.check_corpus_bleu(lambda h, r: sacrebleu.corpus_bleu(h, [r]).score, show=False)
    assert not wrong_tok
def test_feedback_is_displayed_once_in_ipython(capsys):
    fb = exercises.check_value(1, 1, "x")
    fb._ipython_display_()  # what IPython calls when the check is a cell's last line
    assert capsys.readouterr().out.count("x: correct") == 1
    quiet = exercises.check_value(1, 2, "y", show=False)
    quiet._ipython_display_()
    assert capsys.readouterr().out.count("y: got 1") == 1
