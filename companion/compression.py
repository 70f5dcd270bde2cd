"""Make a fine-tuned model smaller or faster: pruning, dynamic int8 quantisation, distillation.

* **Magnitude pruning** with ``torch.nn.utils.prune`` (Han et al., NeurIPS 2015, "Learning both
  Weights and Connections"): :func:`prune_linear` zeroes the smallest-magnitude weights of the
  ``nn.Linear`` layers, either the same fraction in every layer (``scope="local"``) or one threshold
  across all of them (``scope="global"``). Pruning is a re-parametrisation -- ``weight_orig`` times a
  0/1 ``weight_mask`` -- until :func:`make_permanent` (``prune.remove``) writes the zeros into
  ``weight``. :func:`sparsity` reports the global fraction of zeros (zeros over all weights, *not*
  the mean of per-layer fractions) and the fraction per layer. Zeros in a dense tensor take as many
  bytes as any other number, so :func:`state_dict_bytes` does not fall after unstructured pruning;
  :func:`sparse_state_dict` (CSR storage) or structured pruning (:func:`prune_ffn_neurons`, which
  deletes whole feed-forward neurons; Michel et al., NeurIPS 2019, prune attention heads likewise)
  is what makes a file smaller.
* **Dynamic int8 quantisation** (:func:`quantize_dynamic`; Jacob et al., CVPR 2018; Zafrir et al.,
  2019, "Q8BERT"): ``nn.Linear`` weights are stored as int8 with a scale, activations are quantised on
  the fly at inference; embeddings and layer norms stay float32. :func:`quantized_paths` finds the
  replaced layers by the *Python module* their class comes from: the quantised class is also named
  ``Linear``, so counting class names finds nothing.
* **Knowledge distillation** (Hinton, Vinyals & Dean, 2015, "Distilling the Knowledge in a Neural
  Network"): :func:`distillation_loss` trains a student on the teacher's temperature-softened output
  distribution -- not by copying the teacher's weights.

Book section: 7.3 "Pruning, quantisation and distillation".
"""

from __future__ import annotations

import copy
import io
import time
import warnings
from collections.abc import Mapping
from typing import Iterable

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import prune

from . import checks

__all__ = ["linear_layers", "prune_linear", "make_permanent", "sparsity", "state_dict_bytes", "sparse_state_dict",
           "prune_ffn_neurons", "quantize_dynamic", "quantized_paths", "distillation_loss", "latency_ms"]

QUANTIZED_MODULE_PREFIXES = ("torch.ao.nn.quantized", "torch.nn.quantized")


def _module(model) -> nn.Module:
    return checks.instance(model, "model", nn.Module, what="a torch.nn.Module")


def _prefixes(exclude) -> tuple[str, ...]:
    """``exclude`` as a tuple of name prefixes; one string is one prefix (never its characters)."""
    return (exclude,) if isinstance(exclude, str) else tuple(checks.texts(exclude, "exclude", allow_empty=True))


def linear_layers(model: nn.Module, exclude: Iterable[str] = ()) -> dict[str, nn.Linear]:
    """The float ``nn.Linear`` layers of ``model`` by qualified name, skipping names that start with
    any string in ``exclude`` (e.g. ``("classifier",)`` to leave the head alone).

    Raises:
        TypeError: if ``model`` is not an ``nn.Module`` or ``exclude`` is not strings.
    """
    return _linear_layers(_module(model), _prefixes(exclude))


def _linear_layers(model: nn.Module, exclude: tuple[str, ...]) -> dict[str, nn.Linear]:
    return {name: m for name, m in model.named_modules()
            if type(m) is nn.Linear and not (exclude and name.startswith(exclude))}


