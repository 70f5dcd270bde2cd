"""The fast mean-pooling classifier loop used by chapter 7 ("Fine-tuning strategies").

Scope: this module is chapter 7's experiment harness for *sequence classification* only -- a
(possibly layer-sliced) BERT encoder with mean pooling and a linear head
(:class:`MeanPoolingClassifier`), trained by a short PyTorch loop with hooks for augmentation,
NEFTune, distillation and FGM. It is not the general-purpose training loop of chapters 5-6
(``companion.loops``), and not the Hugging Face ``Trainer`` wrapper (``companion.training``).

The ``Trainer`` (``companion.training``) is the right tool for one long run. Chapter 7 instead runs
many short, controlled experiments that change one thing inside the step -- the data (augmentation),
the embeddings (NEFTune, adversarial perturbations), the loss (distillation) or the learning-rate
schedule -- so it uses this short loop, which a reader can read in full:

* :func:`load_classifier` -- a pretrained (or, for smoke, tiny random) BERT classifier, optionally cut
  to its first ``num_layers`` Transformer layers (:func:`keep_layers`);
* :func:`encode` -- token ids with the same truncation as :func:`companion.data.tokenize`;
* :func:`train_classifier` -- AdamW, a :class:`companion.schedulers.Schedule` stepped per optimiser
  step, gradient clipping, and optional text/token augmentation, NEFTune, distillation and FGM;
* :func:`predict_logits` -- batched inference (batches sorted by length, order preserved);
* :func:`lr_range_test` -- the learning-rate range test (Smith, WACV 2017).

Book sections: 7.1-7.4 ("Fine-tuning strategies").
"""

from __future__ import annotations

import math
import numbers
import time
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from . import schedulers
from .profiles import model_location

__all__ = ["MeanPoolingClassifier", "keep_layers", "load_classifier", "encode", "collate", "steps_per_run",
           "train_classifier", "predict_logits", "lr_range_test", "device_for"]


