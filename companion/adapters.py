"""Parameter-efficient fine-tuning: adapters and LoRA.

LoRA (Hu et al., ICLR 2022, "LoRA: Low-Rank Adaptation of Large Language Models") freezes a
pretrained weight ``W`` (shape ``(d_out, d_in)``) and learns a low-rank update
``ΔW = (lora_alpha / r) · B A`` with ``A`` of shape ``(r, d_in)`` and ``B`` of shape
``(d_out, r)``, ``B`` initialised to zero so that training starts from the pretrained model.
We use the well-kept ``peft`` library for it.

Book sections: the text-classification case (8.1), "The adapter step, done as LoRA"; chapter 4.2.
"""

from __future__ import annotations

import inspect
import numbers
from collections.abc import Mapping
from typing import Sequence

import torch

from . import checks


def _module_names(model: torch.nn.Module) -> list[str]:
    return [name for name, _ in model.named_modules()]


def lora_for_sequence_classification(
    model: torch.nn.Module,
    *,
    r: int = 8,
    lora_alpha: int = 16,
    lora_dropout: float = 0.1,
    target_modules: Sequence[str] = ("query", "value"),
    modules_to_save: Sequence[str] = (),
):
    """Wrap a sequence-classification model with LoRA via ``peft``; the new head stays trainable.

    ``task_type="SEQ_CLS"`` makes peft train *and save* the classification head
    (``modules_to_save``): forgetting this is a classic mistake -- the adapter trains fine but a
    reloaded model has a random head.

    Args:
        model: e.g. a ``BertForSequenceClassification``; modified in place (LoRA layers injected).
        r: rank of the update (positive int).
        lora_alpha: scaling numerator; the update is multiplied by ``lora_alpha / r``.
        lora_dropout: dropout on the LoRA branch input, in [0, 1).
        target_modules: names (suffixes) of the ``nn.Linear`` layers to adapt; BERT's attention
            projections are ``query``, ``key``, ``value``.
        modules_to_save: further modules trained in full and saved with the adapter, besides the
            head. Example: ``("pooler",)`` for a checkpoint whose pooler was never trained for
            classification, such as the sentence-embedding MiniLM (it was trained with mean pooling).

    Returns:
        A ``peft.PeftModel``. Trainable parameters for BERT-base (hidden 768, 12 layers), r=8 on
        query/value: 12 · 2 · 8 · (768 + 768) = 294,912, plus 1,538 for a 2-class head = 296,450.

    Raises:
        TypeError: if ``model`` is not a ``torch.nn.Module``, ``r`` is not an int (bools included),
            ``lora_alpha`` or ``lora_dropout`` is not a number (strings included), or a module name
            is not a string.
        ValueError: if ``r`` < 1, ``lora_alpha`` is not a finite number > 0 (0 would make the update
            zero forever; NaN or infinity gives NaN outputs), ``lora_dropout`` is not in [0, 1),
            ``target_modules`` is empty, or a name in ``target_modules`` or ``modules_to_save``
            matches no module of ``model``.
    """
    from peft import LoraConfig, TaskType, get_peft_model

    r, lora_alpha, lora_dropout, targets, to_save = _check_lora_arguments(model, r, lora_alpha, lora_dropout,
                                                                           target_modules, modules_to_save)
    config = LoraConfig(task_type=TaskType.SEQ_CLS, r=r, lora_alpha=lora_alpha,
                        lora_dropout=lora_dropout, target_modules=targets, modules_to_save=to_save or None)
    return get_peft_model(model, config)


def lora_parameter_count(d_in: int, d_out: int, r: int, n_layers: int, n_targets: int = 2) -> int:
    """Trainable LoRA parameters: ``n_layers · n_targets · r · (d_in + d_out)``.

    Each adapted ``(d_out, d_in)`` weight gets ``A`` (``r × d_in``) and ``B`` (``d_out × r``).

    Raises:
        TypeError: if an argument is not an int (bools included). ValueError: if one is < 1.
    """
    for name, v in dict(d_in=d_in, d_out=d_out, r=r, n_layers=n_layers, n_targets=n_targets).items():
        checks.integer(v, name)
    return n_layers * n_targets * r * (d_in + d_out)