def prune_linear(model: nn.Module, amount: float, scope: str = "global", exclude: Iterable[str] = ()) -> list[str]:
    """L1 (magnitude) unstructured pruning of the weights of every ``nn.Linear`` in ``model``, in place.

    Args:
        model: the model; its linear layers get ``weight_orig`` and ``weight_mask`` (see module doc).
        amount: fraction of weights to zero, in [0, 1].
        scope: ``"local"`` -- ``prune.l1_unstructured`` on each layer (every layer loses ``amount``);
            ``"global"`` -- ``prune.global_unstructured`` with one magnitude threshold over all the
            layers together (layers with many small weights lose more).
        exclude: name prefixes of layers to leave dense.

    Returns:
        The names of the pruned layers.

    Raises:
        TypeError: ``model`` not an ``nn.Module``, ``amount`` not a number, ``exclude`` not strings.
        ValueError: if ``amount`` is not in [0, 1], ``scope`` is unknown, or there is no layer to prune.
    """
    model = _module(model)
    amount = checks.probability(amount, "amount")
    scope = checks.one_of(scope, "scope", ("global", "local"))
    layers = _linear_layers(model, _prefixes(exclude))
    if not layers:
        raise ValueError("model: has no nn.Linear layer to prune (after exclude)")
    if scope == "local":
        for module in layers.values():
            prune.l1_unstructured(module, name="weight", amount=float(amount))
    else:
        prune.global_unstructured([(m, "weight") for m in layers.values()], pruning_method=prune.L1Unstructured,
                                  amount=float(amount))
    return list(layers)


def make_permanent(model: nn.Module) -> list[str]:
    """Remove the pruning re-parametrisation (``prune.remove``) from every pruned module, in place:
    ``weight_orig``/``weight_mask`` become one ``weight`` holding the zeros.

    Returns:
        The names of the modules that were pruned.

    Raises:
        TypeError: if ``model`` is not an ``nn.Module``.
    """
    _module(model)
    done = []
    for name, module in model.named_modules():
        for hook in list(module._forward_pre_hooks.values()):
            if isinstance(hook, prune.BasePruningMethod):
                prune.remove(module, hook._tensor_name)
                done.append(name)
    return done


def sparsity(model: nn.Module, exclude: Iterable[str] = ()) -> dict:
    """Fraction of zero weights in the ``nn.Linear`` layers (pruned or not, masked or permanent).

    Returns:
        ``{"global": zeros / weights over all the layers, "per_layer": {name: fraction},
        "zeros": int, "weights": int}``. The global value weights every layer by its size; the mean
        of the per-layer fractions does not, and is wrong when layers differ in size.

    Raises:
        TypeError: as :func:`linear_layers`. ValueError: if there is no ``nn.Linear`` layer.
    """
    per_layer, zeros, total = {}, 0, 0
    for name, module in linear_layers(model, exclude).items():
        w = module.weight  # pruned: weight_orig * weight_mask, recomputed by the forward pre-hook
        z = int((w == 0).sum())
        per_layer[name] = z / w.numel()
        zeros, total = zeros + z, total + w.numel()
    if total == 0:
        raise ValueError("model: has no nn.Linear layer")
    return {"global": zeros / total, "per_layer": per_layer, "zeros": zeros, "weights": total}


def state_dict_bytes(model_or_state: nn.Module | dict) -> int:
    """Bytes that ``torch.save(model.state_dict())`` writes (measured into memory, not estimated).

    Raises:
        TypeError: if the argument is neither an ``nn.Module`` nor a state dict.
    """
    checks.instance(model_or_state, "model_or_state", (nn.Module, Mapping), what="a torch.nn.Module or a state dict")
    state = model_or_state.state_dict() if isinstance(model_or_state, nn.Module) else model_or_state
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getbuffer().nbytes


