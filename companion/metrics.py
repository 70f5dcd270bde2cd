"""Evaluation metrics, with the inputs checked so that a metric is never silently wrong.

Classification metrics delegate to scikit-learn; this module adds argument checking and the
``compute_metrics`` hook the Hugging Face ``Trainer`` calls.

Book section: the text-classification case (8.1), "Evaluation".
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score


def _labels(y, name: str) -> np.ndarray:
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D sequence of class ids, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name}: is empty")
    if not np.issubdtype(arr.dtype, np.integer):
        if np.issubdtype(arr.dtype, np.floating) and np.all(np.mod(arr, 1) == 0):
            arr = arr.astype(np.int64)
        else:
            raise ValueError(f"{name}: expected integer class ids, got dtype {arr.dtype}")
    return arr


def _pair(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    t, p = _labels(y_true, "y_true"), _labels(y_pred, "y_pred")
    if t.shape != p.shape:
        raise ValueError(f"y_pred: has {p.size} predictions but y_true has {t.size} labels")
    return t, p


def accuracy(y_true: Sequence[int], y_pred: Sequence[int]) -> float:
    """Fraction of predictions equal to the labels, in [0, 1].

    Args:
        y_true, y_pred: 1-D integer class ids of the same length (shape ``(n,)``).

    Raises:
        ValueError: if either is empty, not 1-D, not integer, or their lengths differ.
    """
    t, p = _pair(y_true, y_pred)
    return float(accuracy_score(t, p))


def macro_f1(y_true: Sequence[int], y_pred: Sequence[int], labels: Sequence[int] | None = None) -> float:
    """Unweighted mean of the per-class F1 scores, in [0, 1] (scikit-learn ``average="macro"``).

    Args:
        y_true, y_pred: 1-D integer class ids of the same length.
        labels: the classes to average over; default: every class in ``y_true`` or ``y_pred``.
            Pass it when a class may be absent from a small evaluation set.

    Raises:
        ValueError: as :func:`accuracy`.
    """
    t, p = _pair(y_true, y_pred)
    return float(f1_score(t, p, average="macro", labels=labels, zero_division=0))


def confusion(y_true: Sequence[int], y_pred: Sequence[int], labels: Sequence[int] | None = None) -> np.ndarray:
    """Confusion matrix ``C`` of shape ``(k, k)`` (int): ``C[i, j]`` = examples of class ``i``
    predicted as class ``j``.

    Raises:
        ValueError: as :func:`accuracy`.
    """
    t, p = _pair(y_true, y_pred)
    return confusion_matrix(t, p, labels=labels)


def compute_metrics(eval_pred) -> dict[str, float]:
    """The ``compute_metrics`` hook for the Hugging Face ``Trainer`` (classification).

    Args:
        eval_pred: an ``EvalPrediction`` (or ``(logits, labels)``) with logits of shape
            ``(n, num_classes)`` and labels of shape ``(n,)``.

    Returns:
        ``{"accuracy": float, "macro_f1": float}``.

    Raises:
        ValueError: if the logits are not 2-D or do not match the labels in length.
    """
    logits, labels = eval_pred
    logits = np.asarray(logits[0] if isinstance(logits, tuple) else logits)
    if logits.ndim != 2:
        raise ValueError(f"eval_pred: expected logits of shape (n, num_classes), got {logits.shape}")
    preds = logits.argmax(axis=-1)
    return {"accuracy": accuracy(labels, preds), "macro_f1": macro_f1(labels, preds)}


# ---------------------------------------------------------------------------- 8.2 machine translation
# Corpus BLEU (Papineni et al., ACL 2002) and chrF (Popović, WMT 2015) through sacreBLEU (Post, WMT
# 2018), which fixes the tokenisation so that scores are comparable and prints a signature saying how
# a score was computed. Book section: the machine-translation case (8.2), "Evaluation".

#: sacreBLEU's tokenizer for Chinese targets: every CJK character becomes a token.
CHINESE_BLEU_TOKENIZE = "zh"


def _hypotheses(hypotheses) -> list[str]:
    if isinstance(hypotheses, str):
        raise TypeError("hypotheses: expected a list of strings (one per segment), got a single string")
    try:
        hyps = list(hypotheses)
    except TypeError:
        raise TypeError(f"hypotheses: expected a list of strings, got {type(hypotheses).__name__}") from None
    if not hyps:
        raise ValueError("hypotheses: is empty")
    bad = next((i for i, h in enumerate(hyps) if not isinstance(h, str)), None)
    if bad is not None:
        raise TypeError(f"hypotheses: item {bad} is a {type(hyps[bad]).__name__}, not a str")
    return hyps


def _reference_streams(references, n: int) -> list[list[str]]:
    """Normalise ``references`` to a list of streams, each a list of ``n`` strings.

    A flat list of strings is one stream (one reference per segment); a list of such lists is
    several streams (stream ``k`` holds the ``k``-th reference of every segment), sacreBLEU's layout.
    """
    if isinstance(references, str):
        raise TypeError("references: expected a list of strings or a list of reference streams, got a string")
    refs = list(references)
    if not refs:
        raise ValueError("references: is empty")
    streams = [refs] if all(isinstance(r, str) for r in refs) else [list(s) for s in refs]
    for k, stream in enumerate(streams):
        if isinstance(stream, str) or not all(isinstance(r, str) for r in stream):
            raise TypeError(f"references: stream {k} must be a list of strings")
        if len(stream) != n:
            raise ValueError(f"references: stream {k} has {len(stream)} references but there are {n} hypotheses "
                             "(sacreBLEU would silently score only the shorter of the two)")
    return streams


def _check_tokenize(tokenize: str) -> None:
    from sacrebleu.metrics import BLEU

    if not isinstance(tokenize, str) or tokenize not in BLEU.TOKENIZERS:
        raise ValueError(f"tokenize: {tokenize!r} is not one of sacreBLEU's tokenizers {sorted(BLEU.TOKENIZERS)}")


def corpus_bleu(hypotheses: Sequence[str], references, *, tokenize: str = CHINESE_BLEU_TOKENIZE):
    """Corpus-level BLEU with sacreBLEU.

    BLEU pools the clipped n-gram matches (n = 1..4) and the lengths of *all* segments before it
    takes the geometric mean and the brevity penalty (Papineni et al., ACL 2002); it is not the mean
    of sentence-level BLEU scores.

    Args:
        hypotheses: system outputs, one string per segment (length ``n``).
        references: one list of ``n`` reference strings, or a list of such lists (several
            references per segment).
        tokenize: sacreBLEU tokenizer. ``"zh"`` (default) splits Chinese into characters; the
            default of sacreBLEU itself, ``"13a"``, splits on spaces and punctuation only, so an
            unsegmented Chinese sentence becomes one "word" and BLEU collapses to about 0.

    Returns:
        A ``sacrebleu.metrics.bleu.BLEUScore``: ``.score`` is BLEU in [0, 100]; ``str()`` shows the
        n-gram precisions, brevity penalty and lengths. Its signature is :func:`bleu_signature`.

    Raises:
        TypeError: if ``hypotheses`` or ``references`` are not lists of strings.
        ValueError: if either is empty, a reference stream's length differs from the number of
            hypotheses, or ``tokenize`` is unknown.
    """
    from sacrebleu.metrics import BLEU

    hyps = _hypotheses(hypotheses)
    streams = _reference_streams(references, len(hyps))
    _check_tokenize(tokenize)
    return BLEU(tokenize=tokenize).corpus_score(hyps, streams)


def corpus_chrf(hypotheses: Sequence[str], references, *, word_order: int = 0):
    """Corpus-level chrF (Popović, WMT 2015) with sacreBLEU: an F-score (β = 2) of character
    n-gram (n = 1..6) precision and recall; ``word_order=2`` gives chrF++ (Popović, WMT 2017).

    chrF needs no word segmentation, so it suits Chinese as it is; sacreBLEU ignores whitespace.

    Returns:
        A ``sacrebleu.metrics.chrf.CHRFScore``; ``.score`` is in [0, 100].

    Raises:
        TypeError, ValueError: as :func:`corpus_bleu`; ``ValueError`` if ``word_order`` is not 0, 1 or 2.
    """
    from sacrebleu.metrics import CHRF

    hyps = _hypotheses(hypotheses)
    streams = _reference_streams(references, len(hyps))
    if word_order not in (0, 1, 2):
        raise ValueError(f"word_order: expected 0, 1 or 2, got {word_order!r}")
    return CHRF(word_order=word_order).corpus_score(hyps, streams)


def bleu_signature(tokenize: str = CHINESE_BLEU_TOKENIZE, nrefs: int = 1) -> str:
    """sacreBLEU's signature for :func:`corpus_bleu` with ``nrefs`` references per segment, e.g.
    ``nrefs:1|case:mixed|eff:no|tok:zh|smooth:exp|version:2.6.0``: report it with every score.

    Raises:
        ValueError: if ``tokenize`` is unknown or ``nrefs`` is not a positive int.
    """
    from sacrebleu.metrics import BLEU

    _check_tokenize(tokenize)
    if not isinstance(nrefs, int) or nrefs <= 0:
        raise ValueError(f"nrefs: expected a positive int, got {nrefs!r}")
    bleu = BLEU(tokenize=tokenize)
    bleu.corpus_score(["x"], [["x"]] * nrefs)  # sacreBLEU learns the number of references by scoring
    return str(bleu.get_signature())


def chrf_signature(word_order: int = 0, nrefs: int = 1) -> str:
    """sacreBLEU's signature for :func:`corpus_chrf`, e.g. ``nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.6.0``.

    Raises:
        ValueError: if ``word_order`` is not 0, 1 or 2 or ``nrefs`` is not a positive int.
    """
    from sacrebleu.metrics import CHRF

    if word_order not in (0, 1, 2):
        raise ValueError(f"word_order: expected 0, 1 or 2, got {word_order!r}")
    if not isinstance(nrefs, int) or nrefs <= 0:
        raise ValueError(f"nrefs: expected a positive int, got {nrefs!r}")
    chrf = CHRF(word_order=word_order)
    chrf.corpus_score(["x"], [["x"]] * nrefs)
    return str(chrf.get_signature())


def sentence_bleu(hypothesis: str, references, *, tokenize: str = CHINESE_BLEU_TOKENIZE) -> float:
    """BLEU of one segment in [0, 100], with sacreBLEU's ``effective_order`` (higher n-gram orders
    without any match in a short sentence are skipped instead of zeroing the score).

    Useful for ranking examples; the headline number of a test set is :func:`corpus_bleu`.

    Args:
        hypothesis: one system output.
        references: one reference string or a list of them.

    Raises:
        TypeError: if ``hypothesis`` is not a string or ``references`` not strings.
        ValueError: if ``references`` is empty or ``tokenize`` unknown.
    """
    from sacrebleu.metrics import BLEU

    if not isinstance(hypothesis, str):
        raise TypeError(f"hypothesis: expected a str, got {type(hypothesis).__name__}")
    refs = [references] if isinstance(references, str) else list(references)
    if not refs:
        raise ValueError("references: is empty")
    if not all(isinstance(r, str) for r in refs):
        raise TypeError("references: expected strings")
    _check_tokenize(tokenize)
    return float(BLEU(tokenize=tokenize, effective_order=True).sentence_score(hypothesis, refs).score)


def corpus_bleu_by_group(hypotheses: Sequence[str], references: Sequence[str], groups: Sequence,
                         *, tokenize: str = CHINESE_BLEU_TOKENIZE) -> dict:
    """Corpus BLEU computed separately on each group of segments (e.g. source-length buckets).

    Args:
        hypotheses, references: ``n`` strings each (one reference per segment).
        groups: ``n`` hashable group labels.

    Returns:
        ``{group: (segments, BLEU)}``, sorted by group label when the labels are sortable (else
        in order of first appearance).

    Raises:
        ValueError: if the three sequences differ in length (or as :func:`corpus_bleu`).
    """
    hyps = _hypotheses(hypotheses)
    refs = _reference_streams(references, len(hyps))[0]
    groups = list(groups)
    if len(groups) != len(hyps):
        raise ValueError(f"groups: has {len(groups)} labels but there are {len(hyps)} hypotheses")
    members: dict = {}
    for i, g in enumerate(groups):
        members.setdefault(g, []).append(i)
    try:
        keys = sorted(members)
    except TypeError:
        keys = list(members)
    return {g: (len(members[g]), corpus_bleu([hyps[i] for i in members[g]], [refs[i] for i in members[g]],
                                             tokenize=tokenize).score) for g in keys}