# ============================================================================ chapter 4.2: adapters from scratch
# Appended for chapter 4.2 ("Adapters and tuning"): a Houlsby bottleneck adapter and a LoRA linear
# layer written out in PyTorch (verified against peft in tests/test_adapters.py), prompt and prefix
# tuning through peft, and the clear errors a wrong target or layer should give.
import math  # noqa: E402  (kept with the section that uses it)

from torch import nn  # noqa: E402

#: Names of the sub-layer output blocks of a BERT-style layer (``BertSelfOutput``, ``BertOutput``).
_BERT_SUBLAYER_OUTPUT = r"(.*\.)?layer\.\d+\.(attention\.output|output)"


def _lora_scale(r, lora_alpha, lora_dropout) -> tuple[int, int | float, float]:
    """The three LoRA hyper-parameters, checked (shared by every LoRA entry point)."""
    r = checks.integer(r, "r")
    # 0 makes the update zero forever; NaN/inf make every output NaN; a negative one flips its sign
    checked = checks.number(lora_alpha, "lora_alpha", minimum=0, strict_minimum=True)
    lora_alpha = int(lora_alpha) if isinstance(lora_alpha, numbers.Integral) else checked  # 16 stays 16 in configs
    lora_dropout = checks.probability(lora_dropout, "lora_dropout", allow_one=False)
    return r, lora_alpha, lora_dropout


def _names(value, name: str, *, allow_empty: bool = True) -> list[str]:
    """Module-name suffixes: one string or a sequence of strings."""
    return [value] if isinstance(value, str) else checks.texts(value, name, allow_empty=allow_empty)


class HoulsbyAdapter(nn.Module):
    """A bottleneck adapter (Houlsby et al., ICML 2019, "Parameter-Efficient Transfer Learning for NLP").

    ``h ↦ h + W_up · f(W_down · h + b_down) + b_up`` with ``W_down`` of shape
    ``(bottleneck, hidden_size)``, ``W_up`` of shape ``(hidden_size, bottleneck)`` and ``f`` a
    GELU. ``W_up`` and ``b_up`` start at zero, so a freshly inserted adapter is exactly the
    identity and the pretrained model's outputs are unchanged until training moves it (the paper
    uses a near-identity initialisation for the same reason). Parameters:
    ``2 · hidden_size · bottleneck + bottleneck + hidden_size``.

    Input and output: float tensors of shape ``(..., hidden_size)``.

    Raises:
        TypeError: if ``hidden_size`` or ``bottleneck`` is not an int. ValueError: if one is < 1.

    Book section: 4.2.
    """

    def __init__(self, hidden_size: int, bottleneck: int = 64):
        super().__init__()
        hidden_size, bottleneck = checks.integer(hidden_size, "hidden_size"), checks.integer(bottleneck, "bottleneck")
        self.down = nn.Linear(hidden_size, bottleneck)
        self.up = nn.Linear(bottleneck, hidden_size)
        self.act = nn.GELU()
        nn.init.normal_(self.down.weight, std=1e-2)
        nn.init.zeros_(self.down.bias)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h + self.up(self.act(self.down(h)))


class _DenseThenAdapter(nn.Module):
    """``adapter(dense(x))``: the adapter sits on a sub-layer's output projection, before the
    dropout, residual sum and LayerNorm that follow it in a BERT layer."""

    def __init__(self, dense: nn.Linear, adapter: HoulsbyAdapter):
        super().__init__()
        self.dense = dense
        self.adapter = adapter

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.adapter(self.dense(x))


def _freeze_except(model: nn.Module, keep) -> None:
    for name, p in model.named_parameters():
        p.requires_grad = keep(name)


def _check_trainable_names(model: nn.Module, trainable: Sequence[str], arg: str) -> list[str]:
    trainable = _names(trainable, arg)
    names = _module_names(model)
    unmatched = [t for t in trainable if not any(n == t or n.endswith("." + t) for n in names)]
    if unmatched:
        raise ValueError(f"{arg}: {unmatched} match no module of the model")
    return list(trainable)