def sparse_state_dict(model: nn.Module, min_sparsity: float = 0.5) -> dict:
    """A state dict in which every 2-D weight with at least ``min_sparsity`` zeros is stored as a
    CSR sparse tensor with int32 indices (values float32 + 4-byte column index per non-zero +
    row pointers). Load it back with ``{k: v.to_dense() if v.is_sparse_csr else v ...}``.

    Below about 50% sparsity CSR is *larger* than the dense tensor (8 bytes per kept weight
    against 4), which is why the threshold exists.

    Raises:
        TypeError: ``model`` not an ``nn.Module``, ``min_sparsity`` not a number (e.g. ``"0.5"``).
        ValueError: if the model still has pruning masks (call :func:`make_permanent` first) or
            ``min_sparsity`` is not in [0, 1].
    """
    model = _module(model)
    min_sparsity = checks.probability(min_sparsity, "min_sparsity")
    state = model.state_dict()
    if any(k.endswith("_mask") for k in state):
        raise ValueError("model: still has pruning masks; call make_permanent(model) first")
    out = {}
    for key, tensor in state.items():
        if tensor.dim() == 2 and tensor.is_floating_point() and (tensor == 0).float().mean() >= min_sparsity:
            with warnings.catch_warnings():  # "sparse CSR support is in beta"
                warnings.simplefilter("ignore", UserWarning)
                csr = tensor.to_sparse_csr()
                out[key] = torch.sparse_csr_tensor(csr.crow_indices().to(torch.int32),
                                                   csr.col_indices().to(torch.int32), csr.values(),
                                                   size=tensor.shape, check_invariants=True)
        else:
            out[key] = tensor
    return out


def prune_ffn_neurons(model: nn.Module, amount: float) -> nn.Module:
    """Structured pruning of a BERT-style model: delete the fraction ``amount`` of feed-forward
    neurons with the smallest weights in every layer, physically (the matrices shrink), in place.

    A neuron ``j`` of layer ``l`` is row ``j`` of ``intermediate.dense`` (plus its bias) and column
    ``j`` of ``output.dense``; its score is the product of the L2 norms of that row and that column.
    Uses ``transformers.pytorch_utils.prune_linear_layer`` and updates ``config.intermediate_size``
    so the model saves and reloads.

    Raises:
        TypeError: if the model has no ``base_model.encoder.layer`` with ``intermediate``/``output``,
            or ``amount`` is not a number.
        ValueError: if ``amount`` is not in [0, 1).
    """
    from transformers.pytorch_utils import prune_linear_layer

    amount = checks.probability(amount, "amount", allow_one=False)
    layers = getattr(getattr(getattr(model, "base_model", None), "encoder", None), "layer", None)
    if layers is None or not all(hasattr(l, "intermediate") and hasattr(l, "output") for l in layers):
        raise TypeError(f"model: expected a BERT-style encoder with feed-forward blocks, got {type(model).__name__}")
    kept = None
    for layer in layers:
        up, down = layer.intermediate.dense, layer.output.dense
        score = up.weight.detach().norm(dim=1) * down.weight.detach().norm(dim=0)
        kept = up.out_features - int(round(amount * up.out_features))
        index = torch.argsort(score, descending=True)[:kept].sort().values
        layer.intermediate.dense = prune_linear_layer(up, index, dim=0)
        layer.output.dense = prune_linear_layer(down, index, dim=1)
    if kept is not None:
        model.config.intermediate_size = kept
    return model


def quantize_dynamic(model: nn.Module, dtype: torch.dtype = torch.qint8) -> nn.Module:
    """A copy of ``model`` with every ``nn.Linear`` replaced by a dynamically quantised int8 layer.

    Wraps ``torch.ao.quantization.quantize_dynamic(model, {nn.Linear}, dtype)`` (CPU inference only).
    PyTorch marks ``torch.ao.quantization`` as deprecated in favour of the separate ``torchao``
    package; it still works in torch 2.x, and the warning is silenced here. The original model
    is not changed.

    Raises:
        TypeError: if ``model`` is not an ``nn.Module``.
        ValueError: if ``dtype`` is not ``torch.qint8`` or ``torch.float16``.
    """
    model = _module(model)
    dtype = checks.one_of(dtype, "dtype", (torch.qint8, torch.float16))
    source = copy.deepcopy(model).to("cpu").eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        return torch.ao.quantization.quantize_dynamic(source, {nn.Linear}, dtype=dtype)


