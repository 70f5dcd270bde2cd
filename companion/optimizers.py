"""Optimisers and parameter groups for fine-tuning.

* :func:`decay_parameter_names` / :func:`param_groups` -- weight decay on weight matrices only, not on
  biases and LayerNorm parameters (the rule the Hugging Face ``Trainer`` uses);
* :func:`layer_index`, :func:`layerwise_lr_groups` -- layer-wise learning-rate decay: the top of the
  network learns fastest, the embeddings slowest (Howard & Ruder, ACL 2018, "discriminative
  fine-tuning"; Sun et al., CCL 2019);
* :func:`freeze_lower_layers` -- keep the embeddings and the lowest encoder layers fixed;
* :func:`make_optimizer` -- SGD, Adam (with coupled L2), AdamW (decoupled weight decay, Loshchilov &
  Hutter, ICLR 2019) or Adafactor (factored second moments, Shazeer & Stern, ICML 2018), all from
  ``torch.optim``;
* :func:`optimizer_state_bytes` -- the memory an optimiser keeps per parameter;
* :func:`mezo_step` / :class:`MeZO` -- zeroth-order, forward-only fine-tuning (Malladi et al.,
  NeurIPS 2023, "Fine-Tuning Language Models with Just Forward Passes").

Book sections: chapter 5.3 (freezing, layer-wise learning-rate decay, weight decay) and chapter 6.1
(first-order vs zeroth-order optimisers, Adafactor).
"""

from __future__ import annotations

import math
import re
from typing import Callable, Iterable, Sequence

import torch

from . import checks

OPTIMIZERS = ("sgd", "adam", "adamw", "adafactor")
_NO_DECAY = re.compile(r"bias|layernorm|layer_norm|(?:^|\.)norm(?:$|\.)|_norm(?:$|\.)", re.IGNORECASE)
_LAYER = re.compile(r"(?:^|\.)layers?\.(\d+)\.")


# ---------------------------------------------------------------------------- parameter groups
def decay_parameter_names(model: torch.nn.Module) -> list[str]:
    """Names of the trainable parameters that weight decay applies to: everything except biases and
    normalisation layers (``nn.LayerNorm`` modules or names containing ``LayerNorm``/``norm``).

    Decaying a LayerNorm gain towards 0 or a bias towards 0 has no regularising meaning, so the
    ``Trainer`` exempts them; this function reproduces its choice (the tests check it against
    ``Trainer.get_decay_parameter_names``).

    Raises:
        TypeError: ``model`` is not a ``torch.nn.Module``.
    """
    checks.instance(model, "model", torch.nn.Module)
    norm_params = set()
    for module_name, module in model.named_modules():
        if isinstance(module, torch.nn.LayerNorm):
            for pname, _ in module.named_parameters(recurse=False):
                norm_params.add(f"{module_name}.{pname}" if module_name else pname)
    return [n for n, p in model.named_parameters()
            if n not in norm_params and not _NO_DECAY.search(n)]


def _check_weight_decay(weight_decay) -> float:
    return checks.number(weight_decay, "weight_decay", minimum=0)


def _check_step_size(value, name: str) -> float:
    return checks.number(value, name, minimum=0, strict_minimum=True)


def param_groups(model: torch.nn.Module, weight_decay: float, *, lr: float | None = None,
                 lr_by_prefix: dict[str, float] | None = None) -> list[dict]:
    """Optimiser parameter groups, as the ``Trainer`` builds them: weight matrices with ``weight_decay``,
    biases and LayerNorm parameters with 0 (:func:`decay_parameter_names`). Frozen parameters are left out.

    With ``lr_by_prefix`` (e.g. ``{"encoder.": 5e-5}`` for a warm-started encoder-decoder whose new
    decoder trains at ``lr=5e-4``), a parameter whose name starts with a prefix gets that learning rate
    (the longest matching prefix wins), the others ``lr``; each group then carries its own ``"lr"``.

    Returns:
        A list of dicts for any ``torch.optim`` optimiser (empty groups dropped), each with ``params``,
        ``weight_decay`` and, when learning rates are given, ``lr``.

    Raises:
        TypeError / ValueError: ``weight_decay`` not a finite number >= 0; a learning rate not a positive
            finite number; a prefix that matches no trainable parameter.
    """
    weight_decay = _check_weight_decay(weight_decay)
    if lr is not None:
        lr = _check_step_size(lr, "lr")
    if lr_by_prefix is not None:
        checks.instance(lr_by_prefix, "lr_by_prefix", dict, what="a dict {parameter-name prefix: lr}")
    prefixes = {}
    for prefix, value in (lr_by_prefix or {}).items():
        if not isinstance(prefix, str) or not prefix:
            raise TypeError(f"lr_by_prefix: keys must be non-empty parameter-name prefixes, got {prefix!r}")
        prefixes[prefix] = _check_step_size(value, f"lr_by_prefix[{prefix!r}]")
    decay = set(decay_parameter_names(model))
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    for prefix in prefixes:
        if not any(n.startswith(prefix) for n, _ in named):
            raise ValueError(f"lr_by_prefix: no trainable parameter name starts with {prefix!r}")

    def rate(name):
        matches = [pre for pre in prefixes if name.startswith(pre)]
        return prefixes[max(matches, key=len)] if matches else lr

    groups: dict = {}
    for n, p in named:
        key = (rate(n), n in decay)
        groups.setdefault(key, []).append(p)
    out = []
    for (group_lr, decays), params in groups.items():
        group = {"params": params, "weight_decay": weight_decay if decays else 0.0}
        if group_lr is not None:
            group["lr"] = group_lr
        out.append(group)
    return out


