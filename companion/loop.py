"""The one training loop of the book, in plain PyTorch.

What the Hugging Face ``Trainer`` does inside ``train()``, in a page of code a reader can follow:

* :func:`item_losses` / :func:`summed_loss` -- the loss of every *real* target (a review for
  classification and regression, a labelled token for token classification; padding and ignored
  positions, label ``-100``, do not count);
* :func:`token_weighted_mean` vs :func:`naive_accumulated_mean` -- gradient accumulation done right:
  divide the summed loss of all micro-batches by the total number of real targets, not by the number
  of micro-batches;
* :func:`autocast` / :func:`grad_scaler` -- mixed precision: bf16 autocast (CPU or CUDA), fp16
  autocast with a gradient scaler (CUDA);
* :func:`check_finite` -- stop at the first non-finite loss with a message that says what to do;
* :func:`train` -- forward, loss, backward, gradient clipping, optimiser step, scheduler step *per
  optimiser step*, ``zero_grad``; evaluation over the *whole* evaluation set; optional early stopping
  that restores the best weights. Two extension points instead of feature flags: ``loss_fn(model,
  batch)`` (distillation, adversarial training, a causal-LM loss are each a few lines in the chapter
  that teaches them) and ``on_step(record)`` (logging, a range test that stops on divergence);
* :func:`evaluate` / :func:`predict` -- the mean loss over every example of a loader; the logits of
  every example, in input order;
* :func:`saved_activation_bytes` / :func:`memory_breakdown` -- what training keeps in memory
  (weights, gradients, optimiser state, activations saved for the backward pass), counted exactly.

Book sections: chapter 6.1 (the loop, gradient accumulation, mixed precision), chapter 5.3
(learning curves, early stopping), chapter 7 (augmentation, distillation and adversarial training as
loss functions), chapter 9 (supervised fine-tuning of a chat model).
"""

from __future__ import annotations

import contextlib
import copy
import math
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from . import checks
from .data.text import IGNORE_INDEX

PRECISIONS = ("fp32", "bf16", "fp16")


# ---------------------------------------------------------------------------- losses
def item_losses(logits: torch.Tensor, labels: torch.Tensor, ignore_index: int = IGNORE_INDEX) -> torch.Tensor:
    """The loss of every real target, as a 1-D float32 tensor.

    The task is read from the shapes and the label dtype:

    * classification: ``logits`` ``(batch, num_classes)``, ``labels`` ``(batch,)`` int64 ->
      cross-entropy per example;
    * token classification: ``logits`` ``(batch, seq_len, num_classes)``, ``labels``
      ``(batch, seq_len)`` int64 -> cross-entropy per labelled token; positions labelled
      ``ignore_index`` (padding, special tokens, non-first sub-words) are dropped;
    * regression: ``logits`` ``(batch, 1)`` or ``(batch,)``, ``labels`` ``(batch,)`` float ->
      squared error per example (what ``BertForSequenceClassification`` uses with
      ``problem_type="regression"``).

    The logits are cast to float32 first, so a bf16/fp16 forward pass still gets an fp32 loss.

    Raises:
        TypeError: ``logits`` or ``labels`` is not a tensor.
        ValueError: the shapes fit none of the three cases, or a class label is outside
            ``[0, num_classes)`` (and not ``ignore_index``).
    """
    checks.float_tensor(logits, "logits")
    checks.instance(labels, "labels", torch.Tensor, what="a tensor")
    ignore_index = checks.integer(ignore_index, "ignore_index", minimum=None)
    logits = logits.float()
    if labels.is_floating_point():
        checks.finite_tensor(labels, "labels")
        pred = logits.reshape(-1) if logits.dim() == 2 and logits.shape[-1] == 1 else logits
        if pred.shape != labels.shape:
            raise ValueError(f"labels: regression needs logits of shape (batch, 1) and labels (batch,), "
                             f"got {tuple(logits.shape)} and {tuple(labels.shape)}")
        return (pred - labels.float()) ** 2
    if logits.dim() != labels.dim() + 1 or logits.shape[:-1] != labels.shape:
        raise ValueError(f"labels: expected shape {tuple(logits.shape[:-1])} for logits {tuple(logits.shape)}, "
                         f"got {tuple(labels.shape)}")
    checks.class_labels(labels, "labels", num_labels=logits.shape[-1], ignore_index=ignore_index)
    flat_logits, flat_labels = logits.reshape(-1, logits.shape[-1]), labels.reshape(-1)
    keep = flat_labels != ignore_index
    return F.cross_entropy(flat_logits[keep], flat_labels[keep], reduction="none")


