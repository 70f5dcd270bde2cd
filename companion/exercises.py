"""Self-checking exercises: the reader calls a check on their answer and gets a specific message.

Checks never raise on a wrong answer (a notebook keeps running); they print what is wrong and
return a :class:`Feedback` that is truthy only when the answer is right::

    from companion.exercises import check_function
    check_function(my_macro_f1, cases=[(([0, 1], [0, 0]), 1 / 3)], name="macro_f1")

Student versions without the solutions are made by ``scripts/make_student.py`` (``make student``).

Book section: every chapter's "Exercises".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from . import checks


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


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, (bool, np.bool_))


def _close(a: Any, b: Any, rel_tol: float, abs_tol: float) -> bool:
    """Whether answer ``a`` matches expected ``b``; a type mismatch (``"0.5"`` for 0.5, ``True``
    for 1) is a wrong answer, not an error."""
    if isinstance(b, (bool, np.bool_)):
        return isinstance(a, (bool, np.bool_)) and bool(a) == bool(b)
    if isinstance(b, (str, bytes)) or b is None:
        return type(a) is type(b) and a == b
    if _is_number(b):
        if not _is_number(a):  # a 0-d array or tensor holding a number counts as that number
            try:
                arr = np.asarray(a)
            except Exception:  # noqa: BLE001
                return False
            if arr.shape != () or not np.issubdtype(arr.dtype, np.number):
                return False
            a = arr.item()
        return math.isclose(float(a), float(b), rel_tol=rel_tol, abs_tol=abs_tol)
    try:
        a_arr, b_arr = np.asarray(a), np.asarray(b)
    except Exception:  # noqa: BLE001 - anything unconvertible is simply "not equal"
        return a == b
    if a_arr.shape != b_arr.shape:
        return False
    if np.issubdtype(b_arr.dtype, np.number):
        if not np.issubdtype(a_arr.dtype, np.number):
            return False
        return bool(np.allclose(a_arr.astype(float), b_arr.astype(float), rtol=rel_tol, atol=abs_tol))
    return a_arr.dtype.kind == b_arr.dtype.kind and bool(np.array_equal(a_arr, b_arr))


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

    Raises:
        TypeError: ``name``/``hint`` not a string, a tolerance not a number, ``show`` not a bool.
        ValueError: a negative or NaN tolerance.
    """
    name = checks.text(name, "name")
    rel_tol = checks.number(rel_tol, "rel_tol", minimum=0)
    abs_tol = checks.number(abs_tol, "abs_tol", minimum=0)
    hint = None if hint is None else checks.text(hint, "hint")
    show = checks.boolean(show, "show")
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
        TypeError: if ``fn`` is not callable, a case is not an ``(args, expected)`` pair with a
            tuple/list of arguments, ``name`` or a hint is not a string, a tolerance not a number,
            ``show`` not a bool.
        ValueError: if ``cases`` is empty, ``hints`` does not have one entry per case, or a
            tolerance is negative or NaN.
    """
    checks.function(fn, "fn")
    name = None if name is None else checks.text(name, "name")
    if isinstance(cases, (str, bytes)) or not hasattr(cases, "__iter__"):
        raise TypeError(f"cases: expected a list of (args, expected) pairs, got {type(cases).__name__}")
    cases = list(cases)
    if not cases:
        raise ValueError("cases: need at least one (args, expected) case to check")
    for i, case in enumerate(cases):
        if not isinstance(case, (tuple, list)) or len(case) != 2 or not isinstance(case[0], (tuple, list)):
            raise TypeError(f"cases[{i}]: expected an (args, expected) pair with args a tuple, got {_short(case)}")
    if hints is not None:
        if isinstance(hints, (str, bytes)) or not hasattr(hints, "__iter__"):
            raise TypeError(f"hints: expected a list (one hint or None per case), got {type(hints).__name__}")
        hints = list(hints)
        if len(hints) != len(cases):
            raise ValueError(f"hints: expected one hint (or None) per case, got {len(hints)} for {len(cases)} cases")
        for i, h in enumerate(hints):
            if h is not None:
                checks.text(h, f"hints[{i}]")
    return _run(fn, cases, name, rel_tol=checks.number(rel_tol, "rel_tol", minimum=0),
                abs_tol=checks.number(abs_tol, "abs_tol", minimum=0), hints=hints, show=checks.boolean(show, "show"))


def _run(fn: Callable, cases: list, name: str | None, *, rel_tol: float = 1e-6, abs_tol: float = 1e-9,
         hints: list | None = None, show: bool = True) -> Feedback:
    """The core of :func:`check_function`, for checked arguments (the package's own cases)."""
    name = name or getattr(fn, "__name__", "your function")
    hints = hints if hints is not None else [None] * len(cases)
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

    Raises:
        TypeError: if ``fn`` is not callable or ``show`` is not a bool (the reader's own errors are
            reported in the feedback, never raised).
    """
    checks.function(fn, "fn")
    show = checks.boolean(show, "show")
    from sklearn.metrics import f1_score

    raw = [([0, 1, 1, 0], [0, 1, 0, 0]), ([1, 1, 1, 0], [1, 1, 1, 1]), ([0, 1, 2, 2, 1], [0, 2, 2, 2, 1]),
           ([0, 0, 1, 1], [1, 1, 0, 0])]
    cases = [((t, p), float(f1_score(t, p, average="macro", zero_division=0))) for t, p in raw]
    hints = [None, "a class that is never predicted has precision 0 and F1 0; it still counts in the mean",
             "average the per-class F1 over every class, unweighted", "all wrong: F1 is 0 for both classes"]
    return _run(fn, cases, name="macro_f1", hints=hints, show=show)


def check_lora_parameters(fn: Callable[[int, int, int, int], int], show: bool = True) -> Feedback:
    """Check ``fn(hidden_size, num_layers, r, num_labels) -> int``: trainable parameters of LoRA on
    BERT's ``query`` and ``value`` projections plus a trainable classification head.

    Raises:
        TypeError: if ``fn`` is not callable or ``show`` is not a bool (the reader's own errors are
            reported in the feedback, never raised).
    """
    checks.function(fn, "fn")
    show = checks.boolean(show, "show")
    def ref(h, n, r, k):
        return n * 2 * r * (h + h) + (h * k + k)

    args = [(768, 12, 8, 2), (384, 6, 8, 2), (1024, 24, 16, 3), (384, 6, 1, 2)]
    hints = ["BERT-base: 294,912 LoRA parameters + 1,538 for the head",
             None, "each adapted matrix of shape (h, h) gets A: r x h and B: h x r", None]
    return _run(fn, [(a, ref(*a)) for a in args], name="lora_parameters", hints=hints, show=show)


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

    Raises:
        TypeError: if ``fn`` is not callable or ``show`` is not a bool (the reader's own errors are
            reported in the feedback, never raised).
    """
    checks.function(fn, "fn")
    show = checks.boolean(show, "show")
    from sacrebleu.metrics import BLEU

    bleu = BLEU(tokenize="zh")
    cases = [((list(h), list(r)), float(bleu.corpus_score(h, [r]).score)) for h, r in BLEU_CASES]
    hints = ["clip each n-gram count by its count in the reference; n = 1..4, geometric mean",
             "a perfect match scores 100 (BLEU is reported on a 0-100 scale)",
             "a hypothesis shorter than its reference pays the brevity penalty exp(1 - r/c)",
             "pool the n-gram counts and lengths over the whole corpus; do not average sentence scores",
             None]
    return _run(fn, cases, name="corpus_bleu", hints=hints, rel_tol=1e-4, abs_tol=0.01, show=show)


# ---------------------------------------------------------------------------- 5 and 6: fine-tuning
def check_layerwise_lrs(fn: Callable[[float, float, int], Sequence[float]], show: bool = True) -> Feedback:
    """Check ``fn(lr, decay, num_layers) -> list`` of learning rates by depth for layer-wise
    learning-rate decay (chapter 5.3): ``[embeddings, block 1, ..., block L, head]``, the head at
    ``lr`` and each level below ``decay`` times the one above (see
    :func:`companion.optimizers.layerwise_lr_groups`).

    Raises:
        TypeError: if ``fn`` is not callable or ``show`` is not a bool (the reader's own errors are
            reported in the feedback, never raised).
    """
    checks.function(fn, "fn")
    show = checks.boolean(show, "show")
    def ref(lr, decay, n):
        return [lr * decay ** (n + 1 - d) for d in range(n + 2)]

    args = [(1e-4, 0.9, 6), (2e-5, 0.95, 12), (1.0, 0.5, 2), (3e-4, 1.0, 3)]
    hints = ["the list has num_layers + 2 entries: embeddings, every block, the head",
             "the head gets lr itself; the embeddings get lr * decay ** (num_layers + 1)",
             None, "decay = 1 means every level gets the same rate"]
    return _run(fn, [(a, ref(*a)) for a in args], name="layerwise_lrs", hints=hints, show=show)


def check_accumulated_loss(fn: Callable[[Sequence[Sequence[float]]], float], show: bool = True) -> Feedback:
    """Check ``fn(micro_batch_losses) -> float``: the loss of one optimiser step made of several
    micro-batches, each given as the list of its per-token (or per-example) losses (chapter 6.1).

    The right answer is the full batch's mean, ``sum of all losses / number of all items``
    (:func:`companion.loops.token_weighted_mean`), not the mean of the micro-batch means.

    Raises:
        TypeError: if ``fn`` is not callable or ``show`` is not a bool (the reader's own errors are
            reported in the feedback, never raised).
    """
    checks.function(fn, "fn")
    show = checks.boolean(show, "show")
    cases = [([[1.0, 1.0, 1.0], [4.0]], 1.75), ([[2.0], [2.0, 2.0]], 2.0), ([[0.5, 1.5, 1.0, 1.0]], 1.0),
             ([[1.0, 2.0], [3.0], [4.0, 5.0, 6.0]], 3.5)]
    hints = ["three tokens of loss 1 and one of loss 4: the naive mean of means is 2.5, the full-batch mean 1.75",
             None, None, "divide the sum over every micro-batch by the total number of items (6), not by 3"]
    return _run(fn, [((c,), v) for c, v in cases], name="accumulated_loss", hints=hints, show=show)


# ---------------------------------------------------------------------------- chapters 3 and 4
# Appended for Part I: chapter 3 (pre-training data) and chapter 4 (model architecture, adapters).
def check_lsh_probability(fn: Callable[[float, int, int], float], show: bool = True) -> Feedback:
    """Check ``fn(s, b, r)``: the probability that two documents of Jaccard similarity ``s`` become
    LSH candidates with ``b`` bands of ``r`` MinHash rows, ``1 - (1 - s**r)**b`` (chapter 3.2).

    Raises:
        TypeError: if ``fn`` is not callable or ``show`` is not a bool (the reader's own errors are
            reported in the feedback, never raised).
    """
    checks.function(fn, "fn")
    show = checks.boolean(show, "show")
    args = [(0.8, 16, 8), (0.5, 20, 5), (1.0, 3, 4), (0.0, 9, 14), (0.9, 1, 1), (0.3, 128, 1)]
    hints = [None, "a band agrees with probability s**r; the bands are independent",
             "identical documents always collide", "disjoint documents never collide",
             "one band of one row: the probability is s itself", None]
    cases = [(a, 1 - (1 - a[0] ** a[2]) ** a[1]) for a in args]
    return _run(fn, cases, name="candidate_probability", hints=hints, show=show)


def check_encoder_layer_parameters(fn: Callable[[int, int], int], show: bool = True) -> Feedback:
    """Check ``fn(d_model, dim_feedforward) -> int``: parameters of one ``nn.TransformerEncoderLayer``
    (attention projections with biases, the feed-forward net, two LayerNorms; chapter 4.1).

    Raises:
        TypeError: if ``fn`` is not callable or ``show`` is not a bool (the reader's own errors are
            reported in the feedback, never raised).
    """
    checks.function(fn, "fn")
    show = checks.boolean(show, "show")
    import torch

    args = [(64, 128), (512, 2048), (768, 3072), (8, 8)]
    hints = [None, "the original Transformer-base layer: 3,152,384 parameters",
             "four d x d projections (query, key, value, output), each with a bias", None]
    cases = [((d, f), sum(p.numel() for p in torch.nn.TransformerEncoderLayer(d, 1, f).parameters()))
             for d, f in args]
    return _run(fn, cases, name="encoder_layer_parameters", hints=hints, show=show)


def check_lora_forward(fn: Callable, show: bool = True) -> Feedback:
    """Check ``fn(x, W, b, A, B, lora_alpha) -> y``: the output of a LoRA layer,
    ``x W^T + b + (lora_alpha / r) x A^T B^T`` with ``r = A.shape[0]``, against
    :class:`companion.adapters.LoRALinear` (chapter 4.2).

    Raises:
        TypeError: if ``fn`` is not callable or ``show`` is not a bool (the reader's own errors are
            reported in the feedback, never raised).
    """
    checks.function(fn, "fn")
    show = checks.boolean(show, "show")
    import torch

    from .adapters import LoRALinear

    gen = torch.Generator().manual_seed(0)
    cases = []
    for d_in, d_out, r, alpha, batch in [(4, 3, 2, 4, (2,)), (8, 8, 1, 1, (3, 5)), (6, 2, 3, 12, (1,))]:
        base = torch.nn.Linear(d_in, d_out)
        layer = LoRALinear(base, r=r, lora_alpha=alpha)
        with torch.no_grad():
            for p in (base.weight, base.bias, layer.lora_A, layer.lora_B):
                p.copy_(torch.randn(p.shape, generator=gen))
            x = torch.randn(*batch, d_in, generator=gen)
            expected = layer(x).numpy()
        cases.append(((x, base.weight.detach().clone(), base.bias.detach().clone(), layer.lora_A.detach().clone(),
                       layer.lora_B.detach().clone(), alpha), expected))
    hints = ["the update is scaled by lora_alpha / r, with r = A.shape[0]", "x may have several leading dimensions",
             None]

    def wrapped(*args):
        out = fn(*args)
        return out.detach().numpy() if hasattr(out, "detach") else out

    wrapped.__name__ = "lora_forward"
    return _run(wrapped, cases, name="lora_forward", rel_tol=1e-5, abs_tol=1e-5, hints=hints, show=show)


# ---------------------------------------------------------------------------- 7 fine-tuning strategies
def check_linear_warmup(fn: Callable[[int, float, int, int], float], show: bool = True) -> Feedback:
    """Check ``fn(step, base_lr, warmup_steps, total_steps) -> float``: linear warm-up from 0 to
    ``base_lr``, then linear decay to 0 at ``total_steps`` (and 0 after), against
    ``transformers.get_linear_schedule_with_warmup``.

    Cases include the chapter's worked example (warm-up 10 of 100 steps: 0.0, 0.1, 1.0, 0.5, 0.0 at
    steps 0, 1, 10, 55, 100), no warm-up at all, and a step past the end. Book section 7.2.

    Raises:
        TypeError: if ``fn`` is not callable or ``show`` is not a bool (the reader's own errors are
            reported in the feedback, never raised).
    """
    checks.function(fn, "fn")
    show = checks.boolean(show, "show")
    import torch
    from transformers import get_linear_schedule_with_warmup

    def reference(step, base_lr, warmup, total):
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=base_lr)
        return base_lr * get_linear_schedule_with_warmup(opt, warmup, total).lr_lambdas[0](step)

    args = [(0, 1.0, 10, 100), (1, 1.0, 10, 100), (10, 1.0, 10, 100), (55, 1.0, 10, 100), (100, 1.0, 10, 100),
            (0, 3e-4, 0, 50), (25, 3e-4, 0, 50), (7, 2e-5, 20, 200), (260, 2e-5, 20, 200)]
    hints = ["at step 0 of a warm-up the rate is 0", "during warm-up: base_lr * step / warmup_steps", None,
             "after warm-up: base_lr * (total - step) / (total - warmup)", "the rate reaches 0 at total_steps",
             "with warmup_steps = 0 there is no warm-up: start at base_lr (and never divide by 0)", None, None,
             "past total_steps the rate stays 0 (never negative)"]
    return _run(fn, [(a, reference(*a)) for a in args], name="linear warm-up schedule", hints=hints,
                          show=show, rel_tol=1e-9, abs_tol=1e-12)


