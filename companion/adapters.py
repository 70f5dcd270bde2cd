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
        ValueError: if ``r`` is not a positive int, ``lora_dropout`` is outside [0, 1), or a name
            in ``target_modules`` or ``modules_to_save`` matches no module of ``model``.
    """
    from peft import LoraConfig, TaskType, get_peft_model

    if not isinstance(r, int) or isinstance(r, bool) or r <= 0:
        raise ValueError(f"r: the LoRA rank must be a positive int, got {r!r}")
    if not 0 <= lora_dropout < 1:
        raise ValueError(f"lora_dropout: expected a value in [0, 1), got {lora_dropout!r}")
    if isinstance(target_modules, str):
        target_modules = [target_modules]
    names = _module_names(model)
    unmatched = [t for t in target_modules if not any(n == t or n.endswith("." + t) for n in names)]
    if unmatched:
        linear = sorted({n.rsplit(".", 1)[-1] for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)})
        raise ValueError(f"target_modules: {unmatched} match no module of the model; its Linear layers are named {linear}")
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
        if not isinstance(v, int) or v <= 0:
            raise ValueError(f"{name}: expected a positive int, got {v!r}")
    return n_layers * n_targets * r * (d_in + d_out)


# ---------------------------------------------------------------------------- 8.2 sequence-to-sequence LoRA
def _check_lora_arguments(model: torch.nn.Module, r, lora_dropout, target_modules, modules_to_save):
    if not isinstance(r, int) or isinstance(r, bool) or r <= 0:
        raise ValueError(f"r: the LoRA rank must be a positive int, got {r!r}")
    if not 0 <= lora_dropout < 1:
        raise ValueError(f"lora_dropout: expected a value in [0, 1), got {lora_dropout!r}")
    target_modules = [target_modules] if isinstance(target_modules, str) else list(target_modules)
    modules_to_save = [modules_to_save] if isinstance(modules_to_save, str) else list(modules_to_save)
    if not target_modules:
        raise ValueError("target_modules: name at least one module to adapt")
    names = _module_names(model)
    unmatched = [t for t in target_modules if not any(n == t or n.endswith("." + t) for n in names)]
    if unmatched:
        linear = sorted({n.rsplit(".", 1)[-1] for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)})
        raise ValueError(f"target_modules: {unmatched} match no module of the model; its Linear layers are named {linear}")
    unmatched = [m for m in modules_to_save if not any(n == m or n.endswith("." + m) for n in names)]
    if unmatched:
        raise ValueError(f"modules_to_save: {unmatched} match no module of the model")
    return target_modules, modules_to_save


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
        ValueError: if ``r`` is not a positive int, ``lora_dropout`` is outside [0, 1), or a name in
            ``target_modules`` or ``modules_to_save`` matches no module (the message lists the names
            of the model's Linear layers).
    """
    from peft import LoraConfig, TaskType, get_peft_model

    targets, to_save = _check_lora_arguments(model, r, lora_dropout, target_modules, modules_to_save)
    config = LoraConfig(task_type=TaskType.SEQ_2_SEQ_LM, r=r, lora_alpha=lora_alpha, lora_dropout=lora_dropout,
                        target_modules=targets, modules_to_save=to_save or None)
    return get_peft_model(model, config)
