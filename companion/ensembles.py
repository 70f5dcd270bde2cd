"""Combining models: output ensembles, weight averaging ("model soups"), adversarial training (FGM).

* **Output ensembles** -- :func:`average_logits`, :func:`average_probabilities` (soft voting),
  :func:`majority_vote` and :func:`weighted_vote` (hard voting). Inference costs grow with the number
  of members (Dietterich, 2000, "Ensemble Methods in Machine Learning").
* **Model soups** -- :func:`uniform_soup` averages the *weights* of models fine-tuned from the same
  starting point (different seeds or hyper-parameters); :func:`greedy_soup` adds a model only if
  held-out accuracy does not drop (Wortsman et al., ICML 2022, "Model soups"). One model's inference
  cost; it works only when the models lie in one basin of the loss, which a shared pretrained start
  usually ensures and which independently initialised networks do not.
* **Adversarial training** -- :class:`FGM` perturbs each example's word embeddings by
  ``epsilon * g / ||g||_2``, ``g`` the gradient of the loss with respect to them, and trains on the
  perturbed input as well (Miyato, Dai & Goodfellow, ICLR 2017, "Adversarial Training Methods for
  Semi-Supervised Text Classification"; the fast gradient method of Goodfellow, Shlens & Szegedy,
  ICLR 2015). It is a regulariser for one model -- not the generator-versus-discriminator game of a
  GAN (Goodfellow et al., 2014).

Book section: 7.4 "Combining models".
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import contextmanager
from typing import Callable, Sequence

import numpy as np
import torch

from . import checks

__all__ = ["average_logits", "average_probabilities", "majority_vote", "weighted_vote", "uniform_soup",
           "greedy_soup", "FGM"]


def _stack(arrays, name: str, check: Callable) -> np.ndarray:
    """The members, each checked by ``check(member, f"{name}[i]")``, stacked into one array."""
    if isinstance(arrays, (str, bytes)) or not hasattr(arrays, "__iter__"):
        raise TypeError(f"{name}: expected a list of arrays (one per member), got {type(arrays).__name__}")
    members = [check(a, f"{name}[{i}]") for i, a in enumerate(arrays)]
    if not members:
        raise ValueError(f"{name}: expected at least one member, got an empty list")
    try:
        out = np.stack(members)
    except ValueError as exc:
        raise ValueError(f"{name}: members have different shapes ({exc})") from None
    return out


def _weights(weights, m: int) -> np.ndarray:
    """``m`` finite non-negative weights with a positive sum, normalised; equal weights for ``None``."""
    if weights is None:
        return np.full(m, 1.0 / m)
    w = checks.numbers(weights, "weights", minimum=0)
    if w.shape != (m,):
        raise ValueError(f"weights: expected one weight per member ({m}), got {w.size}")
    if w.sum() <= 0:
        raise ValueError(f"weights: expected a positive sum, got {w.tolist()}")
    return w / w.sum()


def _logits(logits) -> np.ndarray:
    def member(a, name):  # strings, bools, NaN and inf are refused; computed in the member's own precision
        checked = checks.numbers(a, name, ndim=2)
        a = a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)
        return a if a.dtype.kind in "iuf" else checked

    return _stack(logits, "logits", member)


def average_logits(logits: Sequence[np.ndarray], weights: Sequence[float] | None = None) -> np.ndarray:
    """(Weighted) mean of the members' logits, shape ``(n, classes)``.

    Args:
        logits: ``m`` arrays (or tensors) of shape ``(n, classes)``, finite numbers.
        weights: ``m`` finite non-negative weights (normalised to sum 1); default equal.

    Raises:
        TypeError: a member or weight that is not numbers (strings, bools).
        ValueError: for an empty list, mismatched shapes, NaN or infinite values, or weights that
            are negative, fewer or more than the members, or sum to 0.
    """
    stacked = _logits(logits)
    return np.tensordot(_weights(weights, len(stacked)), stacked, axes=1)


def average_probabilities(logits: Sequence[np.ndarray], weights: Sequence[float] | None = None) -> np.ndarray:
    """(Weighted) mean of the members' softmax probabilities ("soft voting"), shape ``(n, classes)``.

    Raises:
        TypeError, ValueError: as :func:`average_logits`.
    """
    stacked = _logits(logits)
    z = stacked - stacked.max(axis=-1, keepdims=True)
    probs = np.exp(z) / np.exp(z).sum(axis=-1, keepdims=True)
    return np.tensordot(_weights(weights, len(stacked)), probs, axes=1)


def weighted_vote(predictions: Sequence[np.ndarray], weights: Sequence[float] | None = None,
                  num_classes: int | None = None) -> np.ndarray:
    """Hard voting: for each example, the class with the largest total weight of members voting for
    it; ties go to the smallest class id (as ``scipy.stats.mode`` and scikit-learn's ``VotingClassifier``).

    Args:
        predictions: ``m`` integer arrays of shape ``(n,)``, class ids >= 0.
        weights: ``m`` finite non-negative weights; default equal (then it is :func:`majority_vote`).
        num_classes: number of classes (an int >= 1): every id must be below it. ``None``: not checked.

    Returns:
        An int64 array of shape ``(n,)``.

    Raises:
        TypeError: non-integer ids (floats, bools), a bad kind of weight, ``num_classes`` not an int.
        ValueError: for an empty list, mismatched shapes, a negative id or one >= ``num_classes``,
            ``num_classes`` < 1, or bad weights (as :func:`average_logits`).
    """
    num_classes = None if num_classes is None else checks.integer(num_classes, "num_classes")
    votes = _stack(predictions, "predictions",
                   lambda a, name: checks.integers(a, name, minimum=0, ndim=1).cpu().numpy())
    if num_classes is not None and votes.size and votes.max() >= num_classes:
        raise ValueError(f"predictions: class id {votes.max()} is not below num_classes={num_classes}")
    return _vote(votes, _weights(weights, len(votes)))


def _vote(votes: np.ndarray, w: np.ndarray) -> np.ndarray:
    # tally only the classes that received a vote (a class without votes never wins: every example's
    # tallies sum to sum(w) > 0), so a large class id allocates nothing; np.unique sorts, so ties
    # still go to the smallest id
    classes, index = np.unique(votes, return_inverse=True)
    index = index.reshape(votes.shape)
    tally = np.zeros((votes.shape[1], max(len(classes), 1)))
    for member, weight in zip(index, w):
        tally[np.arange(votes.shape[1]), member] += weight
    return classes[tally.argmax(axis=1)].astype(np.int64) if votes.shape[1] else np.zeros(0, dtype=np.int64)


def majority_vote(predictions: Sequence[np.ndarray], num_classes: int | None = None) -> np.ndarray:
    """Hard voting with one vote per member; ties go to the smallest class id. See :func:`weighted_vote`.

    Raises:
        TypeError, ValueError: as :func:`weighted_vote`.
    """
    return weighted_vote(predictions, None, num_classes)


def _states(models) -> list[dict]:
    if isinstance(models, (str, bytes, Mapping, torch.nn.Module)) or not hasattr(models, "__iter__"):
        raise TypeError(f"models: expected a list of models or state dicts, got {type(models).__name__}")
    states = []
    for i, m in enumerate(models):
        checks.instance(m, f"models[{i}]", (torch.nn.Module, Mapping), what="a torch.nn.Module or a state dict")
        states.append(m.state_dict() if isinstance(m, torch.nn.Module) else m)
    if not states:
        raise ValueError("models: need at least one model")
    return states


def uniform_soup(models: Sequence[torch.nn.Module | dict], weights: Sequence[float] | None = None) -> dict:
    """The (weighted) average of the models' state dicts: a "uniform soup" (Wortsman et al., 2022).

    Floating-point tensors are averaged; other entries (integer buffers such as BERT's
    ``position_ids``) must be equal in every model and are copied.

    Args:
        models: ``m`` models (or state dicts) of one architecture.
        weights: optional non-negative weights (normalised); default equal.

    Returns:
        A new state dict; load it with ``model.load_state_dict(soup)``.

    Raises:
        TypeError: ``models`` is not a list of models/state dicts; a bad kind of weight.
        ValueError: if ``models`` is empty, the keys or shapes differ, a non-float entry differs, or
            the weights are bad (as :func:`average_logits`).
    """
    states = _states(models)
    return _soup(states, _weights(weights, len(states)))


def _soup(states: list[dict], w: np.ndarray) -> dict:
    keys = list(states[0])
    soup = {}
    for s in states[1:]:
        if list(s) != keys:
            raise ValueError("models: the state dicts have different keys (different architectures?)")
    for key in keys:
        tensors = [s[key] for s in states]
        if any(t.shape != tensors[0].shape for t in tensors):
            raise ValueError(f"models: entry {key!r} has different shapes")
        if tensors[0].is_floating_point():
            soup[key] = sum(float(wi) * t.detach().to(torch.float64) for wi, t in zip(w, tensors)).to(tensors[0].dtype)
        else:
            if any(not torch.equal(t, tensors[0]) for t in tensors[1:]):
                raise ValueError(f"models: non-float entry {key!r} differs between models")
            soup[key] = tensors[0].clone()
    return soup


def greedy_soup(models: Sequence[torch.nn.Module | dict], evaluate: Callable[[dict], float]) -> tuple[dict, list[int]]:
    """Wortsman et al.'s greedy soup: sort the models by their own held-out score, start from the
    best, and add each next one to the soup only if the averaged model scores at least as well.

    Args:
        models: candidate models (or state dicts) of one architecture.
        evaluate: maps a state dict to a held-out score, higher is better (e.g. validation accuracy;
            never the test set).

    Returns:
        ``(soup_state_dict, indices)``: the soup and the positions in ``models`` of its ingredients.

    Raises:
        TypeError: ``evaluate`` is not callable or returns something that is not a number.
        ValueError: as :func:`uniform_soup`; or ``evaluate`` returns NaN (a NaN score cannot be ranked).
    """
    states = _states(models)
    checks.function(evaluate, "evaluate")

    def score_of(state) -> float:
        return checks.number(evaluate(state), "evaluate (its returned score)", finite=False)

    scores = [score_of(s) for s in states]
    order = sorted(range(len(states)), key=lambda i: -scores[i])
    chosen, best = [order[0]], scores[order[0]]
    soup = _soup([states[order[0]]], np.ones(1))
    for i in order[1:]:
        members = chosen + [i]
        candidate = _soup([states[j] for j in members], np.full(len(members), 1.0 / len(members)))
        score = score_of(candidate)
        if score >= best:
            chosen, best, soup = chosen + [i], score, candidate
    return soup, chosen


class FGM:
    """Fast gradient method on word embeddings (Miyato, Dai & Goodfellow, ICLR 2017).

    For each example, the perturbation of its sequence of word embeddings ``e`` (shape ``(L, d)``)
    is ``r = epsilon * g / ||g||_2`` with ``g = dLoss/de`` and the norm over the whole sequence; the
    model is then also trained on ``e + r``. Usage inside a training step::

        fgm = FGM(model, epsilon=1.0)
        with fgm.watch():                 # remember the embeddings of this forward pass
            loss = loss_fn(model(**batch))
        loss.backward()                   # gradients of the clean loss (and dLoss/de)
        with fgm.perturb():               # this forward pass sees e + r
            adversarial = loss_fn(model(**batch))
        adversarial.backward()            # gradients add up: clean + adversarial loss
        optimizer.step()

    Works with any model that has ``get_input_embeddings()`` (the hooks are on that module's output).

    Raises:
        TypeError: if the model has no ``get_input_embeddings``, or ``epsilon`` is not a number.
        ValueError: if ``epsilon`` is not a finite number > 0 (NaN included).
    """

    def __init__(self, model: torch.nn.Module, epsilon: float = 1.0):
        if not hasattr(model, "get_input_embeddings"):
            raise TypeError(f"model: expected a model with get_input_embeddings(), got {type(model).__name__}")
        self.epsilon = checks.number(epsilon, "epsilon", minimum=0, strict_minimum=True)
        self.embeddings = model.get_input_embeddings()
        self._watched: torch.Tensor | None = None

    @contextmanager
    def watch(self):
        """Record the embedding output of the forward passes inside the block (keep its gradient)."""
        def hook(module, inputs, output):
            if not output.requires_grad:
                output.requires_grad_(True)
            output.retain_grad()
            self._watched = output
            return output

        handle = self.embeddings.register_forward_hook(hook)
        try:
            yield self
        finally:
            handle.remove()

    def perturbation(self) -> torch.Tensor:
        """``r`` for the watched batch, shape ``(batch, L, d)``; rows with a zero gradient get ``r = 0``.

        Raises:
            RuntimeError: if no forward pass was watched or its loss has not been back-propagated.
        """
        if self._watched is None or self._watched.grad is None:
            raise RuntimeError("FGM: run the forward pass inside `with fgm.watch():` and call loss.backward() first")
        g = self._watched.grad.detach()
        norm = g.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, *([1] * (g.dim() - 1)))
        return self.epsilon * g / norm

    @contextmanager
    def perturb(self):
        """Add the perturbation to the embedding output of the forward passes inside the block."""
        delta = self.perturbation()

        def hook(module, inputs, output):
            if output.shape != delta.shape:
                raise RuntimeError(f"FGM: perturbed batch has shape {tuple(output.shape)}, "
                                   f"watched {tuple(delta.shape)}")
            return output + delta

        handle = self.embeddings.register_forward_hook(hook)
        try:
            yield self
        finally:
            handle.remove()
            self._watched = None