def quantized_paths(model: nn.Module) -> list[str]:
    """Names of the submodules whose class comes from a quantised-module package
    (``torch.ao.nn.quantized...``), i.e. the layers that :func:`quantize_dynamic` replaced.

    Detects by the class's module path, because the quantised class is *also* called ``Linear``:
    ``type(m).__name__ == "Linear"`` is true before and after quantisation.

    Raises:
        TypeError: if ``model`` is not an ``nn.Module``.
    """
    _module(model)
    found: list[str] = []
    for name, m in model.named_modules():  # parents come before their children
        if name and type(m).__module__.startswith(QUANTIZED_MODULE_PREFIXES) \
                and not any(name.startswith(outer + ".") for outer in found):
            found.append(name)  # skip e.g. "<layer>._packed_params" inside a quantised layer
    return found


def distillation_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float = 2.0,
                      reduction: str = "batchmean") -> torch.Tensor:
    """Hinton et al.'s soft-target loss: ``T**2 * KL(softmax(teacher / T) || softmax(student / T))``.

    The KL divergence is averaged over the batch (``reduction="batchmean"``, the mathematically
    correct mean of a KL; ``"mean"`` would also divide by the number of classes). Its gradient with
    respect to the student logits scales as ``1 / T**2`` for large ``T``; multiplying by ``T**2``
    keeps it comparable across temperatures and with a cross-entropy term on hard labels.
    The teacher's logits are detached.

    Args:
        student_logits, teacher_logits: float tensors of shape ``(batch, classes)``.
        temperature: ``T`` > 0; ``T = 1`` is the ordinary softmax, larger ``T`` softer targets.
        reduction: ``"batchmean"`` (default) or ``"sum"``.

    Returns:
        A scalar tensor.

    Raises:
        TypeError: logits that are not float tensors, ``temperature`` not a number (bools, strings).
        ValueError: if the shapes differ or are not 2-D, ``temperature`` is not a finite number > 0
            (NaN included), or ``reduction`` is not ``"batchmean"``/``"sum"``.
    """
    student_logits = checks.float_tensor(student_logits, "student_logits", ndim=2, finite=True)
    teacher_logits = checks.float_tensor(teacher_logits, "teacher_logits", finite=True)
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(f"teacher_logits: expected the 2-D shape of student_logits {tuple(student_logits.shape)}, "
                         f"got {tuple(teacher_logits.shape)}")
    t = checks.number(temperature, "temperature", minimum=0, strict_minimum=True)
    reduction = checks.one_of(reduction, "reduction", ("batchmean", "sum"))
    log_p_student = F.log_softmax(student_logits / t, dim=-1)
    log_p_teacher = F.log_softmax(teacher_logits.detach().to(student_logits.dtype) / t, dim=-1)
    return F.kl_div(log_p_student, log_p_teacher, reduction=reduction, log_target=True) * (t * t)


def latency_ms(model: nn.Module, dataset, tokenizer, batch_size: int = 32, repeats: int = 3) -> float:
    """Measured CPU inference time in milliseconds per example: the fastest of ``repeats`` passes of
    :func:`companion.loop.predict` over ``dataset`` (tokenised examples) after one warm-up pass.

    Raises:
        TypeError: ``model`` not an ``nn.Module``; ``repeats`` or ``batch_size`` not an int.
        ValueError: ``repeats`` or ``batch_size`` < 1; an empty ``dataset``.
    """
    from .loop import predict

    _module(model)
    repeats = checks.integer(repeats, "repeats")
    batch_size = checks.integer(batch_size, "batch_size")
    if not hasattr(dataset, "__len__") or isinstance(dataset, (str, bytes)):
        raise TypeError(f"dataset: expected a datasets.Dataset (or a list of examples), got {type(dataset).__name__}")
    if len(dataset) == 0:
        raise ValueError("dataset: no examples")
    model = model.to("cpu")
    warm = dataset.select(range(min(batch_size, len(dataset)))) if hasattr(dataset, "select") else dataset[:batch_size]
    predict(model, warm, tokenizer, batch_size=batch_size)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        predict(model, dataset, tokenizer, batch_size=batch_size)
        best = min(best, time.perf_counter() - start)
    return 1000 * best / len(dataset)