def check_distillation_loss(fn: Callable, show: bool = True) -> Feedback:
    """Check ``fn(student_logits, teacher_logits, temperature) -> scalar`` (torch tensors of shape
    ``(batch, classes)``) against :func:`companion.compression.distillation_loss`: the KL divergence
    of the temperature-softened distributions, averaged over the batch, times ``T**2``.
    Book section 7.3.

    Raises:
        TypeError: if ``fn`` is not callable or ``show`` is not a bool (the reader's own errors are
            reported in the feedback, never raised).
    """
    checks.function(fn, "fn")
    show = checks.boolean(show, "show")
    import torch

    from .compression import distillation_loss

    gen = torch.Generator().manual_seed(7)
    cases, hints = [], []
    for batch, classes, temperature in [(4, 2, 1.0), (4, 2, 4.0), (8, 5, 2.0), (3, 10, 8.0)]:
        s, t = torch.randn(batch, classes, generator=gen) * 2, torch.randn(batch, classes, generator=gen) * 2
        cases.append(((s, t, temperature), float(distillation_loss(s, t, temperature))))
        hints.append("soften both distributions with the same T, use KL(teacher || student)")
    hints[1] = "multiply by T**2, or the soft-target term fades as the temperature grows"
    hints[2] = "average the KL over the batch (sum over classes, mean over examples: reduction='batchmean')"
    return _run(lambda s, t, T: float(fn(s, t, T)), cases, name="distillation_loss", hints=hints,
                          show=show, rel_tol=1e-5, abs_tol=1e-7)