def _in_modules(param_name: str, modules: Sequence[str]) -> bool:
    """True if the parameter belongs to a module whose name is, or ends with, an entry of ``modules``."""
    parts = param_name.split(".")
    prefixes = [".".join(parts[:i]) for i in range(1, len(parts))]
    return any(p == m or p.endswith("." + m) for p in prefixes for m in modules)


def add_houlsby_adapters(model: nn.Module, bottleneck: int = 64, *, train_layer_norm: bool = True,
                         trainable_modules: Sequence[str] = ("classifier",)) -> nn.Module:
    """Insert two :class:`HoulsbyAdapter` per layer of a BERT-style encoder and freeze the rest.

    As in Houlsby et al. (2019), one adapter follows the attention block's output projection and
    one the feed-forward block's, each before the residual sum and LayerNorm. Everything else is
    frozen except the adapters, the LayerNorms (``train_layer_norm``, as in the paper) and
    ``trainable_modules`` (the new classification head).

    Args:
        model: a BERT-style model (``BertModel``, ``BertForSequenceClassification``, RoBERTa ...):
            its layers must have sub-modules named ``layer.<i>.attention.output`` and
            ``layer.<i>.output`` with a ``dense`` ``nn.Linear``. Modified in place.
        bottleneck: adapter width ``m`` (positive int); the paper uses 8-256.
        train_layer_norm: also train every LayerNorm's weight and bias.
        trainable_modules: names (suffixes) of modules trained in full, e.g. ``("classifier",)``.

    Returns:
        ``model``, with ``sum(2 · L · (2·d·m + m + d))`` new trainable adapter parameters for
        ``L`` layers of width ``d``.

    Raises:
        TypeError: if ``model`` is not an ``nn.Module``, has no BERT-style sub-layer outputs (an
            unsupported architecture, e.g. a bare ``nn.Linear``) or one of them has no ``nn.Linear``
            named ``dense``; ``bottleneck`` not an int; ``train_layer_norm`` not a bool.
        ValueError: ``bottleneck`` < 1 or a ``trainable_modules`` name that matches nothing.

    Book section: 4.2.
    """
    import re

    checks.instance(model, "model", nn.Module, what="a torch.nn.Module")
    bottleneck = checks.integer(bottleneck, "bottleneck")
    train_layer_norm = checks.boolean(train_layer_norm, "train_layer_norm")
    # the architecture first: a model without BERT layers is the error, not its missing head
    pattern = re.compile(_BERT_SUBLAYER_OUTPUT)
    targets = [(n, m) for n, m in model.named_modules() if pattern.fullmatch(n)]
    if not targets:
        raise TypeError(
            f"model: {type(model).__name__} has no BERT-style sub-layer outputs (modules named "
            "'layer.<i>.attention.output' and 'layer.<i>.output'); Houlsby adapters here support "
            "BERT-family encoders only")
    for name, module in targets:
        dense = getattr(module, "dense", None)
        if not isinstance(dense, nn.Linear):
            raise TypeError(f"model: {name}.dense is a {type(dense).__name__}, expected nn.Linear")
    trainable_modules = _check_trainable_names(model, trainable_modules, "trainable_modules")
    for name, module in targets:
        dense = module.dense
        module.dense = _DenseThenAdapter(dense, HoulsbyAdapter(dense.out_features, bottleneck))

    def keep(name):
        return (".adapter." in name or _in_modules(name, trainable_modules)
                or (train_layer_norm and "LayerNorm" in name))

    _freeze_except(model, keep)
    return model


