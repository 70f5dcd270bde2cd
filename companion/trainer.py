"""The one layer over the Hugging Face ``Trainer``, for classification and translation alike.

* :func:`training_arguments` -- ``TrainingArguments`` (or ``Seq2SeqTrainingArguments`` with
  ``seq2seq=True``) with the book's defaults: AdamW (``torch.optim.AdamW``), linear decay with
  warm-up, periodic checkpoints, no reporting integrations, progress bars only when interactive;
* :func:`make_trainer` -- a :class:`GuardedTrainer`: it stops at the first non-finite loss, evaluates
  in dataset order, and draws each epoch's training order from ``(seed, epoch)`` only
  (:class:`companion.data.EpochSampler`, length-grouped by default);
* :func:`fit` -- train, resuming from the last *complete* checkpoint, so that a Colab disconnect costs
  only the steps since the last save and the resumed run ends with exactly the weights of an
  uninterrupted one; a run directory that holds a run of another configuration is refused;
* :func:`last_complete_checkpoint` -- the newest checkpoint with everything a resume needs.

Book sections: the text-classification case (8.1, "Fine-tuning with the Trainer", "Surviving a
disconnect"), the translation case (8.2), chapter 6.1 (the Trainer is the loop of :mod:`companion.loop`).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import struct
import time
import zipfile
from collections.abc import Mapping
from pathlib import Path

import torch
from torch.utils.data import SequentialSampler

from . import checks
from .book import interactive
from .data.text import EpochSampler, _padding_collator
from .loop import _check_dataset_inputs, resolve_precision

_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
#: What a checkpoint must hold for an exact resume (besides the model weights).
RESUME_FILES = ("trainer_state.json", "optimizer.pt", "scheduler.pt", "rng_state.pth")
RUN_CONFIG = "run_config.json"


# ---------------------------------------------------------------------------- arguments
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
    seq2seq: bool = False,
    generation_max_length: int = 64,
    generation_num_beams: int = 1,
    **overrides,
):
    """``TrainingArguments`` with the book's defaults (``Seq2SeqTrainingArguments`` if ``seq2seq``).

    Args:
        output_dir: where checkpoints go (``checkpoint-<step>`` subdirectories).
        learning_rate: peak learning rate of AdamW (linear warm-up, then linear decay to 0).
        batch_size: examples per optimiser step (evaluation uses twice as many).
        epochs: passes over the training set (ignored when ``max_steps`` > 0).
        max_steps: total optimiser steps, or -1 to use ``epochs``.
        precision: ``"fp32"``, ``"fp16"``, ``"bf16"`` or ``"auto"`` (:func:`companion.loop.resolve_precision`);
            fp16/bf16 need a CUDA device here.
        seed: seed of model init, dropout and data order.
        warmup: warm-up as a fraction of all steps (< 1) or a number of steps (>= 1).
        weight_decay: AdamW's decoupled weight decay (Loshchilov & Hutter, ICLR 2019); biases and
            LayerNorm weights get none (the ``Trainer``'s rule, :func:`companion.optimizers.param_groups`).
        save_steps: a checkpoint every this many steps (``None``: none); must be a multiple of
            ``logging_steps`` so that a resumed run can report the whole run's mean loss.
        logging_steps: log the training loss every this many steps.
        eval_strategy: ``"no"``, ``"steps"`` or ``"epoch"``.
        group_by_length: batches of similar length (less padding), order drawn from ``(seed, epoch)``.
        seq2seq: ``Seq2SeqTrainingArguments`` with ``predict_with_generate=True``: evaluation generates
            (up to ``generation_max_length`` tokens, ``generation_num_beams`` beams) so ``compute_metrics``
            can score BLEU.
        **overrides: any other field of the arguments class.

    Raises:
        TypeError / ValueError: a bad number (named), a ``save_steps`` that is not a multiple of
            ``logging_steps``, low precision without CUDA.
    """
    from transformers import Seq2SeqTrainingArguments, TrainingArguments

    if not isinstance(output_dir, (str, os.PathLike)):
        raise TypeError(f"output_dir: expected a path, got {type(output_dir).__name__}")
    if Path(output_dir).exists() and not Path(output_dir).is_dir():
        raise NotADirectoryError(f"output_dir: {output_dir} is a file, not a directory for checkpoints")
    learning_rate = checks.number(learning_rate, "learning_rate", minimum=0, strict_minimum=True)
    batch_size = checks.integer(batch_size, "batch_size")
    max_steps = checks.integer(max_steps, "max_steps", minimum=-1)
    if max_steps == 0:
        raise ValueError("max_steps: expected a positive int, or -1 to train for `epochs`")
    if max_steps < 0:
        epochs = checks.number(epochs, "epochs", minimum=0, strict_minimum=True)
    warmup = checks.number(warmup, "warmup", minimum=0)
    weight_decay = checks.number(weight_decay, "weight_decay", minimum=0)
    seed = checks.integer(seed, "seed", minimum=0)
    logging_steps = checks.integer(logging_steps, "logging_steps")
    if save_steps is not None:
        save_steps = checks.integer(save_steps, "save_steps")
        if save_steps % logging_steps:
            raise ValueError(f"save_steps: {save_steps} is not a multiple of logging_steps={logging_steps} "
                             "(a resumed run could not report the whole run's loss)")
    checks.one_of(eval_strategy, "eval_strategy", ("no", "steps", "epoch"))
    checks.boolean(group_by_length, "group_by_length")
    checks.boolean(seq2seq, "seq2seq")
    precision = resolve_precision(precision, "cuda" if torch.cuda.is_available() else "cpu")
    if precision != "fp32" and not torch.cuda.is_available():
        raise ValueError(f"precision: {precision!r} training with the Trainer needs a CUDA device here; use 'fp32' "
                         "(or the plain loop of companion.loop, which can autocast on a CPU)")
    kwargs = dict(
        output_dir=str(output_dir), learning_rate=learning_rate, per_device_train_batch_size=batch_size,
        per_device_eval_batch_size=batch_size * 2, num_train_epochs=epochs, max_steps=max_steps,
        warmup_steps=warmup, weight_decay=weight_decay, lr_scheduler_type="linear", optim="adamw_torch",
        fp16=precision == "fp16", bf16=precision == "bf16", seed=seed, eval_strategy=eval_strategy,
        save_strategy="steps" if save_steps else "no", save_steps=save_steps or 500, logging_strategy="steps",
        logging_steps=logging_steps, logging_nan_inf_filter=False, report_to="none", disable_tqdm=not interactive(),
        train_sampling_strategy="group_by_length" if group_by_length else "random", dataloader_num_workers=0,
        use_cpu=not torch.cuda.is_available(),
    )
    if seq2seq:
        kwargs.update(predict_with_generate=True,
                      generation_max_length=checks.integer(generation_max_length, "generation_max_length"),
                      generation_num_beams=checks.integer(generation_num_beams, "generation_num_beams"))
    kwargs.update(overrides)
    return (Seq2SeqTrainingArguments if seq2seq else TrainingArguments)(**kwargs)


# ---------------------------------------------------------------------------- the trainer
def _trainer_class(seq2seq: bool):
    from transformers import Seq2SeqTrainer, Trainer

    base = Seq2SeqTrainer if seq2seq else Trainer

    class GuardedTrainer(base):
        """A ``Trainer`` that

        * stops at the first non-finite training loss (``FloatingPointError`` naming the step: fp16
          overflows above 65,504; ``logging_nan_inf_filter`` would otherwise hide it);
        * evaluates and predicts in dataset order (transformers 5 groups *evaluation* batches by length
          too when ``group_by_length`` is on, so ``predict(ds).predictions[i]`` would not belong to
          ``ds[i]``);
        * draws each epoch's training order from ``(seed, epoch)`` only (:class:`EpochSampler`), so a
          run resumed in any epoch trains exactly the batches the uninterrupted run trained (the
          library's ``LengthGroupedSampler`` draws from the global random state before a resume
          restores it); ``train_sampling_strategy="sequential"`` keeps the dataset's order.
        """

        def _get_train_sampler(self, train_dataset=None):
            dataset = self.train_dataset if train_dataset is None else train_dataset
            strategy = self.args.train_sampling_strategy
            if dataset is None or not hasattr(dataset, "__len__") or strategy not in ("random", "sequential",
                                                                                      "group_by_length"):
                return super()._get_train_sampler(train_dataset)
            lengths = None
            if strategy == "group_by_length":
                if hasattr(dataset, "column_names") and "length" in dataset.column_names:
                    lengths = list(dataset["length"])
                else:
                    lengths = [len(row["input_ids"]) for row in dataset]
            self._epoch_sampler = EpochSampler(
                len(dataset), batch_size=self.args.train_batch_size * self.args.gradient_accumulation_steps,
                shuffle=strategy != "sequential", seed=self.args.seed, lengths=lengths)
            return self._epoch_sampler

        def _run_epoch(self, *args, **kwargs):
            epoch = kwargs.get("epoch", args[1] if len(args) > 1 else None)
            sampler = getattr(self, "_epoch_sampler", None)
            if sampler is not None and epoch is not None:
                sampler.set_epoch(int(epoch))
            return super()._run_epoch(*args, **kwargs)

        def _get_eval_sampler(self, eval_dataset):
            if eval_dataset is None or not hasattr(eval_dataset, "__len__"):
                return None
            return SequentialSampler(eval_dataset)

        def training_step(self, model, inputs, num_items_in_batch=None):
            loss = super().training_step(model, inputs, num_items_in_batch)
            if not torch.isfinite(loss.detach()).all():
                labels = inputs.get("labels") if isinstance(inputs, Mapping) else None
                if isinstance(labels, torch.Tensor) and not labels.is_floating_point() and bool((labels == -100).all()):
                    raise ValueError(f"labels: every label of the batch at step {self.state.global_step + 1} equals "
                                     "ignore_index (-100), so its loss is 0/0; there is no label to learn from "
                                     "(were the labels aligned to the tokens?)")
                raise FloatingPointError(
                    f"non-finite training loss ({loss.item()}) at step {self.state.global_step + 1}; "
                    "lower the learning rate, use bf16 instead of fp16, or check the inputs")
            return loss

    GuardedTrainer.__name__ = GuardedTrainer.__qualname__ = ("GuardedSeq2SeqTrainer" if seq2seq else "GuardedTrainer")
    return GuardedTrainer


def make_trainer(model, args, train_dataset, eval_dataset=None, tokenizer=None, *, compute_metrics=None,
                 optimizers=(None, None), data_collator=None, callbacks=None):
    """A :class:`GuardedTrainer` (or its ``Seq2SeqTrainer`` form when ``args`` are seq2seq arguments).

    Padding is dynamic: ``DataCollatorWithPadding(tokenizer)`` for classification;
    ``DataCollatorForSeq2Seq`` for seq2seq (pads ``labels`` with -100 and builds ``decoder_input_ids``
    from them with the model's own shift). ``tokenizer`` is passed as ``processing_class`` (the
    transformers 5 name) and saved with each checkpoint. ``optimizers`` may carry ``(optimizer,
    scheduler)``, e.g. per-group learning rates from :func:`companion.optimizers.param_groups`. The
    training log stays in ``trainer.state.log_history`` instead of being printed.

    Raises:
        TypeError: ``args`` are not ``TrainingArguments``.
    """
    from transformers import DataCollatorForSeq2Seq, PrinterCallback, Seq2SeqTrainingArguments, TrainingArguments

    if not isinstance(args, TrainingArguments):
        raise TypeError(f"args: expected TrainingArguments (see training_arguments), got {type(args).__name__}")
    seq2seq = isinstance(args, Seq2SeqTrainingArguments)
    if data_collator is None and tokenizer is not None:
        if seq2seq:
            pad8 = 8 if (args.fp16 or args.bf16) else None  # tensor cores like multiples of 8
            data_collator = DataCollatorForSeq2Seq(tokenizer, model=model, label_pad_token_id=-100,
                                                   pad_to_multiple_of=pad8)
        else:
            data_collator = _padding_collator(tokenizer)  # DataCollatorWithPadding, also for lists of np.int64
    trainer = _trainer_class(seq2seq)(
        model=model, args=args, train_dataset=train_dataset, eval_dataset=eval_dataset, processing_class=tokenizer,
        data_collator=data_collator, compute_metrics=compute_metrics, callbacks=callbacks, optimizers=optimizers)
    trainer.remove_callback(PrinterCallback)
    return trainer


# ---------------------------------------------------------------------------- checkpoints
def _safetensors_ok(path: Path) -> bool:
    """A safetensors file whose header parses and whose size matches the tensors it declares."""
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            head = f.read(8)
            if len(head) < 8:
                return False
            (n,) = struct.unpack("<Q", head)
            if n <= 1 or 8 + n > size:
                return False
            header = json.loads(f.read(n))
        end = max((v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"), default=0)
        return 8 + n + end == size
    except (OSError, ValueError, KeyError, TypeError, struct.error):
        return False


def _torch_file_ok(path: Path) -> bool:
    """A ``torch.save`` file (a zip archive) that is whole: every member present and its CRC right.

    Checked without unpickling anything (``rng_state.pth`` holds NumPy objects that ``weights_only``
    loading refuses, and a checker should not execute pickles).
    """
    try:
        with zipfile.ZipFile(path) as archive:
            return bool(archive.namelist()) and archive.testzip() is None
    except (OSError, zipfile.BadZipFile, ValueError):
        return False


def _checked_path(value, name: str) -> Path:
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{name}: expected a path, got {type(value).__name__}")
    return Path(value)


def _checked_max_steps(max_steps) -> int | None:
    return None if max_steps is None else checks.integer(max_steps, "max_steps", minimum=-1)


def checkpoint_problem(path: str | os.PathLike, max_steps: int | None = None) -> str | None:
    """Why the checkpoint directory ``path`` cannot be resumed from exactly, or ``None`` if it can.

    Complete means: ``trainer_state.json`` parses with an integer ``global_step`` with
    ``0 < global_step <= max_steps`` (when given) and matches the directory's step; the model weights
    (``model.safetensors``, or shards listed in its index, or an adapter's weights) have a valid
    safetensors header and size; ``optimizer.pt``, ``scheduler.pt`` and ``rng_state.pth`` exist and are whole (zip CRCs).
    The ``Trainer`` writes ``trainer_state.json`` last, so a checkpoint killed mid-write lacks it.

    Returns:
        A sentence naming the missing or broken file, or ``None``.

    Raises:
        TypeError / ValueError: ``path`` is not a path, ``max_steps`` not an int >= -1 (or ``None``).
    """
    path = _checked_path(path, "path")
    max_steps = _checked_max_steps(max_steps)
    m = _CHECKPOINT.match(path.name)
    if not path.is_dir() or not m:
        return f"{path} is not a checkpoint-<step> directory"
    try:
        state = json.loads((path / "trainer_state.json").read_text())
    except (OSError, ValueError):
        return f"{path / 'trainer_state.json'} is missing or unreadable"
    step = state.get("global_step") if isinstance(state, dict) else None
    if isinstance(step, bool) or not isinstance(step, int):
        return f"{path / 'trainer_state.json'} has no integer global_step"
    if step <= 0 or (max_steps is not None and max_steps > 0 and step > max_steps) or step != int(m.group(1)):
        return (f"{path / 'trainer_state.json'} has global_step {step}, not in [1, {max_steps}] or not the "
                f"directory's step {m.group(1)}")
    weights = sorted(path.glob("*.safetensors"))
    if not weights:
        return f"{path} holds no model weights (*.safetensors)"
    for w in weights:
        if not _safetensors_ok(w):
            return f"{w} is not a complete safetensors file"
    for name in RESUME_FILES[1:]:
        f = path / name
        if not f.is_file():
            return f"{f} is missing (a resume would restart the {name.split('.')[0].replace('_', ' ')} from scratch)"
        if not _torch_file_ok(f):
            return f"{f} is truncated or corrupt"
    return None


def last_complete_checkpoint(output_dir: str | os.PathLike, max_steps: int | None = None, *,
                             verbose: bool = True) -> str | None:
    """The ``checkpoint-<step>`` directory with the highest step that is complete (:func:`checkpoint_problem`).

    Incomplete ones are skipped, with one printed line each naming the file at fault (``verbose``).

    Returns:
        The checkpoint's path, or ``None`` when ``output_dir`` does not exist or holds none.

    Raises:
        TypeError: ``output_dir`` is not a path, ``verbose`` not a bool.
        ValueError: ``max_steps`` not an int >= -1 (or ``None``).
        NotADirectoryError: ``output_dir`` exists but is a file.
    """
    root = _checked_path(output_dir, "output_dir")
    max_steps = _checked_max_steps(max_steps)
    verbose = checks.boolean(verbose, "verbose")
    if root.exists() and not root.is_dir():
        raise NotADirectoryError(f"output_dir: {root} is a file, not a directory of checkpoints")
    if not root.is_dir():
        return None
    candidates = sorted(((int(m.group(1)), p) for p in root.iterdir()
                         if p.is_dir() and (m := _CHECKPOINT.match(p.name))), reverse=True)
    for _, path in candidates:
        problem = checkpoint_problem(path, max_steps)
        if problem is None:
            return str(path)
        if verbose:
            print(f"skipping {path.name}: {problem}")
    return None


# ---------------------------------------------------------------------------- one run per directory
_CONFIG_ARGS = ("learning_rate", "per_device_train_batch_size", "gradient_accumulation_steps", "max_steps",
                "num_train_epochs", "seed", "weight_decay", "warmup_steps", "lr_scheduler_type",
                "train_sampling_strategy", "fp16", "bf16", "save_steps", "logging_steps")


def _fingerprint_dataset(dataset) -> str:
    if dataset is None:
        return "none"
    digest = hashlib.sha256(str(len(dataset)).encode())
    fp = getattr(dataset, "_fingerprint", None)
    if fp:
        digest.update(fp.encode())
    else:
        for i in range(len(dataset)):
            digest.update(repr(dataset[i]).encode())
    return digest.hexdigest()[:16]


def run_config(trainer) -> dict:
    """What identifies a run: the model (class and config), the training data and the optimisation
    arguments. Two runs with the same ``run_config`` may share a checkpoint directory."""
    model = trainer.model
    config = getattr(model, "config", None)
    config_text = config.to_json_string(use_diff=False) if hasattr(config, "to_json_string") else repr(config)
    return {
        "model": type(model).__name__,
        "model_config": hashlib.sha256(config_text.encode()).hexdigest()[:16],
        "trainable_parameters": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "train_data": _fingerprint_dataset(trainer.train_dataset),
        **{k: getattr(trainer.args, k) for k in _CONFIG_ARGS},
    }


def _check_run_directory(trainer, output_dir: Path, resume: bool) -> None:
    """Record the run's configuration in ``output_dir``, or refuse a directory that holds another run."""
    current = json.loads(json.dumps(run_config(trainer), default=str))
    recorded_file = output_dir / RUN_CONFIG
    has_checkpoints = output_dir.is_dir() and any(_CHECKPOINT.match(p.name) for p in output_dir.iterdir())
    if has_checkpoints and not resume:
        raise ValueError(f"output_dir: {output_dir} already holds checkpoints; training afresh there would mix two "
                         "runs. Delete that directory or choose another output_dir")
    if has_checkpoints:
        try:
            recorded = json.loads(recorded_file.read_text())
        except (OSError, ValueError):
            raise ValueError(f"output_dir: {output_dir} holds checkpoints but no readable {RUN_CONFIG} saying which "
                             "run made them; delete them or choose another output_dir") from None
        if recorded != current:
            diff = sorted(k for k in set(current) | set(recorded) if recorded.get(k) != current.get(k))
            raise ValueError(
                f"output_dir: {output_dir} holds a run of a different configuration (differs in {diff}); "
                "resuming would mix two runs. Delete that directory or choose another output_dir")
        return
    output_dir.mkdir(parents=True, exist_ok=True)
    tmp = output_dir / (RUN_CONFIG + ".tmp")
    tmp.write_text(json.dumps(current, indent=1, sort_keys=True))
    os.replace(tmp, recorded_file)  # atomic: never a half-written record


def _whole_run_loss(log_history: list[dict], resumed_step: int, call_loss: float, final_step: int) -> float:
    """The mean training loss over every step of the run: the logged intervals up to the resume point,
    weighted by their number of steps, and this call's mean for the steps after it."""
    total, previous = 0.0, 0
    for entry in log_history:
        step = entry.get("step", 0)
        if "loss" in entry and "train_runtime" not in entry and previous < step <= resumed_step:
            total += entry["loss"] * (step - previous)
            previous = step
    if previous != resumed_step:  # cannot happen when save_steps is a multiple of logging_steps
        return math.nan
    return (total + call_loss * (final_step - resumed_step)) / final_step


def _check_dataset(dataset, name: str, model) -> None:
    """One dataset of a run against the model, before any step, so that a bad id or label is named instead of
    surfacing as a torch IndexError (or a collator's "type unknown") mid-run: token ids, token types and lengths
    (:func:`companion.loop._check_dataset_inputs`, the raw values of a list of dicts as of a ``datasets.Dataset``),
    and class labels outside ``[0, num_labels)`` of a classification head."""
    if not hasattr(dataset, "__len__"):
        return  # an iterable dataset: read only while training
    if len(dataset) == 0:
        raise ValueError(f"{name}: no examples")
    _check_dataset_inputs(dataset, name, model)
    num_labels = getattr(model, "num_labels", None)  # classification heads only (not LMs, not seq2seq)
    problem = getattr(getattr(model, "config", None), "problem_type", None)
    if not isinstance(num_labels, int) or num_labels < 2 or problem == "multi_label_classification":
        return
    names = dataset.column_names if hasattr(dataset, "column_names") else list(dataset[0]) \
        if isinstance(dataset[0], dict) else []
    column = next((c for c in ("labels", "label") if c in names), None)
    if column is None:
        return
    values = dataset[column] if hasattr(dataset, "column_names") else [row[column] for row in dataset]
    flat = [v for row in values for v in (row if isinstance(row, (list, tuple)) else [row])]
    if flat:  # float labels would be truncated or read as multi-label targets: refused too
        checks.class_labels(flat, f"{name}[{column!r}]", num_labels=num_labels, ignore_index=-100)


def _check_some_label(dataset) -> None:
    """Refuse a training set whose every label is -100 (ignored): the loss would be 0/0 at every step."""
    from .data.text import _column_span

    if not hasattr(dataset, "__len__"):
        return
    names = dataset.column_names if hasattr(dataset, "column_names") else list(dataset[0]) \
        if isinstance(dataset[0], dict) else []
    for column in ("labels", "label"):
        if column in names:
            try:
                span = _column_span(dataset, column, "train_dataset")
            except TypeError:  # float labels (regression): nothing is ignored
                return
            if span is not None and span[:2] == (-100, -100):
                raise ValueError(f"train_dataset[{column!r}]: every label equals ignore_index (-100); there is no "
                                 "label to learn from (were the labels aligned to the tokens?)")
            return


def _check_training_data(trainer) -> None:
    """Refuse an empty training set, one whose labels are all ignored, and (in the training and evaluation sets)
    token ids outside the model's vocabulary or token types, sequences longer than its positions, and class
    labels outside ``[0, num_labels)`` of a classification head (:func:`_check_dataset`)."""
    dataset = trainer.train_dataset
    if dataset is None:
        raise ValueError("trainer: has no train_dataset to train on")
    if hasattr(dataset, "__len__") and len(dataset) == 0:
        raise ValueError("train_dataset: no examples to train on")
    _check_dataset(dataset, "train_dataset", trainer.model)
    _check_some_label(dataset)
    evals = trainer.eval_dataset
    for key, ds in (evals.items() if isinstance(evals, dict) else [(None, evals)]):
        if ds is not None:
            _check_dataset(ds, "eval_dataset" if key is None else f"eval_dataset[{key!r}]", trainer.model)


def fit(trainer, resume: bool = True) -> dict:
    """Train, resuming from the last complete checkpoint in ``trainer.args.output_dir`` (if ``resume``).

    * A checkpoint counts only if everything an exact resume needs is there and loads
      (:func:`checkpoint_problem`); others are skipped with a message naming the file.
    * The directory records the run's configuration (:func:`run_config`) in ``run_config.json``; a
      directory holding a run of another configuration is refused with an error saying how to start afresh.
    * If the checkpoint already holds the whole run, nothing is trained: its weights are loaded.
    * ``resume=False`` trains from scratch, and refuses a directory that already holds checkpoints
      (they would mix with the new run's).

    Returns:
        ``{"train_loss": mean loss over every step of the whole run (``None`` if it cannot be recovered
        from the checkpoint's log), "steps": int, "wall_s": float (this call), "resumed_from": str | None}``.

    Raises:
        TypeError: ``trainer`` is not a ``transformers.Trainer``.
        ValueError: the output directory holds another run (see above); an empty training set, or one whose
            labels all equal -100; in the training or evaluation set, a class label outside ``[0, num_labels)``
            of the model's classification head, a token id outside its vocabulary or token types, a sequence
            longer than its positions (the message names the dataset and column).
        TypeError: ids or labels that are not integers (a bool, a float) in either set.
    """
    from transformers import Trainer

    if not isinstance(trainer, Trainer):
        raise TypeError(f"trainer: expected a transformers.Trainer, got {type(trainer).__name__}")
    checks.boolean(resume, "resume")
    _check_training_data(trainer)
    output_dir = Path(trainer.args.output_dir)
    start = time.perf_counter()
    planned = trainer.set_initial_training_values(trainer.args, trainer.get_train_dataloader())[-1]
    _check_run_directory(trainer, output_dir, resume)
    checkpoint = last_complete_checkpoint(output_dir, planned) if resume else None
    resumed_step = 0
    if checkpoint is not None:
        state = json.loads((Path(checkpoint) / "trainer_state.json").read_text())
        resumed_step = state["global_step"]
        if resumed_step >= planned:
            trainer._load_from_checkpoint(checkpoint)
            loss = _whole_run_loss(state.get("log_history", []), resumed_step, 0.0, resumed_step)
            return {"train_loss": None if math.isnan(loss) else loss, "steps": resumed_step,
                    "wall_s": time.perf_counter() - start, "resumed_from": checkpoint}
    out = trainer.train(resume_from_checkpoint=checkpoint)
    final = int(out.global_step)
    loss = float(out.training_loss)
    if resumed_step:
        loss = _whole_run_loss(trainer.state.log_history, resumed_step, loss, final)
    return {"train_loss": loss, "steps": final, "wall_s": time.perf_counter() - start, "resumed_from": checkpoint}


def steps_per_epoch(n_examples: int, batch_size: int) -> int:
    """Optimiser steps in one epoch: ``ceil(n_examples / batch_size)``.

    Raises:
        TypeError / ValueError: either argument is not a positive int.
    """
    n_examples = checks.integer(n_examples, "n_examples")
    batch_size = checks.integer(batch_size, "batch_size")
    return math.ceil(n_examples / batch_size)


__all__ = ["RESUME_FILES", "RUN_CONFIG", "checkpoint_problem", "fit", "last_complete_checkpoint", "make_trainer",
           "run_config", "steps_per_epoch", "training_arguments"]