# ---------------------------------------------------------------------------- chapters 1-2: pre-training
def check_mean_pooling(fn: Callable, show: bool = True) -> Feedback:
    """Check ``fn(hidden, attention_mask) -> (batch, hidden_size)``: the mean of the token vectors of
    each sequence over its *real* tokens (``attention_mask == 1``), padding excluded (chapter 1).

    Raises:
        TypeError: if ``fn`` is not callable or ``show`` is not a bool (the reader's own errors are
            reported in the feedback, never raised).
    """
    checks.function(fn, "fn")
    show = checks.boolean(show, "show")
    import torch

    g = torch.Generator().manual_seed(0)
    hidden = torch.randn(3, 5, 4, generator=g)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [1, 0, 0, 0, 0]])
    expected = torch.stack([hidden[i, : int(mask[i].sum())].mean(0) for i in range(3)])
    cases = [((hidden[:1], mask[:1]), expected[:1].numpy()), ((hidden, mask), expected.numpy())]
    hints = [None, "average only the real tokens: sum(hidden * mask) / mask.sum(), per sequence; "
                   "padded positions must not pull the mean towards their (arbitrary) vectors"]
    return _run(lambda h, m: np.asarray(_to_numpy(fn(h, m)), dtype=float), cases,
                          name=getattr(fn, "__name__", "mean_pooling"), hints=hints, rel_tol=1e-5, abs_tol=1e-6,
                          show=show)