def count_items(labels: torch.Tensor, ignore_index: int = IGNORE_INDEX) -> int:
    """Number of real targets in ``labels``: every float label, every int label not ``ignore_index``.

    Raises:
        TypeError: ``labels`` is not a tensor, or ``ignore_index`` not an int.
    """
    checks.instance(labels, "labels", torch.Tensor, what="a tensor")
    ignore_index = checks.integer(ignore_index, "ignore_index", minimum=None)
    if labels.is_floating_point():
        return int(labels.numel())
    return int((labels != ignore_index).sum())


def summed_loss(logits: torch.Tensor, labels: torch.Tensor, ignore_index: int = IGNORE_INDEX
                ) -> tuple[torch.Tensor, int]:
    """``(sum of item losses, number of items)``; see :func:`item_losses`."""
    losses = item_losses(logits, labels, ignore_index)
    return losses.sum(), int(losses.numel())


def naive_accumulated_mean(micro_batch_losses: Sequence[Sequence[float]]) -> float:
    """The *wrong* accumulated loss: the mean of the micro-batch means.

    Each micro-batch is weighted equally whatever its number of real targets. Worked example: three
    tokens of loss 1 and one token of loss 4 in two micro-batches give (1 + 4) / 2 = 2.5.

    Raises:
        ValueError: if there is no micro-batch, a micro-batch is empty, not 1-D or not finite.
        TypeError: if a micro-batch is not a sequence of numbers.
    """
    batches = _check_micro_batches(micro_batch_losses)
    return float(np.mean([m.mean() for m in batches]))


def token_weighted_mean(micro_batch_losses: Sequence[Sequence[float]]) -> float:
    """The right accumulated loss: the sum of every item loss over the total number of items.

    This is the loss of the full batch, so its gradient is the full-batch gradient. Field case:
    (1 + 1 + 1 + 4) / 4 = 1.75. Chapter 6.1, "Gradient accumulation".

    Raises:
        ValueError: if there is no micro-batch, a micro-batch is empty, not 1-D or not finite.
        TypeError: if a micro-batch is not a sequence of numbers.
    """
    batches = _check_micro_batches(micro_batch_losses)
    return float(sum(m.sum() for m in batches) / sum(m.size for m in batches))


def _check_micro_batches(micro_batch_losses) -> list[np.ndarray]:
    """Each micro-batch as a 1-D float array of finite item losses (lists, tuples, arrays or tensors)."""
    if isinstance(micro_batch_losses, (str, bytes)) or not hasattr(micro_batch_losses, "__len__"):
        raise TypeError("micro_batch_losses: expected a sequence of micro-batches, each a sequence of item losses")
    if len(micro_batch_losses) == 0:
        raise ValueError("micro_batch_losses: need at least one micro-batch")
    # each: 1-D, not empty, finite real numbers (never strings such as "1.0", nor bools)
    return [checks.numbers(m, f"micro_batch_losses[{i}]") for i, m in enumerate(micro_batch_losses)]


# ---------------------------------------------------------------------------- mixed precision
def resolve_precision(precision: str, device: torch.device | str = "cpu") -> str:
    """``"auto"`` -> ``"bf16"`` on a CUDA device with bf16 support, ``"fp16"`` on other CUDA devices
    (e.g. a Colab T4), ``"fp32"`` on CPU; ``"fp32"``, ``"bf16"`` and ``"fp16"`` are returned unchanged
    (the plain loop can autocast to bf16 on a CPU too; :func:`companion.trainer.training_arguments`
    refuses low precision without CUDA).

    Raises:
        ValueError: ``precision`` is not ``auto``, ``fp32``, ``bf16`` or ``fp16``.
    """
    checks.one_of(precision, "precision", ("auto", *PRECISIONS))
    if precision != "auto":
        return precision
    if torch.device(device).type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "fp32"


