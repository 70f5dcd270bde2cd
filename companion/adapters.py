"""Parameter-efficient fine-tuning: adapters and LoRA.

LoRA (Hu et al., ICLR 2022, "LoRA: Low-Rank Adaptation of Large Language Models") freezes a
pretrained weight ``W`` (shape ``(d_out, d_in)``) and learns a low-rank update
``ΔW = (lora_alpha / r) · B A`` with ``A`` of shape ``(r, d_in)`` and ``B`` of shape
``(d_out, r)``, ``B`` initialised to zero so that training starts from the pretrained model.
We use the well-kept ``peft`` library for it.

Book sections: the text-classification case (8.1), "The adapter step, done as LoRA"; chapter 4.2.
"""

from __future__ import annotations

from typing import Sequence

import torch


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
        TypeError: if ``model`` is not a ``torch.nn.Module``.
        ValueError: if ``r`` is not a positive int, ``lora_alpha`` is not a positive number (0 would
            make the update zero forever), ``lora_dropout`` is not a number in [0, 1),
            ``target_modules`` is empty, or a name in ``target_modules`` or ``modules_to_save``
            matches no module of ``model``.
    """
    from peft import LoraConfig, TaskType, get_peft_model

    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(r, int) or isinstance(r, bool) or r <= 0:
        raise ValueError(f"r: the LoRA rank must be a positive int, got {r!r}")
    if isinstance(lora_alpha, bool) or not isinstance(lora_alpha, (int, float)) or not lora_alpha > 0:
        raise ValueError(f"lora_alpha: expected a positive number, got {lora_alpha!r}")
    if isinstance(lora_dropout, bool) or not isinstance(lora_dropout, (int, float)) or not 0 <= lora_dropout < 1:
        raise ValueError(f"lora_dropout: expected a number in [0, 1), got {lora_dropout!r}")
    if isinstance(target_modules, str):
        target_modules = [target_modules]
    if not target_modules:
        raise ValueError(f"target_modules: expected one or more module names, got {target_modules!r}")
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
    if isinstance(modules_to_save, str):
        modules_to_save = [modules_to_save]
    unmatched = [m for m in modules_to_save if not any(n == m or n.endswith("." + m) for n in names)]
    if unmatched:
        raise ValueError(f"modules_to_save: {unmatched} match no module of the model")
    config = LoraConfig(task_type=TaskType.SEQ_CLS, r=r, lora_alpha=lora_alpha,
                        lora_dropout=lora_dropout, target_modules=list(target_modules),
                        modules_to_save=list(modules_to_save) or None)
    return get_peft_model(model, config)


def lora_parameter_count(d_in: int, d_out: int, r: int, n_layers: int, n_targets: int = 2) -> int:
    """Trainable LoRA parameters: ``n_layers · n_targets · r · (d_in + d_out)``.

    Each adapted ``(d_out, d_in)`` weight gets ``A`` (``r × d_in``) and ``B`` (``d_out × r``).

    Raises:
        ValueError: if any argument is not a positive int.
    """
    for name, v in dict(d_in=d_in, d_out=d_out, r=r, n_layers=n_layers, n_targets=n_targets).items():
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise ValueError(f"{name}: expected a positive int, got {v!r}")
    return n_layers * n_targets * r * (d_in + d_out)