def device_for(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` -> CUDA if available, else CPU; anything else is passed to ``torch.device``."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def keep_layers(model: torch.nn.Module, num_layers: int) -> torch.nn.Module:
    """Keep only the first ``num_layers`` Transformer layers of a BERT-style model (in place).

    The embeddings, the pooler and the head are kept; ``model.config.num_hidden_layers`` is
    updated so the model saves and reloads correctly. This is how DistilBERT initialised its
    student from the teacher's layers (Sanh et al., 2019) and how we make small, fast, still
    pretrained models for the CPU profile.

    Returns:
        ``model``.

    Raises:
        TypeError: if the model has no ``base_model.encoder.layer`` list.
        ValueError: if ``num_layers`` is not in ``[1, current number of layers]``.
    """
    encoder = getattr(getattr(model, "base_model", None), "encoder", None)
    layers = getattr(encoder, "layer", None)
    if not isinstance(layers, torch.nn.ModuleList):
        raise TypeError(f"model: expected a BERT-style model with base_model.encoder.layer, got {type(model).__name__}")
    if isinstance(num_layers, bool) or not isinstance(num_layers, numbers.Integral) \
            or not 1 <= num_layers <= len(layers):
        raise ValueError(f"num_layers: expected an int in [1, {len(layers)}], got {num_layers!r}")
    encoder.layer = torch.nn.ModuleList(list(layers)[: int(num_layers)])
    model.config.num_hidden_layers = int(num_layers)
    return model


class MeanPoolingClassifier(torch.nn.Module):
    """A pretrained encoder, the mean of its last hidden states over the real (non-padding) tokens,
    dropout and a linear head.

    Sentence-embedding checkpoints such as all-MiniLM-L6-v2 were trained with mean pooling
    (Reimers & Gurevych, 2019); their ``[CLS]`` vector and pooler were never trained, and a
    classifier on ``[CLS]`` learns slowly from few examples, especially when only a few layers are
    kept. Mean pooling works for BERT as well.

    Behaves like a ``transformers`` sequence classifier where chapter 7 needs it: ``forward(input_ids,
    attention_mask, labels=None)`` returns a ``SequenceClassifierOutput`` (``logits`` of shape
    ``(batch, num_labels)``; ``loss`` when ``labels`` are given), and ``config``, ``base_model``
    and ``get_input_embeddings()`` are those of the encoder.
    """

    def __init__(self, encoder: torch.nn.Module, num_labels: int = 2, dropout: float | None = None):
        super().__init__()
        self.encoder = encoder
        self.config = encoder.config
        self.dropout = torch.nn.Dropout(self.config.hidden_dropout_prob if dropout is None else dropout)
        self.classifier = torch.nn.Linear(self.config.hidden_size, num_labels)

    @property
    def base_model(self) -> torch.nn.Module:
        return self.encoder

    def get_input_embeddings(self) -> torch.nn.Module:
        return self.encoder.get_input_embeddings()

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                token_type_ids: torch.Tensor | None = None, labels: torch.Tensor | None = None):
        from transformers.modeling_outputs import SequenceClassifierOutput

        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state
        weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * weights).sum(1) / weights.sum(1).clamp_min(1.0)
        logits = self.classifier(self.dropout(pooled))
        loss = F.cross_entropy(logits, labels) if labels is not None else None
        return SequenceClassifierOutput(loss=loss, logits=logits)


def load_classifier(model: str, *, tokenizer=None, texts: Sequence[str] | None = None, num_layers: int | None = None,
                    num_labels: int = 2, seed: int = 0, pooling: str = "cls"):
    """Return ``(model, tokenizer)``: a sequence classifier, optionally cut to ``num_layers`` layers.

    Args:
        model: ``"tiny-random-bert"`` (smoke: a randomly initialised tiny BERT), ``"minilm"`` or a
            hub id / directory (see :func:`companion.training.build_classifier`).
        tokenizer: reuse this tokenizer (the tiny model is then built for its vocabulary); if
            ``None`` it is loaded, or for the tiny model trained on ``texts``.
        texts: training texts for the smoke tokenizer.
        num_layers: keep only the first ``num_layers`` layers (``None``: all).
        num_labels: classes of the new head.
        seed: seed of the randomly initialised weights (the head; the whole tiny model).
        pooling: ``"cls"`` -- ``AutoModelForSequenceClassification`` (pooler on ``[CLS]``); ``"mean"``
            -- :class:`MeanPoolingClassifier` on the bare encoder.

    Raises:
        ValueError: if the tiny model has neither ``tokenizer`` nor ``texts``, a bad ``num_layers``
            or an unknown ``pooling``.
    """
    from transformers import AutoModel, AutoModelForSequenceClassification, BertForSequenceClassification, BertModel

    from .training import resolve_tokenizer, tiny_bert_config

    if pooling not in ("cls", "mean"):
        raise ValueError(f"pooling: expected 'cls' or 'mean', got {pooling!r}")
    tokenizer = resolve_tokenizer(model, tokenizer, texts)
    torch.manual_seed(seed)
    if model == "tiny-random-bert":
        config = tiny_bert_config(len(tokenizer), num_labels)
        net = BertForSequenceClassification(config) if pooling == "cls" else BertModel(config, add_pooling_layer=False)
    else:
        location = model_location(model)
        if pooling == "cls":
            net = AutoModelForSequenceClassification.from_pretrained(location, num_labels=num_labels)
        else:
            net = AutoModel.from_pretrained(location, add_pooling_layer=False)
    if pooling == "mean":
        torch.manual_seed(seed)
        net = MeanPoolingClassifier(net, num_labels)
    if num_layers is not None:
        keep_layers(net, num_layers)
    return net, tokenizer


def encode(tokenizer, texts: Sequence[str], max_length: int, head_tokens: int | None = None) -> list[list[int]]:
    """Token ids of each text, at most ``max_length`` of them, no padding.

    Plain truncation keeps the first ``max_length`` ids; with ``head_tokens=h`` a long text keeps its
    first ``h`` and last ``max_length - h`` ids ("head + tail", Sun et al. 2019), exactly as
    :func:`companion.data.tokenize` does.

    Raises:
        TypeError: if ``texts`` is a single string.
        ValueError: if ``max_length`` < 3 or ``head_tokens`` is not in ``[1, max_length - 2]``.
    """
    if isinstance(texts, str):
        raise TypeError("texts: expected a list of strings, got a single string")
    if not isinstance(max_length, numbers.Integral) or max_length < 3:
        raise ValueError(f"max_length: expected an int >= 3, got {max_length!r}")
    if head_tokens is None:
        return tokenizer(list(texts), truncation=True, max_length=max_length)["input_ids"]
    if not (isinstance(head_tokens, numbers.Integral) and 1 <= head_tokens <= max_length - 2):
        raise ValueError(f"head_tokens: expected an int in [1, {max_length - 2}], got {head_tokens!r}")
    ids = tokenizer(list(texts), truncation=False, verbose=False)["input_ids"]
    return [s if len(s) <= max_length else s[:head_tokens] + s[len(s) - (max_length - head_tokens):] for s in ids]


def collate(ids: Sequence[Sequence[int]], pad_id: int) -> dict[str, torch.Tensor]:
    """Pad a list of id lists to the longest: ``{"input_ids", "attention_mask"}``, int64, ``(batch, L)``."""
    if not ids:
        raise ValueError("ids: empty batch")
    width = max(len(s) for s in ids)
    input_ids = torch.full((len(ids), width), int(pad_id), dtype=torch.long)
    mask = torch.zeros((len(ids), width), dtype=torch.long)
    for i, s in enumerate(ids):
        input_ids[i, : len(s)] = torch.tensor(list(s), dtype=torch.long)
        mask[i, : len(s)] = 1
    return {"input_ids": input_ids, "attention_mask": mask}


def steps_per_run(n_examples: int, batch_size: int, epochs: int) -> int:
    """Optimiser steps of :func:`train_classifier`: ``epochs * ceil(n_examples / batch_size)``."""
    return int(epochs) * math.ceil(n_examples / batch_size)


def _param_groups(model, weight_decay):
    decay = [p for p in model.parameters() if p.requires_grad and p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.dim() < 2]
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def train_classifier(
    model: torch.nn.Module,
    tokenizer,
    texts: Sequence[str],
    labels: Sequence[int],
    *,
    schedule: schedulers.Schedule,
    epochs: int,
    batch_size: int,
    max_length: int,
    head_tokens: int | None = None,
    seed: int = 0,
    weight_decay: float = 0.01,
    max_grad_norm: float | None = 1.0,
    augment_text: Callable[[str, np.random.Generator], str] | None = None,
    augment_ids: Callable[[dict, torch.Generator], torch.Tensor] | None = None,
    neftune_alpha: float | None = None,
    teacher_logits: np.ndarray | torch.Tensor | None = None,
    temperature: float = 2.0,
    kd_weight: float = 0.5,
    fgm_epsilon: float | None = None,
    step_scheduler_every: str = "step",
    max_steps: int | None = None,
    on_step: Callable[[int, float], bool] | None = None,
    device: str | torch.device = "auto",
) -> dict:
    """Fine-tune ``model`` on ``(texts, labels)`` with AdamW and ``schedule``; return the history.

    One optimiser step per batch of ``batch_size`` examples, in a new seeded order each epoch.
    Options (each off by default) change one thing:

    * ``augment_text(text, rng) -> text``: applied to every training text each time it is drawn
      (e.g. :func:`companion.augmentation.eda`), before tokenisation;
    * ``augment_ids(batch, generator) -> input_ids``: applied to the padded batch (e.g.
      :func:`companion.augmentation.token_noise`);
    * ``neftune_alpha``: NEFTune noise on the input embeddings (:func:`companion.augmentation.add_neftune`);
    * ``teacher_logits`` (shape ``(n, classes)``, aligned with ``texts``): knowledge distillation,
      loss ``kd_weight * distillation_loss(T) + (1 - kd_weight) * cross-entropy``
      (:func:`companion.compression.distillation_loss`);
    * ``fgm_epsilon``: adversarial training with FGM on the word embeddings, loss ``clean + adversarial``
      (:class:`companion.ensembles.FGM`);
    * ``step_scheduler_every="epoch"``: step the scheduler once per epoch -- the classic mistake,
      kept so the book can show it.

    Args:
        model, tokenizer: a sequence classifier and its tokenizer.
        texts, labels: training data (``labels``: int class ids).
        schedule: learning rate per optimiser step; AdamW starts at ``schedule.base_lr``.
        epochs, batch_size, max_length, head_tokens: as in :func:`encode`.
        seed: seeds data order, dropout and all augmentation noise.
        weight_decay: AdamW decoupled weight decay on weight matrices (not biases or LayerNorm).
        max_grad_norm: clip the gradient norm (``None``: no clipping).
        max_steps: stop after this many optimiser steps.
        on_step: called as ``on_step(step, loss)`` after each step; returning ``True`` stops training.
        device: ``"auto"`` (CUDA if available) or a device.

    Returns:
        ``{"history": [{"step", "epoch", "lr", "loss"}...], "steps": int, "train_loss": float (mean
        of the last epoch's batch losses), "wall_s": float}``. The model is left in ``eval()`` mode.

    Raises:
        ValueError: if texts and labels differ in length, ``teacher_logits`` does not match them,
            ``epochs``/``batch_size`` < 1, ``kd_weight`` is not in [0, 1] or ``step_scheduler_every``
            is not ``"step"``/``"epoch"``.
        TypeError: if ``schedule`` is not a :class:`companion.schedulers.Schedule`.
    """
    from .augmentation import add_neftune
    from .compression import distillation_loss
    from .ensembles import FGM

    texts, labels = list(texts), np.asarray(labels, dtype=np.int64)
    if len(texts) != len(labels) or not texts:
        raise ValueError(f"labels: expected one label per text ({len(texts)} texts), got {len(labels)}")
    if not isinstance(schedule, schedulers.Schedule):
        raise TypeError(f"schedule: expected a companion.schedulers.Schedule, got {type(schedule).__name__}")
    for name, value in (("epochs", epochs), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(f"{name}: expected an int >= 1, got {value!r}")
    if step_scheduler_every not in ("step", "epoch"):
        raise ValueError(f"step_scheduler_every: expected 'step' or 'epoch', got {step_scheduler_every!r}")
    if not 0 <= kd_weight <= 1:
        raise ValueError(f"kd_weight: expected a weight in [0, 1], got {kd_weight!r}")
    if teacher_logits is not None:
        teacher_logits = torch.as_tensor(np.asarray(teacher_logits), dtype=torch.float32)
        if teacher_logits.dim() != 2 or len(teacher_logits) != len(texts):
            raise ValueError(f"teacher_logits: expected shape ({len(texts)}, num_classes), got "
                             f"{tuple(teacher_logits.shape)}")

    dev = device_for(device)
    model.to(dev)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    noise_gen = torch.Generator().manual_seed(seed)
    fixed_ids = None if augment_text is not None else encode(tokenizer, texts, max_length, head_tokens)
    optimizer = torch.optim.AdamW(_param_groups(model, weight_decay), lr=schedule.base_lr)
    scheduler = schedulers.to_lambda_lr(optimizer, schedule)
    hook = add_neftune(model, neftune_alpha) if neftune_alpha else None
    fgm = FGM(model, fgm_epsilon) if fgm_epsilon else None
    history, step, start, stop = [], 0, time.perf_counter(), False
    try:
        model.train()
        for epoch in range(int(epochs)):
            order = rng.permutation(len(texts))
            epoch_losses = []
            for b in range(0, len(order), batch_size):
                idx = order[b: b + batch_size]
                if fixed_ids is None:
                    ids = encode(tokenizer, [augment_text(texts[i], rng) for i in idx], max_length, head_tokens)
                else:
                    ids = [fixed_ids[i] for i in idx]
                batch = collate(ids, tokenizer.pad_token_id)
                if augment_ids is not None:
                    batch["input_ids"] = augment_ids(batch, noise_gen)
                batch = {k: v.to(dev) for k, v in batch.items()}
                y = torch.as_tensor(labels[idx], device=dev)

                def loss_of(logits):
                    ce = F.cross_entropy(logits, y)
                    if teacher_logits is None:
                        return ce
                    kd = distillation_loss(logits, teacher_logits[idx].to(dev), temperature)
                    return kd_weight * kd + (1 - kd_weight) * ce

                lr = optimizer.param_groups[0]["lr"]
                if fgm is None:
                    loss = loss_of(model(**batch).logits)
                    loss.backward()
                else:
                    with fgm.watch():
                        loss = loss_of(model(**batch).logits)
                    loss.backward()
                    with fgm.perturb():
                        adversarial = loss_of(model(**batch).logits)
                    adversarial.backward()
                if max_grad_norm is not None:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                if step_scheduler_every == "step":
                    scheduler.step()
                step += 1
                value = float(loss.detach())
                epoch_losses.append(value)
                history.append({"step": step, "epoch": epoch + 1, "lr": lr, "loss": value})
                if (on_step is not None and on_step(step, value)) or (max_steps is not None and step >= max_steps):
                    stop = True
                    break
            if step_scheduler_every == "epoch":
                scheduler.step()
            if stop:
                break
    finally:
        if hook is not None:
            hook.remove()
        model.eval()
    return {"history": history, "steps": step, "train_loss": float(np.mean(epoch_losses)),
            "wall_s": time.perf_counter() - start}


@torch.no_grad()
def predict_logits(model: torch.nn.Module, ids: Sequence[Sequence[int]], pad_id: int, batch_size: int = 64,
                   device: str | torch.device = "auto") -> np.ndarray:
    """Logits of ``model`` for pre-encoded examples (see :func:`encode`), shape ``(n, classes)``, float32.

    Batches are formed from examples of similar length (less padding); rows come back in the input
    order. The model is put in ``eval()`` mode.

    Raises:
        ValueError: if ``ids`` is empty or ``batch_size`` < 1.
    """
    if len(ids) == 0:
        raise ValueError("ids: no examples")
    if not isinstance(batch_size, numbers.Integral) or batch_size < 1:
        raise ValueError(f"batch_size: expected an int >= 1, got {batch_size!r}")
    dev = device_for(device)
    model.eval()
    order = np.argsort([len(s) for s in ids], kind="stable")
    out = [None] * len(ids)
    for b in range(0, len(order), batch_size):
        idx = order[b: b + batch_size]
        batch = {k: v.to(dev) for k, v in collate([ids[i] for i in idx], pad_id).items()}
        logits = model(**batch).logits.float().cpu().numpy()
        for i, row in zip(idx, logits):
            out[i] = row
    return np.stack(out).astype(np.float32)


def lr_range_test(model, tokenizer, texts, labels, *, min_lr: float = 1e-7, max_lr: float = 1.0,
                  num_steps: int = 60, batch_size: int = 16, max_length: int = 128, head_tokens: int | None = None,
                  seed: int = 0, divergence: float = 4.0, device: str | torch.device = "auto") -> dict:
    """The learning-rate range test (Smith, WACV 2017): train with a rate that grows exponentially
    from ``min_lr`` to ``max_lr`` over ``num_steps`` steps and record the loss at each rate.

    Stops early once the loss exceeds ``divergence`` times the lowest loss seen. The model's
    weights are changed (use a copy). Read the result with :func:`companion.schedulers.suggest_lr`.

    Returns:
        ``{"lr": np.ndarray, "loss": np.ndarray, "wall_s": float}`` (one entry per step taken).
    """
    sweep = schedulers.exponential_range(min_lr, max_lr, num_steps)
    best = [math.inf]

    def diverged(step, loss):
        best[0] = min(best[0], loss)
        return not math.isfinite(loss) or loss > divergence * best[0]

    epochs = math.ceil(num_steps / math.ceil(len(texts) / batch_size))
    run = train_classifier(model, tokenizer, texts, labels, schedule=sweep, epochs=epochs, batch_size=batch_size,
                           max_length=max_length, head_tokens=head_tokens, seed=seed, weight_decay=0.0,
                           max_steps=num_steps, on_step=diverged, device=device)
    return {"lr": np.array([h["lr"] for h in run["history"]]), "loss": np.array([h["loss"] for h in run["history"]]),
            "wall_s": run["wall_s"]}