def autocast(device: torch.device | str, precision: str):
    """A context manager for the forward pass: ``torch.autocast`` in bf16 or fp16, or nothing (fp32).

    Under autocast, matrix multiplications run in the low-precision type while reductions and the
    weights stay in float32 (the master weights).

    Raises:
        ValueError: for an unknown ``precision``.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision: {precision!r} is not one of {PRECISIONS}")
    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device_type=torch.device(device).type, dtype=dtype)


def grad_scaler(device: torch.device | str, precision: str) -> torch.amp.GradScaler:
    """A ``torch.amp.GradScaler``, enabled only for fp16.

    fp16 has 5 exponent bits: its largest finite value is 65,504 and gradients below about 6e-8
    underflow to zero. The scaler multiplies the loss by a large factor before ``backward`` (so small
    gradients survive), divides the gradients back before clipping and the optimiser step, skips a
    step whose gradients overflowed and lowers the factor. bf16 has float32's exponent range and needs
    no scaler (Micikevicius et al., ICLR 2018, "Mixed Precision Training").
    """
    checks.one_of(precision, "precision", PRECISIONS)
    return torch.amp.GradScaler(torch.device(device).type, enabled=precision == "fp16")


def check_finite(loss: torch.Tensor, step: int, precision: str = "fp32") -> None:
    """Raise ``FloatingPointError`` if ``loss`` is NaN or infinite.

    A non-finite loss poisons every weight at the next optimiser step, and training would go on
    silently on garbage. The message names the step and the usual remedies (fp16 overflows above
    65,504; T5-family checkpoints are known to overflow in fp16).

    Raises:
        TypeError: ``loss`` is neither a tensor nor a real number.
        ValueError: ``precision`` is not one of :data:`PRECISIONS`.
    """
    checks.one_of(precision, "precision", PRECISIONS)
    if not isinstance(loss, torch.Tensor) and not (isinstance(loss, float) and math.isnan(loss)):
        checks.number(loss, "loss", finite=False)
    loss = torch.as_tensor(loss.detach() if isinstance(loss, torch.Tensor) else loss, dtype=torch.float32)
    if torch.isfinite(loss).all():
        return
    shown = loss.item() if loss.numel() == 1 else loss.flatten().tolist()
    advice = ("fp16 overflows above 65,504: switch to bf16 or fp32 (T5-family models are known to overflow "
              "in fp16), " if precision == "fp16" else "")
    raise FloatingPointError(f"non-finite training loss ({shown}) at optimiser step {step}; "
                             f"{advice}lower the learning rate, or check the inputs and labels")


# ---------------------------------------------------------------------------- evaluation
def _to_device(batch: Mapping[str, torch.Tensor], device) -> dict[str, torch.Tensor]:
    return {k: v.to(device) for k, v in batch.items()}


def _forward(model, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    _check_inputs(model, inputs)  # else a torch IndexError deep in an embedding, naming nothing
    out = model(**inputs)
    return out.logits if hasattr(out, "logits") else out


def _input_limits(model) -> tuple[int | None, int | None, int | None]:
    """``(vocabulary size, number of token types, longest sequence)`` the model's embeddings can take
    (``None`` where it has no such embedding; rotary/relative positions have no longest sequence)."""
    embeddings = getattr(getattr(model, "base_model", model), "embeddings", None)
    types = getattr(getattr(embeddings, "token_type_embeddings", None), "num_embeddings", None)
    positions = getattr(embeddings, "position_embeddings", None)
    longest = None
    if isinstance(positions, torch.nn.Embedding):  # RoBERTa's positions start after its padding index
        longest = positions.num_embeddings - (positions.padding_idx + 1 if positions.padding_idx is not None else 0)
    return _vocab_size(model), types, longest


def _check_inputs(model, inputs: Mapping[str, torch.Tensor]) -> None:
    """One batch's ids against the model's embeddings: ``min``/``max`` of ``input_ids`` and ``token_type_ids``,
    and the sequence length."""
    vocab, types, longest = _input_limits(model)
    ids = inputs.get("input_ids")
    if ids is not None and vocab is not None:
        checks.token_ids(ids, "input_ids (of a batch)", vocab_size=vocab)
    if ids is not None and longest is not None and ids.dim() and ids.shape[-1] > longest:
        raise ValueError(f"input_ids (of a batch): a sequence of {ids.shape[-1]} tokens is longer than the model's "
                         f"{longest} positions (max_position_embeddings); tokenise with max_length <= {longest}")
    token_types = inputs.get("token_type_ids")
    if token_types is not None and types is not None:
        checks.integers(token_types, "token_type_ids (of a batch)", minimum=0, maximum=types - 1)


def _check_dataset_inputs(dataset, name: str, model) -> None:
    """Tokenised examples (a ``datasets.Dataset`` or a list of dicts) against the model's embeddings, on the raw
    values, before any batch: ``input_ids`` in the vocabulary and no longer than the model's positions,
    ``token_type_ids`` below its number of token types; bools and floats refused (:func:`_column_span`)."""
    from .data.text import _column_span

    vocab, types, longest = _input_limits(model)
    span = _column_span(dataset, "input_ids", name)
    if span is not None and vocab is not None and (span[0] < 0 or span[1] >= vocab):
        bad = span[0] if span[0] < 0 else span[1]
        raise ValueError(f"{name}['input_ids']: token id {bad} is outside the model's vocabulary [0, {vocab}); was "
                         "the data tokenised with another tokenizer?")
    if span is not None and longest is not None and span[2] > longest:
        raise ValueError(f"{name}['input_ids']: a sequence of {span[2]} tokens is longer than the model's {longest} "
                         f"positions (max_position_embeddings); tokenise with max_length <= {longest}")
    span = _column_span(dataset, "token_type_ids", name)
    if span is not None and types is not None and (span[0] < 0 or span[1] >= types):
        bad = span[0] if span[0] < 0 else span[1]
        raise ValueError(f"{name}['token_type_ids']: token type {bad} is outside the model's [0, {types}) "
                         "(config.type_vocab_size)")


def _check_batch(batch, name: str, *, labels: bool) -> Mapping[str, torch.Tensor]:
    """A batch as a loop reads it: a mapping of tensors, with ``labels`` when ``labels``."""
    if not isinstance(batch, Mapping):
        raise TypeError(f"{name}: expected batches that are dicts of tensors (e.g. from companion.data.dataloader), "
                        f"got a {type(batch).__name__}")
    for key, value in batch.items():
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"{name}: batch[{key!r}] is a {type(value).__name__}, expected a tensor (pad and collate "
                            "the examples, e.g. with companion.data.dataloader)")
    if labels and "labels" not in batch:
        raise ValueError(f"{name}: a batch has no 'labels' (it holds {sorted(batch)}); the default loss needs them "
                         "(pass loss_fn for an objective without labels)")
    return batch


def _device_of(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


def _vocab_size(model) -> int | None:
    """Rows of the model's input embedding (``None`` if it has none)."""
    get = getattr(model, "get_input_embeddings", None)
    emb = get() if callable(get) else None
    return getattr(emb, "num_embeddings", None)