def num_encoder_layers(model: torch.nn.Module) -> int:
    """Number of Transformer blocks (``...layer.<i>.`` in the parameter names); 0 if there are none.

    Raises:
        TypeError: ``model`` is not a ``torch.nn.Module``.
    """
    checks.instance(model, "model", torch.nn.Module)
    ids = {int(m.group(1)) for n, _ in model.named_parameters() if (m := _LAYER.search(n))}
    return max(ids) + 1 if ids else 0


def layer_index(name: str, num_layers: int) -> int:
    """Depth of a parameter in a BERT-style model: 0 for the embeddings, ``i + 1`` for encoder
    block ``i``, ``num_layers + 1`` for everything above the encoder (pooler, task head).

    Raises:
        TypeError: ``name`` is not a string.
        ValueError: if ``num_layers`` is not a positive int.
    """
    checks.text(name, "name")
    num_layers = checks.integer(num_layers, "num_layers")
    if "embeddings" in name:
        return 0
    m = _LAYER.search(name)
    if m:
        return int(m.group(1)) + 1
    return num_layers + 1


def layerwise_lr_groups(model: torch.nn.Module, lr: float, decay: float, weight_decay: float = 0.0
                        ) -> list[dict]:
    """Parameter groups with layer-wise learning-rate decay (LLRD).

    A parameter at depth ``d`` (see :func:`layer_index`; the head has depth ``L + 1`` for ``L``
    encoder blocks) gets learning rate ``lr * decay ** (L + 1 - d)``: the head trains at ``lr``,
    each block below at ``decay`` times the one above, the embeddings at ``lr * decay ** (L + 1)``.
    Lower layers hold more general features, so they should move less (Howard & Ruder 2018;
    Sun et al. 2019 used ``decay = 0.95``). Weight decay follows :func:`param_groups`; frozen
    parameters are left out. Each group records its ``depth``; a scheduler such as
    ``get_linear_schedule_with_warmup`` scales every group's rate by the same factor.

    Raises:
        ValueError: if ``lr`` is not positive, ``decay`` is not in (0, 1], ``weight_decay`` is not a
            finite number >= 0, or the model has no encoder layers.
    """
    lr = _check_step_size(lr, "lr")
    decay = checks.number(decay, "decay", minimum=0, maximum=1, strict_minimum=True)
    weight_decay = _check_weight_decay(weight_decay)
    n_layers = num_encoder_layers(model)
    if n_layers == 0:
        raise ValueError("model: found no '...layer.<i>.' parameters to assign depths to")
    decayed = set(decay_parameter_names(model))
    groups: dict[tuple[int, bool], dict] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        depth = layer_index(name, n_layers)
        key = (depth, name in decayed)
        if key not in groups:
            groups[key] = {"params": [], "lr": lr * decay ** (n_layers + 1 - depth), "depth": depth,
                           "weight_decay": weight_decay if name in decayed else 0.0}
        groups[key]["params"].append(p)
    return [groups[k] for k in sorted(groups)]


def freeze_lower_layers(model: torch.nn.Module, n_layers: int, freeze_embeddings: bool = True) -> int:
    """Freeze the embeddings (if ``freeze_embeddings``) and encoder blocks ``0 .. n_layers - 1``.

    Returns:
        The number of parameter elements frozen.

    Raises:
        ValueError: if ``n_layers`` is negative or larger than the model's number of blocks.
    """
    total = num_encoder_layers(model)
    n_layers = checks.integer(n_layers, "n_layers", minimum=0, maximum=total)
    freeze_embeddings = checks.boolean(freeze_embeddings, "freeze_embeddings")
    frozen = 0
    for name, p in model.named_parameters():
        depth = layer_index(name, max(total, 1))
        if (depth == 0 and freeze_embeddings) or 1 <= depth <= n_layers:
            if p.requires_grad:
                p.requires_grad_(False)
                frozen += p.numel()
    return frozen