class LoRALinear(nn.Module):
    """A LoRA layer written out: ``y = W x + b + (lora_alpha / r) · B A dropout(x)``.

    ``W`` (``(d_out, d_in)``) and ``b`` are the frozen weights of the wrapped ``nn.Linear``;
    ``A`` (``(r, d_in)``) is initialised like peft's (Kaiming-uniform with ``a = sqrt(5)``) and
    ``B`` (``(d_out, r)``) with zeros, so the layer starts as the pretrained one (Hu et al., ICLR
    2022). :meth:`merged_linear` folds the update into one ``nn.Linear`` with weight
    ``W + (lora_alpha / r) · B A``: no extra cost at inference.

    Input ``(..., d_in)``, output ``(..., d_out)``, float tensors.

    Raises:
        TypeError: if ``base`` is not an ``nn.Linear`` (e.g. an embedding or a convolution), or
            ``r``/``lora_alpha``/``lora_dropout`` is not a number of the right kind (bools and
            strings included).
        ValueError: if ``r`` < 1, ``lora_alpha`` is not a finite number > 0, or ``lora_dropout`` is
            outside [0, 1).

    Book section: 4.2 (the package's peft-based :func:`lora_for_sequence_classification` is what
    the case studies use; tests check that both give the same outputs).
    """

    def __init__(self, base: nn.Module, r: int = 8, lora_alpha: float = 16, lora_dropout: float = 0.0):
        super().__init__()
        if not isinstance(base, nn.Linear):
            raise TypeError(f"base: LoRALinear wraps an nn.Linear, got {type(base).__name__}")
        self._setup(base, *_lora_scale(r, lora_alpha, lora_dropout))

    @classmethod
    def _unchecked(cls, base: nn.Linear, r: int, lora_alpha: float, lora_dropout: float) -> "LoRALinear":
        """Build from arguments that :func:`inject_lora` has already checked."""
        layer = cls.__new__(cls)
        nn.Module.__init__(layer)
        layer._setup(base, r, lora_alpha, lora_dropout)
        return layer

    def _setup(self, base: nn.Linear, r: int, lora_alpha: float, lora_dropout: float) -> None:
        self.base = base
        for p in self.base.parameters():
            p.requires_grad = False
        self.r, self.lora_alpha, self.scaling = r, lora_alpha, lora_alpha / r
        self.lora_A = nn.Parameter(torch.empty(r, base.in_features, dtype=base.weight.dtype,
                                               device=base.weight.device))
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, r, dtype=base.weight.dtype,
                                               device=base.weight.device))
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
        self.dropout = nn.Dropout(lora_dropout) if lora_dropout > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + (self.dropout(x) @ self.lora_A.T @ self.lora_B.T) * self.scaling

    def delta_weight(self) -> torch.Tensor:
        """The update ``(lora_alpha / r) · B A``, shape ``(d_out, d_in)``."""
        return self.scaling * (self.lora_B @ self.lora_A)

    @torch.no_grad()
    def merged_linear(self) -> nn.Linear:
        """A new ``nn.Linear`` with weight ``W + (lora_alpha / r) · B A`` and the same bias."""
        base = self.base
        merged = nn.Linear(base.in_features, base.out_features, bias=base.bias is not None,
                           device=base.weight.device, dtype=base.weight.dtype)
        merged.weight.copy_(base.weight + self.delta_weight())
        if base.bias is not None:
            merged.bias.copy_(base.bias)
        return merged


def _set_submodule(model: nn.Module, name: str, module: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent_name) if parent_name else model, child, module)