def _check_model(model) -> torch.nn.Module:
    checks.instance(model, "model", torch.nn.Module)
    if next(iter(model.parameters()), None) is None:
        raise ValueError("model: has no parameters")
    return model


def _check_loader(loader, name: str):
    if isinstance(loader, (str, bytes, Mapping)) or not hasattr(loader, "__iter__"):
        raise TypeError(f"{name}: expected an iterable of batches (e.g. a DataLoader), got {type(loader).__name__}")
    return loader


@torch.no_grad()
def evaluate(model: torch.nn.Module, loader: Iterable[Mapping[str, torch.Tensor]], *, precision: str = "fp32",
             ignore_index: int = IGNORE_INDEX) -> dict:
    """Mean loss and predictions over **every** batch of ``loader`` (the model in eval mode).

    The source outline's evaluation loop scores only the last batch (errata #22); here every item of
    every batch counts, and the mean is taken over items, so a short last batch weighs what it holds.

    Returns:
        ``{"loss": float, "n_items": int, "predictions": np.ndarray, "labels": np.ndarray}``: per real
        item, the argmax class (classification, token classification) or the predicted value
        (regression), and its label. The model's train/eval mode is restored afterwards.
    """
    _check_model(model)
    _check_loader(loader, "loader")
    ignore_index = checks.integer(ignore_index, "ignore_index", minimum=None)
    was_training = model.training
    device = _device_of(model)
    precision = resolve_precision(precision, device)  # "auto" as in train
    model.eval()
    total, n, preds, labels = 0.0, 0, [], []
    try:
        for batch in loader:
            batch = _to_device(_check_batch(batch, "loader", labels=True), device)
            with autocast(device, precision):
                logits = _forward(model, batch)
            y = batch["labels"]
            loss_sum, count = summed_loss(logits, y, ignore_index)
            total += float(loss_sum)
            n += count
            logits = logits.float()
            if y.is_floating_point():
                preds.append(logits.reshape(y.shape).cpu().numpy())
                labels.append(y.cpu().numpy())
            else:
                keep = y != ignore_index
                preds.append(logits.argmax(-1)[keep].cpu().numpy())
                labels.append(y[keep].cpu().numpy())
    finally:
        model.train(was_training)
    if n == 0:
        raise ValueError("loader: no labelled items to evaluate")
    return {"loss": total / n, "n_items": n, "predictions": np.concatenate(preds), "labels": np.concatenate(labels)}