def _to_numpy(x):
    return x.detach().cpu().numpy() if hasattr(x, "detach") else x


def check_perplexity(fn: Callable, show: bool = True) -> Feedback:
    """Check ``fn(token_losses, mask) -> float``: perplexity from a padded batch of per-token
    losses (nats) and a 0/1 mask of real tokens (chapter 2.1). Recognises the usual wrong
    aggregations and says which one was made.

    Raises:
        TypeError: if ``fn`` is not callable or ``show`` is not a bool (the reader's own errors are
            reported in the feedback, never raised).
    """
    checks.function(fn, "fn")
    show = checks.boolean(show, "show")
    a, b = [0.1, 0.2, 0.1], [0.3, 0.5, 0.1, 0.4, 0.2]
    losses = [a + [0.0, 0.0], b]
    mask = [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]
    expected = math.exp((sum(a) + sum(b)) / 8)  # 1.2681
    name = getattr(fn, "__name__", "perplexity")
    known = {
        round(float(np.mean([math.exp(np.mean(a)), math.exp(np.mean(b))])), 4):
            "you averaged per-sequence (or per-batch) perplexities; sum the losses first, then exponentiate once",
        round(math.exp(np.mean([np.mean(a), np.mean(b)])), 4):
            "you averaged per-sequence mean losses; a long sequence must weigh more: divide the total loss by the total token count",
        round(math.exp(sum(a + b) / 10), 4):
            "padding was counted as tokens; divide by the number of real tokens (mask == 1)",
        round(2 ** ((sum(a) + sum(b)) / 8), 4):
            "the losses are natural logs (nats): use exp, not 2**; the base of the log and of the power must match",
    }
    try:
        got = fn(losses, mask)
        uniform = fn([[math.log(50)] * 4, [math.log(50)] * 2 + [0.0, 0.0]], [[1] * 4, [1, 1, 0, 0]])
    except NotImplementedError:
        fb = Feedback(False, f"{name}: not implemented yet")
    except Exception as exc:  # noqa: BLE001 - report, do not crash the notebook
        fb = Feedback(False, f"{name} raised {type(exc).__name__}: {exc}")
    else:
        try:
            got, uniform = float(got), float(uniform)
        except (TypeError, ValueError):
            fb = Feedback(False, f"{name}: expected a number, got {_short(got)}")
        else:
            if not math.isclose(got, expected, rel_tol=1e-4):
                hint = known.get(round(got, 4))
                fb = Feedback(False, f"{name}: got {got:.4f}, expected {expected:.4f}" + (f". Hint: {hint}" if hint else ""))
            elif not math.isclose(uniform, 50, rel_tol=1e-4):
                fb = Feedback(False, f"{name}: the worked example is right, but a uniform model over 50 tokens gave "
                                     f"{uniform:.4g} instead of 50")
            else:
                fb = Feedback(True, f"{name}: correct (worked example {got:.4f}; a uniform model over 50 tokens has "
                                    f"perplexity {uniform:.4g})")
    return fb.show() if show else fb


