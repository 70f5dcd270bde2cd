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
    if not (np.issubdtype(arr.dtype, np.integer) or arr.dtype == np.bool_):
        exact = np.issubdtype(arr.dtype, np.floating) and np.all(np.isfinite(arr)) \
            and np.all(np.abs(arr) < 2**53) and np.all(np.mod(arr, 1) == 0)
        if not exact:
            raise ValueError(f"{name}: expected integer class ids, got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    if arr.min() < 0:
        raise ValueError(f"{name}: class ids must be >= 0, got {arr.min()} (a -100 is the Hugging Face "
                         "ignore index: drop those positions before computing a classification metric)")
    return arr


def _classes(labels, t: np.ndarray, p: np.ndarray) -> np.ndarray | None:
    """Check an explicit ``labels`` list: unique class ids covering every id in ``t`` and ``p``."""
    if labels is None:
        return None
    arr = _labels(labels, "labels")
    if len(np.unique(arr)) != arr.size:
        raise ValueError(f"labels: has repeated classes: {arr.tolist()}")
    missing = sorted(set(np.concatenate([t, p]).tolist()) - set(arr.tolist()))
    if missing:
        raise ValueError(f"labels: does not list classes {missing} that occur in y_true or y_pred")
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
            Pass it when a class may be absent from a small evaluation set (its F1 then counts as 0).

    Raises:
        ValueError: as :func:`accuracy`; or ``labels`` is empty, repeats a class, or omits a class
            that occurs in ``y_true`` or ``y_pred``.
    """
    t, p = _pair(y_true, y_pred)
    return float(f1_score(t, p, average="macro", labels=_classes(labels, t, p), zero_division=0))


def confusion(y_true: Sequence[int], y_pred: Sequence[int], labels: Sequence[int] | None = None) -> np.ndarray:
    """Confusion matrix ``C`` of shape ``(k, k)`` (int): ``C[i, j]`` = examples of class ``i``
    predicted as class ``j``. Rows and columns follow ``labels`` (default: the sorted classes seen).

    Raises:
        ValueError: as :func:`macro_f1`.
    """
    t, p = _pair(y_true, y_pred)
    return confusion_matrix(t, p, labels=_classes(labels, t, p))


def compute_metrics(eval_pred) -> dict[str, float]:
    """The ``compute_metrics`` hook for the Hugging Face ``Trainer`` (classification).

    Args:
        eval_pred: an ``EvalPrediction`` (or ``(logits, labels)``) with logits of shape
            ``(n, num_classes)`` and labels of shape ``(n,)``.

    Returns:
        ``{"accuracy": float, "macro_f1": float}``.

    Raises:
        TypeError: ``eval_pred`` is not a ``(logits, labels)`` pair.
        ValueError: the logits are not 2-D with at least 2 classes or not finite; the labels are not
            class ids in ``[0, num_classes)`` (e.g. a -100 ignore index) or do not match in length.
    """
    try:
        logits, labels = eval_pred
    except (TypeError, ValueError):
        raise TypeError(f"eval_pred: expected a (logits, labels) pair, got {type(eval_pred).__name__}") from None
    logits = np.asarray(logits[0] if isinstance(logits, tuple) else logits)
    if logits.ndim != 2 or logits.shape[1] < 2:
        raise ValueError(f"eval_pred: expected logits of shape (n, num_classes >= 2), got {logits.shape}")
    if not np.all(np.isfinite(logits)):
        raise ValueError("eval_pred: logits contain NaN or infinite values (did training diverge?)")
    labels = _labels(labels, "eval_pred labels")
    if labels.max() >= logits.shape[1]:
        raise ValueError(f"eval_pred labels: class id {labels.max()} but the logits have only "
                         f"{logits.shape[1]} classes")
    preds = logits.argmax(axis=-1)
    return {"accuracy": accuracy(labels, preds), "macro_f1": macro_f1(labels, preds)}