# ---------------------------------------------------------------------------- predictions
@torch.no_grad()
def predict(model: torch.nn.Module, dataset, tokenizer, *, batch_size: int = 64, precision: str = "fp32",
            collator=None) -> np.ndarray:
    """The logits of every example, in the order of ``dataset``: ``(n, num_labels)`` float32 (regression:
    ``(n, 1)``).

    Batches are formed from examples of similar length (little padding) and the rows put back in input
    order. The model's train/eval mode is restored afterwards.

    Args:
        dataset: tokenised examples (a ``datasets.Dataset`` or a list of dicts with ``input_ids``).
        tokenizer: for padding (``DataCollatorWithPadding``), unless ``collator`` is given.

    Raises:
        ValueError: an empty ``dataset``; bad ``batch_size`` or ``precision``; an id outside the model's vocabulary
            or token types, a sequence longer than its positions.
        TypeError: ids that are not integers (a bool, a float); no ``tokenizer`` (nor ``collator``).
    """
    from .data.text import _lengths, _model_columns, _padding_collator

    _check_model(model)
    batch_size = checks.integer(batch_size, "batch_size")
    if not hasattr(dataset, "__len__") or isinstance(dataset, (str, bytes)):
        raise TypeError(f"dataset: expected a datasets.Dataset or a list of dicts, got {type(dataset).__name__}")
    if len(dataset) == 0:
        raise ValueError("dataset: no examples")
    if collator is not None:
        checks.function(collator, "collator")
    elif not callable(tokenizer):
        raise TypeError(f"tokenizer: expected a transformers tokenizer to pad the examples (or pass a collator), "
                        f"got {type(tokenizer).__name__}")
    device = _device_of(model)
    precision = resolve_precision(precision, device)
    _check_dataset_inputs(dataset, "dataset", model)  # the raw values: a collator reads a bool id as 1
    rows = _model_columns(dataset)
    rows = [rows[i] for i in range(len(rows))]
    order = np.argsort(_lengths(dataset), kind="stable")
    collator = collator or _padding_collator(tokenizer)
    was_training = model.training
    model.eval()
    out: list = [None] * len(rows)
    try:
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            batch = collator([{k: v for k, v in rows[i].items() if k not in ("label", "labels")} for i in idx])
            batch = _to_device(batch, device)
            with autocast(device, precision):
                logits = _forward(model, batch).float().cpu().numpy()
            for i, row in zip(idx, logits):
                out[i] = row
    finally:
        model.train(was_training)
    return np.stack(out).astype(np.float32)


# ---------------------------------------------------------------------------- the loop
def _micro_batch_groups(loader, size: int):
    """Yield lists of ``size`` consecutive batches (the last list may be shorter)."""
    group = []
    for batch in loader:
        group.append(batch)
        if len(group) == size:
            yield group
            group = []
    if group:
        yield group


@dataclass
class LoopResult:
    """What :func:`train` returns.

    Attributes:
        steps: one dict per optimiser step: ``step``, ``epoch`` (fractional), ``loss`` (the
            item-weighted mean over the step's micro-batches), ``lr`` (of the first parameter group,
            as used by this step), ``grad_norm`` (before clipping), ``n_items``, ``seconds`` (wall
            time of the step: forward, backward and update of all its micro-batches).
        evals: one dict per evaluation and split: ``step``, ``epoch``, ``split``, ``loss`` and whatever
            ``metric_fn`` returned.
        best_step: the optimiser step whose weights were kept (early stopping), else the last step.
        stopped_early: whether early stopping, ``max_steps`` or ``on_step`` ended training before ``epochs``.
        wall_s: seconds spent in :func:`train` (training and evaluation).
        skipped_steps: fp16 steps the gradient scaler skipped because of overflowing gradients.
    """

    steps: list[dict] = field(default_factory=list)
    evals: list[dict] = field(default_factory=list)
    best_step: int = 0
    stopped_early: bool = False
    wall_s: float = 0.0
    skipped_steps: int = 0

    @property
    def train_loss(self) -> float:
        """Mean training loss over every optimiser step (NaN if none was taken)."""
        return float(np.mean([s["loss"] for s in self.steps])) if self.steps else math.nan

    def eval_frame(self):
        """The evaluations as a ``pandas.DataFrame``."""
        import pandas as pd

        return pd.DataFrame(self.evals)

    def step_frame(self):
        """The optimiser steps as a ``pandas.DataFrame``."""
        import pandas as pd

        return pd.DataFrame(self.steps)