def inject_lora(model: nn.Module, target_modules: Sequence[str] = ("query", "value"), *, r: int = 8,
                lora_alpha: float = 16, lora_dropout: float = 0.0,
                trainable_modules: Sequence[str] = ("classifier",)) -> nn.Module:
    """Replace every ``nn.Linear`` whose name ends with a ``target_modules`` entry by a
    :class:`LoRALinear`, and freeze everything except the LoRA matrices and ``trainable_modules``.

    Args:
        model: any ``nn.Module``; modified in place.
        target_modules: module-name suffixes, e.g. BERT's ``("query", "value")``.
        r, lora_alpha, lora_dropout: as :class:`LoRALinear`.
        trainable_modules: names (suffixes) of modules trained in full (the new head).

    Returns:
        ``model``.

    Raises:
        ValueError: if a ``target_modules`` entry matches no module (the message lists the model's
            ``nn.Linear`` names), a ``trainable_modules`` entry matches nothing, or ``r``,
            ``lora_alpha``, ``lora_dropout`` is out of range (as :class:`LoRALinear`).
        TypeError: if ``model`` is not an ``nn.Module``, a matched module is not an ``nn.Linear``
            (e.g. ``word_embeddings``), a name is not a string, or a number is of the wrong kind.

    Book section: 4.2.
    """
    checks.instance(model, "model", nn.Module, what="a torch.nn.Module")
    r, lora_alpha, lora_dropout = _lora_scale(r, lora_alpha, lora_dropout)
    target_modules = _names(target_modules, "target_modules", allow_empty=False)
    trainable_modules = _check_trainable_names(model, trainable_modules, "trainable_modules")
    found = {t: [n for n, _ in model.named_modules() if n == t or n.endswith("." + t)] for t in target_modules}
    unmatched = [t for t, names in found.items() if not names]
    if unmatched:
        linear = sorted({n.rsplit(".", 1)[-1] for n, m in model.named_modules() if isinstance(m, nn.Linear)})
        raise ValueError(f"target_modules: {unmatched} match no module of the model; its Linear layers are named {linear}")
    names = sorted({n for names in found.values() for n in names})
    for name in names:
        module = model.get_submodule(name)
        if not isinstance(module, nn.Linear):
            raise TypeError(f"target_modules: {name!r} is a {type(module).__name__}; LoRA here supports nn.Linear only")
    for name in names:
        _set_submodule(model, name, LoRALinear._unchecked(model.get_submodule(name), r, lora_alpha, lora_dropout))
    _freeze_except(model, lambda n: ".lora_" in n or n.startswith("lora_") or _in_modules(n, trainable_modules))
    return model


def merge_lora(model: nn.Module) -> nn.Module:
    """Replace every :class:`LoRALinear` in ``model`` by its :meth:`~LoRALinear.merged_linear` (in place).

    Raises:
        TypeError: if ``model`` is not an ``nn.Module``. ValueError: if it contains no :class:`LoRALinear`.
    """
    checks.instance(model, "model", nn.Module, what="a torch.nn.Module")
    names = [n for n, m in model.named_modules() if isinstance(m, LoRALinear)]
    if not names:
        raise ValueError("model: contains no LoRALinear layer to merge")
    for name in names:
        _set_submodule(model, name, model.get_submodule(name).merged_linear())
    return model


def prompt_tuning_for_sequence_classification(model: nn.Module, num_virtual_tokens: int = 20):
    """Prompt tuning (Lester et al., EMNLP 2021) via ``peft``: learn ``num_virtual_tokens`` input
    embeddings that are prepended to every sequence, with the pretrained weights frozen.

    The classification head is trained and saved with the prompt (``task_type="SEQ_CLS"``).

    Args:
        model: a sequence-classification model (e.g. ``BertForSequenceClassification``).
        num_virtual_tokens: number of learnt tokens (positive int).

    Returns:
        A ``peft.PeftModel``; trainable: ``num_virtual_tokens · hidden_size`` plus the head.

    Raises:
        TypeError: ``model`` not an ``nn.Module``, ``num_virtual_tokens`` not an int.
        ValueError: if ``num_virtual_tokens`` < 1.

    Book section: 4.2.
    """
    from peft import PromptTuningConfig, TaskType, get_peft_model

    checks.instance(model, "model", nn.Module, what="a torch.nn.Module")
    num_virtual_tokens = checks.integer(num_virtual_tokens, "num_virtual_tokens")
    return get_peft_model(model, PromptTuningConfig(task_type=TaskType.SEQ_CLS, num_virtual_tokens=num_virtual_tokens))


