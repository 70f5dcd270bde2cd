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