def _batch_items(batch, ignore_index: int) -> int:
    labels = batch.get("labels") if isinstance(batch, Mapping) else None
    if labels is None:
        ids = batch.get("input_ids") if isinstance(batch, Mapping) else None
        return int(ids.shape[0]) if ids is not None else 1
    return count_items(labels, ignore_index)


def train(
    model: torch.nn.Module,
    train_loader: Iterable[Mapping[str, torch.Tensor]],
    optimizer: torch.optim.Optimizer,
    *,
    scheduler=None,
    epochs: int = 1,
    max_steps: int | None = None,
    grad_accum_steps: int = 1,
    max_grad_norm: float | None = 1.0,
    precision: str = "fp32",
    loss_fn: Callable[[torch.nn.Module, dict], torch.Tensor] | None = None,
    on_step: Callable[[dict], bool | None] | None = None,
    eval_loaders: Mapping[str, Iterable] | None = None,
    metric_fn: Callable[[np.ndarray, np.ndarray], dict] | None = None,
    early_stopping_patience: int | None = None,
    monitor: str = "validation",
    ignore_index: int = IGNORE_INDEX,
) -> LoopResult:
    """Train ``model`` with a plain PyTorch loop (what ``Trainer.train`` does, written out).

    One optimiser step consumes ``grad_accum_steps`` micro-batches. Their real targets are counted
    first, and each micro-batch's loss is weighted by its share of them before ``backward``, so the
    accumulated gradient is exactly the gradient of the full batch's mean loss (chapter 6.1). Then:
    clip the gradient norm to ``max_grad_norm``, ``optimizer.step()``, ``scheduler.step()`` (once per
    optimiser step, never per micro-batch), ``optimizer.zero_grad()``. Before each epoch the loader's
    sampler (if it has ``set_epoch``, e.g. :class:`companion.data.EpochSampler`) is told the epoch.

    Args:
        model: a module whose forward takes the batch's tensors (without ``labels``) and returns
            logits or an object with ``.logits``; trained on the device of its parameters.
        train_loader: yields dicts of tensors with ``labels`` (e.g. :func:`companion.data.dataloader`);
            iterated once per epoch.
        optimizer: any ``torch.optim.Optimizer`` over the trainable parameters.
        scheduler: an optional learning-rate scheduler, stepped after every optimiser step.
        epochs: passes over ``train_loader``.
        max_steps: stop after this many optimiser steps (``None``: run every epoch).
        grad_accum_steps: micro-batches per optimiser step.
        max_grad_norm: clip the global gradient norm to this value (``None``: no clipping).
        precision: ``"fp32"``, ``"bf16"``, ``"fp16"`` or ``"auto"`` (:func:`resolve_precision`); fp16 uses
            a gradient scaler.
        loss_fn: ``loss_fn(model, batch) -> loss``, the mean loss of the batch's real targets (a scalar
            tensor). Default: the model's logits against ``batch["labels"]`` (:func:`item_losses`:
            classification, regression and token classification). Distillation, adversarial training
            or a causal-LM loss are loss functions written in the chapter that teaches them.
        on_step: called after every optimiser step with its record (see :class:`LoopResult`); returning
            ``True`` stops training.
        eval_loaders: ``{split: loader}`` evaluated with :func:`evaluate` after every epoch.
        metric_fn: ``metric_fn(predictions, labels) -> dict`` added to each evaluation.
        early_stopping_patience: stop when the ``monitor`` split's loss has not improved for this many
            evaluations, and restore the weights of the best evaluation (``None``: train every epoch).
        monitor: the split of ``eval_loaders`` that early stopping watches.
        ignore_index: label value of positions without a target.

    Returns:
        A :class:`LoopResult`; the model is left in ``eval()`` mode.

    Raises:
        ValueError / TypeError: non-positive ``epochs``/``grad_accum_steps``/``max_steps``, a
            ``max_grad_norm`` that is not a positive finite number or ``None``, a one-shot iterator with
            ``epochs > 1``, a bad ``precision``, early stopping without the ``monitor`` split, a
            ``train_loader`` that yields no batch, or whose labels all equal ``ignore_index``; a batch that is
            not a dict of tensors, or has no ``labels`` (without ``loss_fn``); an id outside the model's
            vocabulary or token types, a sequence longer than its positions.
        FloatingPointError: at the first non-finite training loss (:func:`check_finite`).
    """
    _check_model(model)
    _check_loader(train_loader, "train_loader")
    checks.instance(optimizer, "optimizer", torch.optim.Optimizer, what="a torch.optim.Optimizer")
    ignore_index = checks.integer(ignore_index, "ignore_index", minimum=None)
    if metric_fn is not None:
        checks.function(metric_fn, "metric_fn")
    if eval_loaders is not None:
        checks.instance(eval_loaders, "eval_loaders", Mapping, what="a dict {split: loader}")
        for split, loader in eval_loaders.items():
            _check_loader(loader, f"eval_loaders[{split!r}]")
    epochs = checks.integer(epochs, "epochs")
    grad_accum_steps = checks.integer(grad_accum_steps, "grad_accum_steps")
    if max_steps is not None:
        max_steps = checks.integer(max_steps, "max_steps")
    if max_grad_norm is not None:
        max_grad_norm = checks.number(max_grad_norm, "max_grad_norm", minimum=0, strict_minimum=True)
    if epochs > 1 and iter(train_loader) is train_loader:
        raise ValueError("train_loader: a one-shot iterator cannot be iterated once per epoch; pass a DataLoader "
                         "or a list of batches")
    if loss_fn is not None and not callable(loss_fn):
        raise TypeError(f"loss_fn: expected a function loss_fn(model, batch), got {type(loss_fn).__name__}")
    if on_step is not None and not callable(on_step):
        raise TypeError(f"on_step: expected a function on_step(record), got {type(on_step).__name__}")
    eval_loaders = dict(eval_loaders or {})
    if early_stopping_patience is not None:
        early_stopping_patience = checks.integer(early_stopping_patience, "early_stopping_patience")
        if monitor not in eval_loaders:
            raise ValueError(f"monitor: early stopping watches {monitor!r}, which is not in eval_loaders {list(eval_loaders)}")
    device = _device_of(model)
    precision = resolve_precision(precision, device)
    scaler = grad_scaler(device, precision)
    params = [p for group in optimizer.param_groups for p in group["params"]]
    result = LoopResult()
    best_loss, best_state, bad_evals, step, stop = math.inf, None, 0, 0, False
    start = time.perf_counter()
    model.train()
    optimizer.zero_grad(set_to_none=True)
    batches_per_epoch = len(train_loader) if hasattr(train_loader, "__len__") else None
    sampler = getattr(train_loader, "sampler", None)

    for epoch in range(epochs):
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(epoch)                            # the epoch's order: a function of (seed, epoch)
        seen = 0
        for group in _micro_batch_groups(train_loader, grad_accum_steps):
            seen += len(group)
            step_start = time.perf_counter()
            group = [_check_batch(b, "train_loader", labels=loss_fn is None) for b in group]
            # 1. count the real targets of the whole optimiser step first
            counts = [_batch_items(b, ignore_index) for b in group]
            n_items = sum(counts)
            if n_items == 0:
                continue
            lr = optimizer.param_groups[0]["lr"]
            step_loss = 0.0
            for batch, count in zip(group, counts):
                if count == 0:
                    continue
                batch = _to_device(batch, device)
                with autocast(device, precision):               # 2. forward (low precision if asked)
                    if loss_fn is None:
                        loss_sum, _ = summed_loss(_forward(model, batch), batch["labels"], ignore_index)
                        loss = loss_sum / n_items               # 3. normalise by ALL items of the step
                    else:
                        loss = loss_fn(model, batch) * (count / n_items)
                check_finite(loss, step + 1, precision)
                scaler.scale(loss).backward()                   # 4. backward (gradients add up)
                step_loss += float(loss.detach())
            scaler.unscale_(optimizer)                          # 5. true gradients before clipping
            norm = torch.nn.utils.clip_grad_norm_(params, math.inf if max_grad_norm is None else max_grad_norm)
            scale_before = scaler.get_scale() if scaler.is_enabled() else None
            scaler.step(optimizer)                              # 6. optimiser step (skipped on overflow)
            scaler.update()
            if scale_before is not None and scaler.get_scale() < scale_before:
                result.skipped_steps += 1
            if scheduler is not None:
                scheduler.step()                                # 7. one scheduler step per optimiser step
            optimizer.zero_grad(set_to_none=True)               # 8. clear the gradients
            step += 1
            frac = seen / batches_per_epoch if batches_per_epoch else 0.0
            record = {"step": step, "epoch": epoch + frac, "loss": step_loss, "lr": lr,
                      "grad_norm": float(norm), "n_items": n_items, "seconds": time.perf_counter() - step_start}
            result.steps.append(record)
            if (on_step is not None and on_step(record)) or (max_steps is not None and step >= max_steps):
                stop = True
                break
        if epoch == 0 and seen == 0:
            raise ValueError("train_loader: yielded no batches; there is nothing to train on")
        if epoch == 0 and step == 0:  # every batch was skipped: not one real target (nothing was changed)
            raise ValueError(f"labels: every label of train_loader equals ignore_index ({ignore_index}); there is no "
                             "label to learn from (were the labels aligned to the tokens?)")

        if eval_loaders:                                        # evaluate on every split, whole sets
            for split, loader in eval_loaders.items():
                ev = evaluate(model, loader, precision=precision, ignore_index=ignore_index)
                record = {"step": step, "epoch": epoch + 1, "split": split, "loss": ev["loss"]}
                if metric_fn is not None:
                    record.update(metric_fn(ev["predictions"], ev["labels"]))
                result.evals.append(record)
            if early_stopping_patience is not None:
                current = next(r["loss"] for r in reversed(result.evals) if r["split"] == monitor)
                if current < best_loss:
                    best_loss, bad_evals, result.best_step = current, 0, step
                    best_state = copy.deepcopy({k: v.detach().cpu() for k, v in model.state_dict().items()})
                else:
                    bad_evals += 1
                    if bad_evals >= early_stopping_patience:
                        stop = True
        if stop:
            result.stopped_early = epoch + 1 < epochs
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    else:
        result.best_step = step
    model.eval()
    result.wall_s = time.perf_counter() - start
    return result


