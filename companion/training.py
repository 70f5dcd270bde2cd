"""A thin layer over the Hugging Face ``Trainer`` (transformers 5 names throughout).

* :func:`build_classifier` -- the model and tokenizer a profile asks for (a tiny random BERT with a
  freshly trained WordPiece tokenizer for ``smoke``; pretrained weights otherwise).
* :func:`training_arguments` -- ``TrainingArguments`` with the book's defaults: ``eval_strategy``,
  AdamW (``torch.optim.AdamW``), linear decay with warm-up, periodic checkpoints, no reporting
  integrations, progress bars only when interactive.
* :func:`make_trainer` / :func:`fit` -- a ``Trainer`` that stops on a non-finite loss, and a
  training call that resumes from the last *complete* checkpoint in ``output_dir``, so that a
  Colab disconnect costs only the steps since the last save.

Book section: the text-classification case (8.1), "Fine-tuning with the Trainer".
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
import time
from pathlib import Path

import torch
from torch.utils.data import SequentialSampler
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    BertConfig,
    BertForSequenceClassification,
    DataCollatorWithPadding,
    PrinterCallback,
    Trainer,
    TrainingArguments,
)

from .profiles import model_location, resolve_precision

_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
TINY_BERT = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                 max_position_embeddings=128)


def quiet() -> None:
    """Silence library chatter that would clutter committed notebook outputs.

    Sets ``transformers`` and ``datasets`` logging to errors only and turns off ``datasets``
    progress bars. Warnings that matter are still raised as errors by our own code.
    """
    import warnings

    import datasets
    import transformers

    warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    datasets.logging.set_verbosity_error()
    datasets.disable_progress_bars()


def interactive() -> bool:
    """True on Colab or when ``$COMPANION_PROGRESS`` is ``1``: then training shows progress bars.

    Executed notebooks (papermill, nbval, CI) keep progress bars out of their stored outputs.
    """
    return "google.colab" in sys.modules or os.environ.get("COMPANION_PROGRESS") == "1"


def tiny_bert_config(vocab_size: int, num_labels: int = 2, **overrides) -> BertConfig:
    """A BERT config small enough to train in seconds on a CPU (hidden 32, 2 layers, 2 heads).

    Raises:
        ValueError: if ``vocab_size`` or ``num_labels`` is not a positive int.
    """
    for name, value in (("vocab_size", vocab_size), ("num_labels", num_labels)):
        if not isinstance(value, int) or value <= 0:
            raise ValueError(f"{name}: expected a positive int, got {value!r}")
    return BertConfig(vocab_size=vocab_size, num_labels=num_labels, **{**TINY_BERT, **overrides})


def resolve_tokenizer(model: str, tokenizer=None, texts=None):
    """The tokenizer for ``model``: ``tokenizer`` itself if given; for ``"tiny-random-bert"`` (smoke
    profile) a WordPiece vocabulary of 2,000 trained on ``texts``; otherwise the pretrained model's own
    tokenizer (``"minilm"``, a hub id or a directory, see :func:`companion.profiles.model_location`).

    Raises:
        ValueError: if ``model`` is ``"tiny-random-bert"`` and neither ``tokenizer`` nor ``texts`` is given.
    """
    from .data import train_wordpiece_tokenizer

    if tokenizer is not None:
        return tokenizer
    if model == "tiny-random-bert":
        if texts is None:
            raise ValueError("texts: the tiny random BERT needs texts (or a tokenizer) to train its tokenizer")
        return train_wordpiece_tokenizer(texts, vocab_size=2000)
    return AutoTokenizer.from_pretrained(model_location(model))


def build_classifier(model: str, *, num_labels: int = 2, texts=None, seed: int = 0):
    """Return ``(model, tokenizer)`` for sequence classification.

    Args:
        model: ``"tiny-random-bert"`` (smoke: a randomly initialised tiny BERT and a WordPiece
            tokenizer trained on ``texts``), ``"minilm"`` (the offline MiniLM, see
            :func:`companion.profiles.minilm_path`), or any hub id / local directory.
        num_labels: number of classes of the new classification head.
        texts: training texts for the smoke tokenizer (required for ``"tiny-random-bert"``).
        seed: seed for the randomly initialised weights (the whole tiny model, or the new head).

    Returns:
        A ``BertForSequenceClassification``-like model (float32, on CPU) and its tokenizer.

    Raises:
        ValueError: if ``model`` is ``"tiny-random-bert"`` and ``texts`` is missing.
    """
    tokenizer = resolve_tokenizer(model, texts=texts)
    torch.manual_seed(seed)
    if model == "tiny-random-bert":
        return BertForSequenceClassification(tiny_bert_config(len(tokenizer), num_labels)), tokenizer
    net = AutoModelForSequenceClassification.from_pretrained(model_location(model), num_labels=num_labels)
    return net, tokenizer


def check_optimisation_arguments(learning_rate, batch_size, epochs, max_steps: int = -1) -> None:
    """Validate the optimisation numbers shared by our ``TrainingArguments`` builders.

    Raises:
        ValueError: ``learning_rate`` is not a positive number, ``batch_size`` not a positive int, or
            ``epochs`` not a positive number while ``max_steps`` is unset (<= 0); the message names it.
    """
    import numbers

    def positive_number(x):
        return isinstance(x, numbers.Real) and not isinstance(x, bool) and x > 0

    if not positive_number(learning_rate):
        raise ValueError(f"learning_rate: expected a number > 0, got {learning_rate!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
        raise ValueError(f"batch_size: expected a positive int, got {batch_size!r}")
    if isinstance(max_steps, bool) or not isinstance(max_steps, numbers.Integral):
        raise ValueError(f"max_steps: expected an int (-1: train for `epochs`), got {max_steps!r}")
    if max_steps <= 0 and not positive_number(epochs):
        raise ValueError(f"epochs: expected a number > 0 when max_steps is not set, got {epochs!r}")


def training_arguments(
    output_dir: str | os.PathLike,
    *,
    learning_rate: float,
    batch_size: int,
    epochs: float = 1.0,
    max_steps: int = -1,
    precision: str = "fp32",
    seed: int = 0,
    warmup: float = 0.06,
    weight_decay: float = 0.01,
    save_steps: int | None = None,
    logging_steps: int = 10,
    eval_strategy: str = "no",
    group_by_length: bool = True,
    **overrides,
) -> TrainingArguments:
    """``TrainingArguments`` with the book's defaults.

    Args:
        output_dir: where checkpoints go (``checkpoint-<step>`` subdirectories).
        learning_rate: peak learning rate of ``torch.optim.AdamW`` (linear warm-up then linear decay).
        batch_size: examples per device per optimiser step (train and eval).
        epochs: passes over the training set (ignored when ``max_steps`` > 0).
        max_steps: total optimiser steps, or -1 to use ``epochs``.
        precision: ``"fp32"``, ``"fp16"``, ``"bf16"`` or ``"auto"`` (see
            :func:`companion.profiles.resolve_precision`).
        seed: seed of model init, dropout and data order.
        warmup: warm-up length as a fraction of all steps (< 1) or a number of steps.
        weight_decay: decoupled weight decay of AdamW (Loshchilov & Hutter, ICLR 2019).
        save_steps: save a checkpoint every this many steps (``None``: only at the end).
        logging_steps: log the training loss every this many steps.
        eval_strategy: ``"no"``, ``"steps"`` or ``"epoch"``.
        group_by_length: batch examples of similar length together (less padding; the
            ``"group_by_length"`` training sampler).
        **overrides: any other ``TrainingArguments`` field.

    Raises:
        ValueError: for a non-positive ``learning_rate``, ``batch_size`` or ``epochs``, or a bad
            ``precision``.
    """
    check_optimisation_arguments(learning_rate, batch_size, epochs, max_steps)
    precision = resolve_precision(precision)
    kwargs = dict(
        output_dir=str(output_dir),
        learning_rate=learning_rate,
        per_device_train_batch_size=batch_size,
        per_device_eval_batch_size=batch_size * 2,
        num_train_epochs=epochs,
        max_steps=max_steps,
        warmup_steps=warmup,
        weight_decay=weight_decay,
        lr_scheduler_type="linear",
        optim="adamw_torch",
        fp16=precision == "fp16",
        bf16=precision == "bf16",
        seed=seed,
        eval_strategy=eval_strategy,
        save_strategy="steps" if save_steps else "no",
        save_steps=save_steps or 500,
        logging_strategy="steps",
        logging_steps=logging_steps,
        logging_nan_inf_filter=False,
        report_to="none",
        disable_tqdm=not interactive(),
        train_sampling_strategy="group_by_length" if group_by_length else "random",
        dataloader_num_workers=0,
        use_cpu=not torch.cuda.is_available(),
    )
    kwargs.update(overrides)
    return TrainingArguments(**kwargs)


class GuardedTrainer(Trainer):
    """A ``Trainer`` that stops at the first non-finite training loss and predicts in dataset order.

    * fp16 overflows above 65,504; a NaN/inf loss otherwise keeps training on garbage (and
      ``logging_nan_inf_filter`` would hide it from the logs). Raises ``FloatingPointError`` naming
      the step.
    * With ``train_sampling_strategy="group_by_length"``, transformers 5 also groups *evaluation*
      batches by length, so ``predict(ds).predictions[i]`` is not the prediction for ``ds[i]``
      (``label_ids`` are permuted the same way, so the Trainer's own metrics stay right, but
      aligning predictions with your own labels gives chance-level nonsense). Evaluation here always
      runs in dataset order.
    """

    def _get_eval_sampler(self, eval_dataset):
        if eval_dataset is None or not hasattr(eval_dataset, "__len__"):
            return None
        return SequentialSampler(eval_dataset)

    def training_step(self, model, inputs, num_items_in_batch=None):
        loss = super().training_step(model, inputs, num_items_in_batch)
        if not torch.isfinite(loss.detach()).all():
            raise FloatingPointError(
                f"non-finite training loss ({loss.item()}) at step {self.state.global_step + 1}; "
                "lower the learning rate, use bf16 instead of fp16, or check the inputs"
            )
        return loss


def make_trainer(model, args: TrainingArguments, train_dataset, eval_dataset=None, tokenizer=None,
                 compute_metrics=None, callbacks=None) -> GuardedTrainer:
    """A :class:`GuardedTrainer` with dynamic padding (``DataCollatorWithPadding``).

    ``tokenizer`` is passed as ``processing_class`` (the transformers 5 name) and is saved with
    each checkpoint. The training log is kept in ``trainer.state.log_history`` instead of being
    printed (progress bars still show when :func:`interactive`).
    """
    collator = DataCollatorWithPadding(tokenizer) if tokenizer is not None else None
    trainer = GuardedTrainer(model=model, args=args, train_dataset=train_dataset, eval_dataset=eval_dataset,
                             processing_class=tokenizer, data_collator=collator,
                             compute_metrics=compute_metrics, callbacks=callbacks)
    # Without progress bars the Trainer prints every log dict; the history stays in trainer.state.log_history.
    trainer.remove_callback(PrinterCallback)
    return trainer


def _checkpoint_state(path: Path) -> dict | None:
    """The checkpoint's ``trainer_state.json`` if it was completely written, else ``None``."""
    try:
        state = json.loads((path / "trainer_state.json").read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(state, dict) or not isinstance(state.get("global_step"), int):
        return None
    weights = [f for f in path.iterdir() if f.suffix in (".safetensors", ".bin")]
    if not weights or any(f.stat().st_size == 0 for f in weights):
        return None
    return state


def last_complete_checkpoint(output_dir: str | os.PathLike) -> str | None:
    """The ``checkpoint-<step>`` directory with the highest step that was completely written.

    The ``Trainer`` writes ``trainer_state.json`` last, so a checkpoint without a readable one (a JSON
    object with an integer ``global_step``), or with no or an empty weights file, was interrupted
    mid-save and is skipped (``transformers.trainer_utils.get_last_checkpoint`` would pick it and the
    resume would fail).

    Returns:
        The checkpoint's path, or ``None`` when ``output_dir`` does not exist yet or holds none.

    Raises:
        TypeError: ``output_dir`` is not a path.
        NotADirectoryError: ``output_dir`` exists but is a file.
    """
    if not isinstance(output_dir, (str, os.PathLike)):
        raise TypeError(f"output_dir: expected a path, got {type(output_dir).__name__}")
    root = Path(output_dir)
    if root.exists() and not root.is_dir():
        raise NotADirectoryError(f"output_dir: {root} is a file, not a directory of checkpoints")
    if not root.is_dir():
        return None
    found = []
    for path in root.iterdir():
        m = _CHECKPOINT.match(path.name)
        if m and path.is_dir() and _checkpoint_state(path) is not None:
            found.append((int(m.group(1)), path))
    return str(max(found)[1]) if found else None


def fit(trainer: Trainer, resume: bool = True) -> dict:
    """Train, resuming from the last complete checkpoint in ``trainer.args.output_dir`` if any.

    If that checkpoint already holds the whole run (its ``global_step`` reaches the planned number of
    optimiser steps), nothing is trained: its weights are loaded into ``trainer.model`` and
    ``train_loss`` is ``None`` (the checkpoint does not store the run's mean loss). Resuming such a run
    with ``Trainer.train`` would take one extra optimiser step past ``max_steps``.

    Returns:
        ``{"train_loss": float | None, "steps": int, "wall_s": float (seconds, this call only),
        "resumed_from": str | None}``.

    Raises:
        TypeError: ``trainer`` is not a ``transformers.Trainer``.
    """
    if not isinstance(trainer, Trainer):
        raise TypeError(f"trainer: expected a transformers.Trainer, got {type(trainer).__name__}")
    checkpoint = last_complete_checkpoint(trainer.args.output_dir) if resume else None
    start = time.perf_counter()
    if checkpoint is not None:
        done = _checkpoint_state(Path(checkpoint))["global_step"]
        planned = trainer.set_initial_training_values(trainer.args, trainer.get_train_dataloader())[-1]
        if done >= planned:
            trainer._load_from_checkpoint(checkpoint)
            return {"train_loss": None, "steps": done, "wall_s": time.perf_counter() - start,
                    "resumed_from": checkpoint}
    out = trainer.train(resume_from_checkpoint=checkpoint)
    wall = time.perf_counter() - start
    return {"train_loss": float(out.training_loss), "steps": int(out.global_step),
            "wall_s": wall, "resumed_from": checkpoint}


def count_parameters(model: torch.nn.Module) -> tuple[int, int]:
    """``(trainable, total)`` parameter counts (elements, each shared tensor counted once)."""
    seen, trainable, total = set(), 0, 0
    for p in model.parameters():
        if id(p) in seen:
            continue
        seen.add(id(p))
        total += p.numel()
        trainable += p.numel() if p.requires_grad else 0
    return trainable, total


def steps_per_epoch(n_examples: int, batch_size: int) -> int:
    """Optimiser steps in one epoch: ``ceil(n_examples / batch_size)``.

    Raises:
        ValueError: ``n_examples`` is not a positive integer, or ``batch_size`` is not.
    """
    for name, value in (("n_examples", n_examples), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name}: expected a positive integer, got {value!r}")
    return math.ceil(n_examples / batch_size)


def cpu_name() -> str:
    """The CPU model name from ``/proc/cpuinfo`` (Linux), else ``platform.processor()``/machine."""
    import platform

    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def provenance(start: float, profile: str, extra_packages=("datasets", "peft", "sklearn")) -> str:
    """A few lines recording how a notebook's outputs were produced, for its last cell.

    Args:
        start: ``time.perf_counter()`` taken at the top of the notebook.
        profile: the profile that ran.
        extra_packages: modules whose ``__version__`` is listed after python, torch, transformers.

    Returns:
        Text with the profile, device (GPU name or CPU model), thread count, package versions and
        the notebook's wall time in seconds.
    """
    import importlib
    import platform

    import transformers

    import companion

    device = f"GPU {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else f"CPU {cpu_name()}"
    versions = [f"python {platform.python_version()}", f"torch {torch.__version__}",
                f"transformers {transformers.__version__}"]
    for name in extra_packages:
        try:
            versions.append(f"{name} {importlib.import_module(name).__version__}")
        except ImportError:
            versions.append(f"{name} (not installed)")
    versions.append(f"companion {companion.__version__}")
    return (f"profile {profile}; {device}; {torch.get_num_threads()} torch threads, {os.cpu_count()} logical CPUs\n"
            + ", ".join(versions) + f"\nnotebook wall time: {time.perf_counter() - start:.0f} s")