def prefix_tuning_for_causal_lm(model: nn.Module, num_virtual_tokens: int = 20):
    """Prefix tuning (Li & Liang, ACL 2021) via ``peft``: learn a key and a value vector per virtual
    token in *every* attention layer, with the pretrained weights frozen.

    ``peft`` injects the prefixes through the model's key/value cache, so the model must be a
    generative (causal) language model such as GPT-2. Encoders such as BERT do not take a cache
    in ``transformers`` 5, and peft's prefix tuning fails on them at the first forward pass; we
    refuse them up front with a clear message.

    Args:
        model: a ``transformers`` causal LM (``model.can_generate()`` is true).
        num_virtual_tokens: number of learnt prefix positions (positive int).

    Returns:
        A ``peft.PeftModel``; trainable: ``num_virtual_tokens · 2 · num_layers · hidden_size``.

    Raises:
        TypeError: if ``model`` is not a generative transformers model (e.g. a BERT classifier), or
            ``num_virtual_tokens`` is not an int.
        ValueError: if ``num_virtual_tokens`` < 1.

    Book section: 4.2.
    """
    from peft import PrefixTuningConfig, TaskType, get_peft_model

    num_virtual_tokens = checks.integer(num_virtual_tokens, "num_virtual_tokens")
    can_generate = getattr(model, "can_generate", None)
    if not (callable(can_generate) and can_generate()):
        raise TypeError(
            f"model: prefix tuning via peft injects prefixes through the key/value cache, which "
            f"{type(model).__name__} does not take; use a causal LM (e.g. GPT-2), or prompt tuning "
            "(prompt_tuning_for_sequence_classification) for an encoder")
    peft_model = get_peft_model(model, PrefixTuningConfig(task_type=TaskType.CAUSAL_LM,
                                                          num_virtual_tokens=num_virtual_tokens))
    # peft (0.21) hands the prefixes to the model as ``past_key_values=``; transformers 5 renamed that
    # argument ``cache`` (the old name warns, and is removed in 5.40). Rename it on the way in.
    if "cache" in inspect.signature(model.forward).parameters:
        model.register_forward_pre_hook(_prefix_as_cache, with_kwargs=True)
    return peft_model


def _prefix_as_cache(module: nn.Module, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    """Forward pre-hook: pass peft's ``past_key_values`` (the prefixes) as transformers' ``cache``."""
    if kwargs.get("past_key_values") is not None and kwargs.get("cache") is None:
        kwargs = dict(kwargs)
        kwargs["cache"] = kwargs.pop("past_key_values")
    return args, kwargs


def houlsby_parameter_count(hidden_size: int, bottleneck: int, num_layers: int) -> int:
    """Parameters of two Houlsby adapters per layer: ``num_layers · 2 · (2·d·m + m + d)``.

    Raises:
        TypeError: if an argument is not an int (bools included). ValueError: if one is < 1.
    """
    for name, v in dict(hidden_size=hidden_size, bottleneck=bottleneck, num_layers=num_layers).items():
        checks.integer(v, name)
    return num_layers * 2 * (2 * hidden_size * bottleneck + bottleneck + hidden_size)


def activation_memory(model: nn.Module, batch: dict, loss_fn=None) -> int:
    """Bytes of the tensors autograd saves for the backward pass of one forward pass on ``batch``.

    This is the activation memory of a training step, the part that parameter-efficient methods do
    *not* remove: gradients must still flow back through the frozen layers below a LoRA matrix or
    an adapter. Tensors that share storage are counted once, and tensors that are parameters of
    ``model`` (saved by matrix products) are not counted. Measured with
    ``torch.autograd.graph.saved_tensors_hooks``; works on CPU, where no allocator statistics
    exist (on CUDA, ``torch.cuda.max_memory_allocated`` gives the full peak).

    Args:
        model: the model, in training mode.
        batch: keyword arguments of ``model(**batch)``; its output must have ``.loss`` unless
            ``loss_fn(output)`` is given.

    Returns:
        Bytes (int).

    Raises:
        TypeError: ``model`` not an ``nn.Module``, ``batch`` not a dict, ``loss_fn`` not callable.
    """
    checks.instance(model, "model", nn.Module, what="a torch.nn.Module")
    checks.instance(batch, "batch", Mapping, what="a dict of model inputs")
    if loss_fn is not None:
        checks.function(loss_fn, "loss_fn")
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    seen: dict[int, int] = {}

    def pack(t):
        try:
            storage = t.untyped_storage()
            ptr = storage.data_ptr()
            if ptr not in params:
                seen[ptr] = max(seen.get(ptr, 0), storage.nbytes())
        except (RuntimeError, NotImplementedError):  # tensors without storage (e.g. functional views)
            pass
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = model(**batch)
        loss = loss_fn(out) if loss_fn is not None else out.loss
    del loss, out
    return sum(seen.values())


# ---------------------------------------------------------------------------- 8.2 sequence-to-sequence LoRA
def _check_lora_arguments(model, r, lora_alpha, lora_dropout, target_modules, modules_to_save):
    """Validate the arguments shared by the ``peft`` LoRA wrappers; return
    ``(r, lora_alpha, lora_dropout, targets, to_save)``."""
    checks.instance(model, "model", torch.nn.Module, what="a torch.nn.Module")
    r, lora_alpha, lora_dropout = _lora_scale(r, lora_alpha, lora_dropout)
    target_modules = _names(target_modules, "target_modules", allow_empty=False)
    names = _module_names(model)
    unmatched = [t for t in target_modules if not any(n == t or n.endswith("." + t) for n in names)]
    if unmatched:
        linear = sorted({n.rsplit(".", 1)[-1] for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)})
        raise ValueError(f"target_modules: {unmatched} match no module of the model; its Linear layers are named {linear}")
    supported = (torch.nn.Linear, torch.nn.Embedding, torch.nn.Conv1d, torch.nn.Conv2d)
    wrong = sorted({type(m).__name__ for n, m in model.named_modules()
                    for t in target_modules if (n == t or n.endswith("." + t))
                    and not isinstance(m, supported) and type(m).__name__ != "Conv1D"})
    if wrong:
        raise ValueError(f"target_modules: LoRA adapts Linear (or Embedding/Conv) layers, but {list(target_modules)} "
                         f"also match {wrong} modules")
    modules_to_save = _names(() if modules_to_save is None else modules_to_save, "modules_to_save")
    unmatched = [m for m in modules_to_save if not any(n == m or n.endswith("." + m) for n in names)]
    if unmatched:
        raise ValueError(f"modules_to_save: {unmatched} match no module of the model")
    return r, lora_alpha, lora_dropout, list(target_modules), modules_to_save