# ---------------------------------------------------------------------------- memory
def saved_activation_bytes(fn: Callable[[], torch.Tensor], model: torch.nn.Module | None = None) -> int:
    """Bytes of the tensors autograd saves for the backward pass while ``fn()`` runs.

    Counts each storage once, and leaves out the model's own parameters (they are counted as
    weights). Under ``torch.no_grad()`` (MeZO, evaluation) nothing is saved and the result is 0. This
    is the activation memory that backpropagation needs and forward-only methods avoid; it grows with
    batch size x sequence length x layers.

    Raises:
        TypeError: ``fn`` is not callable, or ``model`` not a module.
    """
    checks.function(fn, "fn")
    if model is not None:
        checks.instance(model, "model", torch.nn.Module)
    param_ptrs = set()
    if model is not None:
        param_ptrs = {p.untyped_storage().data_ptr() for p in model.parameters()}
    storages: dict[int, int] = {}

    def pack(t: torch.Tensor):
        try:
            s = t.untyped_storage()
            ptr = s.data_ptr()
            if ptr not in param_ptrs:
                storages[ptr] = max(storages.get(ptr, 0), s.nbytes())
        except (RuntimeError, NotImplementedError):  # tensors without storage (e.g. sparse, meta)
            pass
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return int(sum(storages.values()))