def check_mlm_masking(fn: Callable, show: bool = True, *, n: int = 256, seq_len: int = 64) -> Feedback:
    """Check a reader's BERT masking ``fn(input_ids, special_tokens_mask, mask_token_id, vocab_size,
    generator) -> (inputs, labels)`` on a batch of ``n`` random sequences with padding (chapter 2.2).

    Checks, with tolerances for randomness: about 15% of the maskable tokens are selected; of
    those about 80% become ``[MASK]``, 10% a random token and 10% stay unchanged; special tokens
    and padding are never selected nor changed; labels are ``-100`` except at selected positions,
    where they hold the original token; unselected tokens are unchanged; shapes and dtype.

    Raises:
        TypeError: ``fn`` not callable, ``show`` not a bool, ``n``/``seq_len`` not an int.
        ValueError: ``n`` < 1 or ``seq_len`` < 4 (a [CLS], a word, a [SEP] and a pad at least).
    """
    checks.function(fn, "fn")
    show = checks.boolean(show, "show")
    n, seq_len = checks.integer(n, "n"), checks.integer(seq_len, "seq_len", minimum=4)
    import torch

    g = torch.Generator().manual_seed(0)
    vocab, mask_id = 1000, 4
    ids = torch.randint(5, vocab, (n, seq_len), generator=g)
    ids[:, 0], ids[:, -1] = 2, 3
    lengths = torch.randint(seq_len // 2, seq_len + 1, (n,), generator=g)
    for i, length in enumerate(lengths.tolist()):
        if length < seq_len:
            ids[i, length - 1], ids[i, length:] = 3, 0
    special = torch.isin(ids, torch.tensor([0, 1, 2, 3, 4]))
    name = getattr(fn, "__name__", "mask_tokens")

    def result(ok, message):
        fb = Feedback(ok, f"{name}: {message}")
        return fb.show() if show else fb

    try:
        out = fn(ids.clone(), special.clone(), mask_id, vocab, torch.Generator().manual_seed(1))
    except NotImplementedError:
        return result(False, "not implemented yet")
    except Exception as exc:  # noqa: BLE001
        return result(False, f"raised {type(exc).__name__}: {exc}")
    if not (isinstance(out, tuple) and len(out) == 2):
        return result(False, "return a pair (inputs, labels)")
    inputs, labels = (torch.as_tensor(x) for x in out)
    if inputs.shape != ids.shape or labels.shape != ids.shape:
        return result(False, f"inputs and labels must have the shape of input_ids {tuple(ids.shape)}, got "
                             f"{tuple(inputs.shape)} and {tuple(labels.shape)}")
    if labels.dtype != torch.long or inputs.dtype != torch.long:
        return result(False, "inputs and labels must be long (int64) tensors")
    selected = labels != -100
    if selected[special].any() or not torch.equal(inputs[special], ids[special]):
        return result(False, "a special token or padding was selected or changed; they must never be")
    if not torch.equal(labels[selected], ids[selected]):
        return result(False, "labels at selected positions must be the ORIGINAL token ids (the targets), "
                             "not the corrupted ones")
    if not torch.equal(inputs[~selected], ids[~selected]):
        return result(False, "a position with label -100 was changed; only selected positions may change")
    rate = selected.sum().item() / (~special).sum().item()
    if abs(rate - 0.15) > 0.02:
        return result(False, f"{rate:.1%} of the maskable tokens were selected; expected about 15%")
    chosen_in, chosen_orig = inputs[selected], ids[selected]
    share_mask = (chosen_in == mask_id).float().mean().item()
    share_same = (chosen_in == chosen_orig).float().mean().item()
    share_random = 1 - share_mask - share_same
    if abs(share_mask - 0.8) > 0.03 or abs(share_random - 0.1) > 0.03 or abs(share_same - 0.1) > 0.03:
        return result(False, f"of the selected tokens {share_mask:.0%} became [MASK], {share_random:.0%} random, "
                             f"{share_same:.0%} unchanged; expected 80/10/10. Every selected token keeps its label, "
                             "including the unchanged ones")
    return result(True, f"correct: {rate:.1%} selected; {share_mask:.0%} [MASK], {share_random:.0%} random, "
                        f"{share_same:.0%} unchanged; special tokens and padding untouched")


# ---------------------------------------------------------------------------- appendices A and B
def check_adam_step(fn: Callable, show: bool = True) -> Feedback:
    """Check ``fn(param, grad, m, v, t, lr, beta1, beta2, eps) -> (param, m, v)``: one Adam step on NumPy
    arrays, ``t`` the number of this step (1 for the first), against ``torch.optim.Adam``.

    The update of Kingma & Ba (ICLR 2015), Algorithm 1, as PyTorch and Optax implement it:
    ``m = beta1 m + (1 - beta1) g``, ``v = beta2 v + (1 - beta2) g**2``, bias-corrected
    ``m_hat = m / (1 - beta1**t)``, ``v_hat = v / (1 - beta2**t)``, and
    ``param - lr * m_hat / (sqrt(v_hat) + eps)``. Keras adds ``eps`` to ``sqrt(v)`` *before* the bias
    correction instead; a case with tiny gradients tells the two apart. Book section: appendix A.
    """
    checks.function(fn, "fn")
    show = checks.boolean(show, "show")
    import torch

    def reference(param, grad, m, v, t, lr, beta1, beta2, eps):
        p = torch.nn.Parameter(torch.tensor(param, dtype=torch.float64))
        opt = torch.optim.Adam([p], lr=lr, betas=(beta1, beta2), eps=eps)
        opt.state[p] = {"step": torch.tensor(float(t - 1)), "exp_avg": torch.tensor(m, dtype=torch.float64),
                        "exp_avg_sq": torch.tensor(v, dtype=torch.float64)}
        p.grad = torch.tensor(grad, dtype=torch.float64)
        opt.step()
        state = opt.state[p]
        return np.concatenate([p.detach().numpy(), state["exp_avg"].numpy(), state["exp_avg_sq"].numpy()])

    rng = np.random.default_rng(3)
    zeros = np.zeros(4)
    raw = [
        (rng.normal(size=4), rng.normal(size=4), zeros, zeros, 1, 1e-3, 0.9, 0.999, 1e-8),
        (rng.normal(size=4), rng.normal(size=4), rng.normal(size=4) * 0.1, rng.random(4) * 0.01, 10, 1e-2, 0.9,
         0.999, 1e-8),
        (rng.normal(size=4), np.full(4, 1e-7), zeros, zeros, 1, 1e-3, 0.9, 0.999, 1e-8),
        (rng.normal(size=4), rng.normal(size=4), rng.normal(size=4) * 0.1, rng.random(4) * 0.01, 500, 3e-4, 0.8,
         0.99, 1e-6),
    ]
    cases = [(args, reference(*args)) for args in raw]
    hints = ["first step from m = v = 0: without the bias correction the step would be about 10x too small",
             "t counts steps from 1: correct m by 1 - beta1**t and v by 1 - beta2**t",
             "tiny gradients: add eps to sqrt(v_hat) (the bias-corrected v), as PyTorch and Optax do; "
             "Keras adds it to sqrt(v) before the correction, which changes the step when v is tiny",
             "return the new m and v as well as the new parameters"]

    def flat(*args):
        out = fn(*(np.array(a, dtype=np.float64, copy=True) if isinstance(a, np.ndarray) else a for a in args))
        if not (isinstance(out, tuple) and len(out) == 3):
            raise TypeError("return a tuple (param, m, v)")
        return np.concatenate([np.asarray(x, dtype=np.float64).ravel() for x in out])

    return check_function(flat, cases, name=getattr(fn, "__name__", "adam_step"), hints=hints, rel_tol=1e-7,
                          abs_tol=1e-12, show=show)


def check_ema_smoothing(fn: Callable, show: bool = True) -> Feedback:
    """Check ``fn(values, weight) -> list``: TensorBoard's smoothing of a scalar curve, a debiased
    exponential moving average, ``last = weight * last + (1 - weight) * x`` starting from 0, reported as
    ``last / (1 - weight**k)`` at the ``k``-th point; the reference is ``pandas``'
    ``Series.ewm(alpha=1 - weight, adjust=True).mean()``, the same quantity.

    Without the debiasing the first points are pulled towards 0. Book section: appendix B.
    """
    checks.function(fn, "fn")
    show = checks.boolean(show, "show")
    import pandas as pd

    raw = [([1.0, 1.0, 1.0], 0.6), ([0.7, 0.69, 0.68, 0.5, 0.66], 0.6), ([2.0, 4.0, 3.0, 5.0, 1.0, 0.0], 0.9),
           ([5.0, 1.0, 3.0], 0.0)]
    cases = [((list(v), w), pd.Series(v).ewm(alpha=1 - w, adjust=True).mean().to_numpy()) for v, w in raw]
    hints = ["a constant curve must stay constant: divide by 1 - weight**k (k = 1 for the first point)",
             "start the running average at 0 and debias it; do not start it at the first value",
             None, "weight 0 means no smoothing at all"]
    return check_function(lambda v, w: np.asarray(fn(v, w), dtype=float), cases,
                          name=getattr(fn, "__name__", "smooth"), hints=hints, rel_tol=1e-9, abs_tol=1e-12, show=show)


# ---------------------------------------------------------------------------- 9 chat LLMs
#: Llama-style configurations for :func:`check_llama_parameters`: the SmolLM2 sizes (their config.json on the
#: hub) and Llama 3 8B (untied embeddings), with their parameter counts.
LLAMA_CASES = {
    "SmolLM2-135M": dict(vocab_size=49152, hidden_size=576, intermediate_size=1536, num_hidden_layers=30,
                         num_attention_heads=9, num_key_value_heads=3, head_dim=64, tie_word_embeddings=True),
    "SmolLM2-360M": dict(vocab_size=49152, hidden_size=960, intermediate_size=2560, num_hidden_layers=32,
                         num_attention_heads=15, num_key_value_heads=5, head_dim=64, tie_word_embeddings=True),
    "SmolLM2-1.7B": dict(vocab_size=49152, hidden_size=2048, intermediate_size=8192, num_hidden_layers=24,
                         num_attention_heads=32, num_key_value_heads=32, head_dim=64, tie_word_embeddings=True),
    "Llama-3-8B": dict(vocab_size=128256, hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
                       num_attention_heads=32, num_key_value_heads=8, head_dim=128, tie_word_embeddings=False),
}


def check_llama_parameters(fn: Callable[[dict], int], show: bool = True) -> Feedback:
    """Check ``fn(config) -> int``, the parameter count of a Llama-style decoder from its ``config.json``
    fields (chapter 9.1), against :func:`companion.llm.llama_parameter_count` on :data:`LLAMA_CASES`
    (SmolLM2-135M has 134,515,008 parameters, Llama 3 8B 8,030,261,248)."""
    from .llm import llama_parameter_count

    cases = [((dict(cfg),), llama_parameter_count(cfg)) for cfg in LLAMA_CASES.values()]
    hints = ["SmolLM2-135M has 134,515,008: embeddings once (tied), 30 layers, a final norm; k_proj and v_proj "
             "have num_key_value_heads * head_dim outputs (grouped-query attention), not hidden_size",
             "k_proj and v_proj have num_key_value_heads * head_dim outputs, not hidden_size",
             "with as many key/value heads as query heads, k and v are as large as q",
             "untied embeddings: the output layer is a second vocab_size x hidden_size matrix"]
    return check_function(fn, cases, name="llama_parameters", hints=hints, show=show)


def check_kv_cache_bytes(fn: Callable[[int, int, int, int, int, int], int], show: bool = True) -> Feedback:
    """Check ``fn(num_layers, num_kv_heads, head_dim, seq_len, batch_size, bytes_per_value) -> int``, the size of
    a decoder's key/value cache in bytes (chapter 9.1): ``2 * layers * batch * seq_len * kv_heads * head_dim *
    bytes``."""
    def ref(n, kv, hd, t, b, nbytes):
        return 2 * n * b * t * kv * hd * nbytes

    args = [(30, 3, 64, 8192, 1, 2), (32, 8, 128, 131072, 1, 2), (24, 32, 64, 1000, 4, 4), (1, 1, 1, 1, 1, 1)]
    hints = ["SmolLM2-135M, 8,192 tokens in bf16: 2 tensors (K and V) x 30 layers x 3 heads x 64 x 8192 x 2 bytes",
             "Llama 3 8B at 128K tokens in bf16 is 16 GiB", "the batch multiplies the cache", "keys AND values: 2"]
    return check_function(fn, [(a, ref(*a)) for a in args], name="kv_cache_bytes", hints=hints, show=show)


def check_paired_se(fn: Callable[[Sequence[float], Sequence[float]], float], show: bool = True) -> Feedback:
    """Check ``fn(after, before) -> float``, the standard error of the mean per-item difference of two models
    scored on the same items (chapter 9.2): the sample standard deviation (``ddof=1``) of ``after - before``
    divided by ``sqrt(n)`` (:func:`companion.llm.paired_difference`)."""
    checks.function(fn, "fn")
    show = checks.boolean(show, "show")
    from .llm import paired_difference

    raw = [([1, 1, 1, 0], [0, 1, 1, 0]), ([1, 0, 1, 0, 1, 1], [1, 0, 0, 0, 0, 1]), ([1, 1, 0, 0], [0, 0, 1, 1]),
           ([0.5, 1.0, 0.25], [0.0, 0.5, 0.5])]
    cases = [((a, b), paired_difference(a, b)[1]) for a, b in raw]
    hints = ["differences 1, 0, 0, 0: standard deviation 0.5 (ddof=1), so the standard error is 0.5 / sqrt(4)",
             "take the standard deviation of the per-item differences, not of each model separately",
             "use the sample standard deviation (ddof=1)", None]
    return check_function(fn, cases, name="paired_se", hints=hints, show=show)


def check_dpo_loss(fn: Callable, show: bool = True) -> Feedback:
    """Check ``fn(policy_chosen, policy_rejected, ref_chosen, ref_rejected, beta) -> scalar``, the mean DPO loss
    from four ``(pairs,)`` tensors of summed log-probabilities (chapter 9.2; Rafailov et al., 2023), against
    :func:`companion.llm.dpo_loss`."""
    checks.function(fn, "fn")
    show = checks.boolean(show, "show")
    import torch

    from .llm import dpo_loss

    g = torch.Generator().manual_seed(0)
    raw = [(torch.zeros(4), torch.zeros(4), torch.zeros(4), torch.zeros(4), 0.1),
           (torch.tensor([-10.0, -12.0]), torch.tensor([-11.0, -9.0]), torch.tensor([-11.0, -11.0]),
            torch.tensor([-10.0, -10.0]), 0.1),
           tuple(-torch.rand(6, generator=g) * 50 for _ in range(4)) + (0.5,),
           (torch.tensor([-20.0]), torch.tensor([-30.0]), torch.tensor([-25.0]), torch.tensor([-25.0]), 1.0)]
    cases = [(args, dpo_loss(*args[:4], beta=args[4])[0].item()) for args in raw]
    hints = ["policy = reference: every pair's loss is -log sigmoid(0) = log 2",
             "the reward is beta * (policy - reference) for each answer; the loss is -log sigmoid(chosen - rejected "
             "reward), averaged over the pairs", "average over the pairs (mean, not sum)",
             "check the signs: a policy that prefers the chosen answer more than the reference does has a small loss"]

    def as_float(*args):
        out = fn(*args)
        return float(out.item() if hasattr(out, "item") else out)

    return check_function(as_float, cases, name=getattr(fn, "__name__", "dpo"), hints=hints, rel_tol=1e-5, show=show)