def lora_for_seq2seq(
    model: torch.nn.Module,
    *,
    r: int = 8,
    lora_alpha: int = 16,
    lora_dropout: float = 0.1,
    target_modules: Sequence[str] = ("q_proj", "v_proj"),
    modules_to_save: Sequence[str] = (),
):
    """Wrap an encoder-decoder translation model (e.g. ``MarianMTModel``) with LoRA via ``peft``.

    ``task_type="SEQ_2_SEQ_LM"`` gives a ``PeftModelForSeq2SeqLM``, whose ``generate`` works as the
    base model's. Every pretrained weight is frozen; only the LoRA matrices (and ``modules_to_save``)
    train.

    Args:
        model: the model to adapt; modified in place.
        r, lora_alpha, lora_dropout: as :func:`lora_for_sequence_classification`.
        target_modules: suffixes of the ``nn.Linear`` layers to adapt. Marian/BART-style models name
            their attention projections ``q_proj``, ``k_proj``, ``v_proj``, ``out_proj``; the default
            adapts queries and values in the encoder self-attention, the decoder self-attention and
            the decoder cross-attention (``encoder_attn``). BERT-style modules are ``query``/``value``.
        modules_to_save: modules trained in full and saved with the adapter.

    Returns:
        A ``peft.PeftModel``. On the shape of ``Helsinki-NLP/opus-mt-en-zh`` (d_model 512, 6 + 6
        layers), r = 8 on ``q_proj``/``v_proj`` trains 36 matrices x 8 x (512 + 512) = 294,912 parameters.

    Raises:
        TypeError, ValueError: as :func:`lora_for_sequence_classification` (a name in
            ``target_modules`` that matches no module gets a message listing the model's Linear layers).
    """
    from peft import LoraConfig, TaskType, get_peft_model

    r, lora_alpha, lora_dropout, targets, to_save = _check_lora_arguments(model, r, lora_alpha, lora_dropout,
                                                                           target_modules, modules_to_save)
    config = LoraConfig(task_type=TaskType.SEQ_2_SEQ_LM, r=r, lora_alpha=lora_alpha, lora_dropout=lora_dropout,
                        target_modules=targets, modules_to_save=to_save or None)
    return get_peft_model(model, config)