def memory_breakdown(model: torch.nn.Module, optimizer: torch.optim.Optimizer | None = None,
                     activations: int = 0, gradients: bool = True) -> dict[str, int]:
    """Training memory in bytes: ``weights``, ``gradients`` (one per trainable weight if
    ``gradients``; forward-only methods such as MeZO keep none),
    ``optimizer_state`` (e.g. AdamW's two moments), ``activations`` (pass
    :func:`saved_activation_bytes`) and their ``total``.

    Working buffers inside a single forward/backward are not included; on a GPU,
    ``torch.cuda.max_memory_allocated`` measures everything.

    Raises:
        ValueError: if ``activations`` is not a whole number of bytes >= 0.
        TypeError: if ``gradients`` is not a bool.
    """
    from .optimizers import optimizer_state_bytes

    checks.instance(model, "model", torch.nn.Module)  # optimizer: checked by optimizer_state_bytes
    activations = checks.integer(activations, "activations", minimum=0)
    gradients = checks.boolean(gradients, "gradients")

    seen, weights, grads = set(), 0, 0
    for p in model.parameters():
        if id(p) in seen:
            continue
        seen.add(id(p))
        weights += p.numel() * p.element_size()
        grads += p.numel() * p.element_size() if (p.requires_grad and gradients) else 0
    state = optimizer_state_bytes(optimizer) if optimizer is not None else 0
    out = {"weights": weights, "gradients": grads, "optimizer_state": state, "activations": int(activations)}
    out["total"] = sum(out.values())
    return out


__all__ = [
    "IGNORE_INDEX", "PRECISIONS", "LoopResult", "autocast", "check_finite", "count_items", "evaluate",
    "grad_scaler", "item_losses", "memory_breakdown", "naive_accumulated_mean", "predict", "resolve_precision",
    "saved_activation_bytes", "summed_loss", "token_weighted_mean", "train",
]