# ---------------------------------------------------------------------------- optimisers
def make_optimizer(name: str, groups: Iterable, lr: float, weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """A ``torch.optim`` optimiser by name.

    * ``"sgd"`` -- SGD with momentum 0.9; ``weight_decay`` is added to the gradient (L2).
    * ``"adam"`` -- Adam (Kingma & Ba, ICLR 2015) with *coupled* L2: ``weight_decay * w`` is added to
      the gradient and then divided by the adaptive denominator like any gradient.
    * ``"adamw"`` -- AdamW: the decay ``lr * weight_decay * w`` is applied to the weights directly,
      outside the adaptive update (Loshchilov & Hutter, ICLR 2019).
    * ``"adafactor"`` -- ``torch.optim.Adafactor``: no first moment, and for a matrix only a row and a
      column vector of second-moment statistics (Shazeer & Stern, ICML 2018).

    ``groups`` may be parameters or parameter-group dicts (a group's own ``weight_decay``/``lr`` win).

    Raises:
        ValueError: for an unknown ``name`` or a non-positive ``lr``.
    """
    checks.one_of(name, "name", OPTIMIZERS)
    lr = _check_step_size(lr, "lr")
    weight_decay = _check_weight_decay(weight_decay)
    groups = _check_groups(groups)
    if name == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=0.9, weight_decay=weight_decay)
    if name == "adam":
        return torch.optim.Adam(groups, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(groups, lr=lr, weight_decay=weight_decay)
    return torch.optim.Adafactor(groups, lr=lr, weight_decay=weight_decay)


def _check_groups(groups) -> list:
    """``groups`` as a non-empty list of tensors or parameter-group dicts."""
    if isinstance(groups, (str, bytes, torch.Tensor)) or not hasattr(groups, "__iter__"):
        raise TypeError(f"groups: expected parameters or parameter-group dicts, got {type(groups).__name__}")
    groups = list(groups)
    if not groups:
        raise ValueError("groups: no parameters to optimise (is every parameter frozen?)")
    for i, g in enumerate(groups):
        if not isinstance(g, (torch.Tensor, dict)):
            raise TypeError(f"groups[{i}]: expected a parameter tensor or a parameter-group dict, got {type(g).__name__}")
    return groups


def _check_params(params, name: str = "params") -> list[torch.Tensor]:
    if isinstance(params, (str, bytes, torch.Tensor)) or not hasattr(params, "__iter__"):
        raise TypeError(f"{name}: expected an iterable of tensors (e.g. model.parameters()), got {type(params).__name__}")
    params = list(params)
    if any(isinstance(p, dict) for p in params):
        raise TypeError(f"{name}: expected tensors (e.g. model.parameters()), not parameter-group dicts")
    for i, p in enumerate(params):
        checks.instance(p, f"{name}[{i}]", torch.Tensor, what="a tensor")
    return params


def optimizer_state_bytes(optimizer: torch.optim.Optimizer) -> int:
    """Bytes of every tensor in ``optimizer.state`` (moments, factored statistics, step counters).

    The state is created lazily by the first ``step()``; before it, this returns 0. AdamW keeps two
    float32 tensors the size of each parameter (8 bytes per parameter); Adafactor keeps, for an
    ``(m, n)`` matrix, vectors of ``m`` and ``n`` values.

    Raises:
        TypeError: ``optimizer`` has no ``state`` dict.
    """
    if not isinstance(getattr(optimizer, "state", None), dict):
        raise TypeError(f"optimizer: expected an optimiser with a .state dict, got {type(optimizer).__name__}")
    total = 0
    for state in optimizer.state.values():
        for value in state.values():
            if isinstance(value, torch.Tensor):
                total += value.numel() * value.element_size()
    return int(total)


# ---------------------------------------------------------------------------- MeZO
def _perturb(params: Sequence[torch.Tensor], scale: float, seed: int) -> None:
    """``θ ← θ + scale · z`` with ``z ~ N(0, I)`` regenerated from ``seed`` (never stored)."""
    gen = None
    for p in params:
        if gen is None or gen.device != p.device:
            gen = torch.Generator(device=p.device).manual_seed(seed)
        z = torch.randn(p.shape, generator=gen, device=p.device, dtype=p.dtype)
        p.data.add_(z, alpha=scale)


def _scalar_loss(value, name: str) -> float:
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ValueError(f"{name}: expected a scalar loss, got a tensor of shape {tuple(value.shape)}")
        value = value.item()
    value = checks.number(value, name, finite=False) if not (isinstance(value, float) and math.isnan(value)) \
        else value
    if not math.isfinite(value):
        raise ValueError(f"{name}: the loss is {value}; MeZO's update would poison every parameter")
    return value


@torch.no_grad()
def mezo_step(params: Sequence[torch.Tensor], loss_fn: Callable[[], torch.Tensor | float], *, lr: float,
              eps: float = 1e-3, seed: int) -> tuple[float, float]:
    """One MeZO step (Malladi et al., NeurIPS 2023, Algorithm 1): two forward passes, no backward.

    1. ``θ ← θ + εz``, ``ℓ+ = loss_fn()``; 2. ``θ ← θ − 2εz``, ``ℓ− = loss_fn()``; 3. ``θ ← θ + εz``
    (back to the start, up to rounding); 4. projected gradient ``g = (ℓ+ − ℓ−) / 2ε`` -- an estimate
    of the directional derivative ``∇ℓ · z``; 5. ``θ ← θ − lr · g · z``.

    ``z ~ N(0, I)`` over all of ``params`` is never stored: it is regenerated from ``seed`` each time
    (one ``torch.Generator`` walked through ``params`` in order), so the memory cost is that of
    inference. ``g · z`` is an unbiased estimate of the gradient of a Gaussian-smoothed loss (SPSA,
    Spall 1992); its variance grows with the number of parameters, so MeZO needs many more steps
    than backpropagation.

    Args:
        params: the tensors to train (in a fixed order).
        loss_fn: computes the loss of the current minibatch at the current ``params`` (no grad).
        lr: learning rate.
        eps: perturbation size ε (1e-3 in the paper).
        seed: seed of this step's ``z``; use a different one per step.

    Returns:
        ``(loss, projected_grad)`` with ``loss = (ℓ+ + ℓ−) / 2``.

    Raises:
        ValueError: if ``lr`` or ``eps`` is not a positive finite number, ``params`` is empty, or
            ``loss_fn`` returns a non-finite or non-scalar loss (``params`` are then restored, as
            they are when ``loss_fn`` raises).
    """
    lr = _check_step_size(lr, "lr")
    eps = _check_step_size(eps, "eps")
    seed = checks.integer(seed, "seed", minimum=0)
    checks.function(loss_fn, "loss_fn")
    params = _check_params(params)
    if not params:
        raise ValueError("params: nothing to train")
    _perturb(params, eps, seed)
    offset = eps  # how far params are from where they started, in units of z
    try:
        loss_plus = _scalar_loss(loss_fn(), "loss_fn (at θ + εz)")
        _perturb(params, -2 * eps, seed)
        offset = -eps
        loss_minus = _scalar_loss(loss_fn(), "loss_fn (at θ - εz)")
    finally:
        _perturb(params, -offset, seed)  # back to the start, also when loss_fn fails
    projected_grad = (loss_plus - loss_minus) / (2 * eps)
    _perturb(params, -lr * projected_grad, seed)
    return (loss_plus + loss_minus) / 2, projected_grad


class MeZO:
    """MeZO as a small optimiser object: ``step(loss_fn)`` runs :func:`mezo_step` with a fresh seed.

    Args:
        params: parameters to train (those with ``requires_grad`` are kept; the order is fixed).
        lr: learning rate (constant, or changed by the caller between steps).
        eps: perturbation size ε.
        seed: seed of the stream of per-step seeds.

    Raises:
        ValueError: as :func:`mezo_step`.
    """

    def __init__(self, params: Iterable[torch.Tensor], lr: float, eps: float = 1e-3, seed: int = 0):
        params = _check_params(params)
        self.params = [p for p in params if p.requires_grad]
        if not self.params:
            raise ValueError("params: nothing to train")
        self.lr, self.eps = _check_step_size(lr, "lr"), _check_step_size(eps, "eps")
        self._seeds = torch.Generator().manual_seed(checks.integer(seed, "seed", minimum=0))
        self.state: dict = {}  # no per-parameter state: that is the point

    def step(self, loss_fn: Callable[[], torch.Tensor | float]) -> tuple[float, float]:
        """One MeZO step; returns ``(loss, projected_grad)``."""
        checks.function(loss_fn, "loss_fn")
        seed = int(torch.randint(0, 2**62, (1,), generator=self._seeds))
        return mezo_step(self.params, loss_fn, lr=self.lr, eps=self.eps, seed=seed)


__all__ = [
    "OPTIMIZERS", "MeZO", "decay_parameter_names", "freeze_lower_layers", "layer_index", "layerwise_lr_groups",
    "make_optimizer", "mezo_step", "num_encoder_layers", "optimizer_state_bytes", "param_groups",
]
