"""Machine translation, English -> Chinese: a character vocabulary, encoder-decoder models, decoding
and simple error analysis. Data: :mod:`companion.data.tatoeba`; training: :mod:`companion.trainer`
(``training_arguments(..., seq2seq=True)``); per-part learning rates: :func:`companion.optimizers.param_groups`.

Two ways to get a translation model without training one from scratch on millions of pairs:

* **Fine-tune a pretrained translation model** (the ``gpu`` profile): MarianMT
  ``Helsinki-NLP/opus-mt-en-zh`` (Tiedemann & Thottingal, EAMT 2020, "OPUS-MT -- Building open
  translation services for the World"; Junczys-Dowmunt et al., ACL 2018, "Marian"). It is
  multi-target: every source sentence must start with a target-language token such as
  ``>>cmn_Hans<<`` (Mandarin, simplified script).
* **Warm-start an encoder-decoder** from a pretrained *encoder* (the ``cpu`` profile; Rothe,
  Narayan & Severyn, TACL 2020, "Leveraging Pre-trained Checkpoints for Sequence Generation
  Tasks"): the pretrained English MiniLM reads the source, and a small, randomly initialised
  Transformer decoder with cross-attention writes Chinese characters from a vocabulary built on the
  training targets. transformers' ``EncoderDecoderModel`` joins the two.

Data: Tatoeba English-Mandarin pairs (https://tatoeba.org, CC-BY 2.0 FR; the committed sample keeps
the attribution of every pair), or any hub dataset of pairs that loads without a script.

Book section: the machine-translation case (8.2).
"""

from __future__ import annotations

import collections
import json
import os
import tempfile
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import torch
from datasets import DatasetDict

from . import checks
from .loading import TASK_HEADS, TOKENIZER_FILES, check_location, check_vocabulary, from_pretrained_checked, naming
from .models import model_location

#: Target-language token of opus-mt-en-zh for Mandarin in simplified script.
MARIAN_TARGET_TOKEN = ">>cmn_Hans<<"
#: Special tokens of the character vocabulary, with fixed ids 0-3.
CHAR_SPECIALS = ("[PAD]", "[UNK]", "[BOS]", "[EOS]")
_EOD_WARNING = "Version v4.12.0 introduces a better way to train encoder-decoder models"


# ---------------------------------------------------------------------------- a character vocabulary
def train_char_tokenizer(texts: Iterable[str], *, min_frequency: int = 1, model_max_length: int = 128):
    """A character-level tokenizer for Chinese targets, built from training texts.

    Every character (spaces included) is one token; characters seen fewer than ``min_frequency``
    times map to ``[UNK]``. Encoding appends ``[EOS]``; decoding joins the characters back without
    spaces. Ids: ``[PAD]`` 0, ``[UNK]`` 1, ``[BOS]`` 2 (the decoder's start token), ``[EOS]`` 3, then
    characters by decreasing frequency (ties by code point), so the vocabulary is deterministic.

    Chinese is written without spaces between words, and a few thousand characters cover almost all
    everyday text, so characters are a simple, segmentation-free target vocabulary.

    Returns:
        A ``transformers.PreTrainedTokenizerFast``.

    Raises:
        ValueError: if ``texts`` is empty or ``min_frequency`` < 1.
    """
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    texts = checks.texts(texts, "texts")
    min_frequency = checks.integer(min_frequency, "min_frequency")
    model_max_length = checks.integer(model_max_length, "model_max_length")
    counts = collections.Counter(ch for t in texts for ch in t if ch not in "\n\r")
    chars = sorted((c for c, n in counts.items() if n >= min_frequency), key=lambda c: (-counts[c], c))
    vocab = {tok: i for i, tok in enumerate(list(CHAR_SPECIALS) + chars)}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    tok.post_processor = processors.TemplateProcessing(single="$A [EOS]", special_tokens=[("[EOS]", 3)])
    tok.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="[PAD]", unk_token="[UNK]", bos_token="[BOS]",
                                   eos_token="[EOS]", model_max_length=model_max_length)


# ---------------------------------------------------------------------------- models
def decoder_config(vocab_size: int, *, hidden_size: int = 256, num_layers: int = 3, num_heads: int = 4,
                   intermediate_size: int = 1024, max_positions: int = 128, dropout: float = 0.1):
    """A ``BertConfig`` for a Transformer *decoder*: causal self-attention (``is_decoder=True``),
    cross-attention to the encoder (``add_cross_attention=True``) and an LM head over ``vocab_size``
    target tokens. Special ids follow :data:`CHAR_SPECIALS` (pad 0, bos 2, eos 3).

    Raises:
        ValueError: if a size is not a positive int or ``hidden_size`` is not divisible by ``num_heads``.
    """
    from transformers import BertConfig

    sizes = dict(vocab_size=vocab_size, hidden_size=hidden_size, num_layers=num_layers, num_heads=num_heads,
                 intermediate_size=intermediate_size, max_positions=max_positions)
    for name, v in sizes.items():
        checks.integer(v, name)
    dropout = checks.probability(dropout, "dropout", allow_one=False)
    if hidden_size % num_heads:
        raise ValueError(f"num_heads: {num_heads} does not divide hidden_size {hidden_size}")
    return BertConfig(vocab_size=vocab_size, hidden_size=hidden_size, num_hidden_layers=num_layers,
                      num_attention_heads=num_heads, intermediate_size=intermediate_size,
                      max_position_embeddings=max_positions, hidden_dropout_prob=dropout,
                      attention_probs_dropout_prob=dropout, is_decoder=True, add_cross_attention=True,
                      pad_token_id=0, bos_token_id=2, eos_token_id=3)


def build_encoder_decoder(encoder: str, target_tokenizer, *, pretrained: bool = True, seed: int = 0,
                          encoder_vocab_size: int | None = None, max_new_tokens: int = 64, **decoder_sizes):
    """An ``EncoderDecoderModel``: a BERT encoder and a new Transformer decoder (:func:`decoder_config`).

    Args:
        encoder: ``"minilm"`` (the offline all-MiniLM-L6-v2), a hub id / directory of a BERT-like
            encoder, or ``"tiny-random-bert"`` (2 layers, hidden 32; smoke profile).
        target_tokenizer: the target vocabulary (e.g. :func:`train_char_tokenizer`); sets the
            decoder's vocabulary size and its pad/start/end ids.
        pretrained: ``True`` loads the encoder's pretrained weights (warm start, Rothe et al. 2020);
            ``False`` builds the *same* architecture with random weights (the control).
        seed: seed of every randomly initialised weight.
        encoder_vocab_size: vocabulary size of the tiny random encoder (required for it).
        max_new_tokens: default generation length (target tokens).
        **decoder_sizes: passed to :func:`decoder_config`.

    Returns:
        An ``EncoderDecoderModel`` in float32 whose ``config`` and ``generation_config`` carry
        ``decoder_start_token_id`` ([BOS]), ``eos_token_id`` and ``pad_token_id``. When the encoder's
        hidden size differs from the decoder's, the model adds a linear projection
        (``enc_to_dec_proj``) between them.

    Raises:
        ValueError: if ``encoder`` is ``"tiny-random-bert"`` and ``encoder_vocab_size`` is missing, or
            the target tokenizer lacks the special tokens of :data:`CHAR_SPECIALS`; if the pretrained
            ``encoder``'s checkpoint lacks weights, holds weights its config has no place for, or has a
            corrupt file (:func:`companion.loading.from_pretrained_checked`).
        TypeError / FileNotFoundError: ``encoder`` is not a name, hub id or existing model directory.
    """
    from transformers import AutoConfig, AutoModel, BertConfig, BertLMHeadModel, BertModel, EncoderDecoderModel

    pretrained = checks.boolean(pretrained, "pretrained")
    seed = checks.integer(seed, "seed", minimum=0)
    max_new_tokens = checks.integer(max_new_tokens, "max_new_tokens")
    if encoder != "tiny-random-bert":
        encoder = check_location(model_location(encoder) if encoder == "minilm" else encoder, "encoder")
    if encoder_vocab_size is not None:
        encoder_vocab_size = checks.integer(encoder_vocab_size, "encoder_vocab_size")
    if not callable(getattr(target_tokenizer, "convert_tokens_to_ids", None)):
        raise TypeError(f"target_tokenizer: expected a tokenizer (e.g. from train_char_tokenizer), got "
                        f"{type(target_tokenizer).__name__}")
    ids = {name: target_tokenizer.convert_tokens_to_ids(name) for name in CHAR_SPECIALS}
    if [ids[n] for n in CHAR_SPECIALS] != [0, 1, 2, 3]:
        raise ValueError(f"target_tokenizer: expected special tokens {CHAR_SPECIALS} at ids 0-3, got {ids}")
    # the model computes the loss itself and warns about it at every step; the warning is not for us
    warnings.filterwarnings("ignore", message=_EOD_WARNING, category=FutureWarning)
    torch.manual_seed(seed)
    if encoder == "tiny-random-bert":
        if encoder_vocab_size is None:
            raise ValueError("encoder_vocab_size: the tiny random encoder needs its vocabulary size")
        enc = BertModel(BertConfig(vocab_size=encoder_vocab_size, hidden_size=32, num_hidden_layers=2,
                                   num_attention_heads=2, intermediate_size=64, max_position_embeddings=128),
                        add_pooling_layer=False)
    elif pretrained:
        enc = from_pretrained_checked(AutoModel, encoder, "encoder", unused_allowed=TASK_HEADS, add_pooling_layer=False)
    else:
        with naming(encoder, "encoder", "config", ("config.json",)):
            config = AutoConfig.from_pretrained(encoder)
        enc = AutoModel.from_config(config, add_pooling_layer=False)
    torch.manual_seed(seed + 1)
    dec = BertLMHeadModel(decoder_config(len(target_tokenizer), **decoder_sizes))
    model = EncoderDecoderModel(encoder=enc, decoder=dec)
    for cfg in (model.config, model.generation_config):
        cfg.decoder_start_token_id = ids["[BOS]"]
        cfg.bos_token_id = ids["[BOS]"]
        cfg.eos_token_id = ids["[EOS]"]
        cfg.pad_token_id = ids["[PAD]"]
    model.generation_config.max_new_tokens = max_new_tokens
    return model


# ---------------------------------------------------------------------------- tokenisation
def encode_pairs(ds, tokenizer, *, target_tokenizer=None, source: str = "en", target: str = "zh",
                 max_source_length: int = 64, max_target_length: int = 64, prefix: str = ""):
    """Tokenise sentence pairs for a sequence-to-sequence model, *without* padding.

    Source sentences (``prefix`` + text, e.g. ``">>cmn_Hans<< "`` for opus-mt-en-zh) become
    ``input_ids``/``attention_mask``; target sentences become ``labels``. With one tokenizer for both
    sides (MarianMT), targets are tokenised with ``tokenizer(text_target=...)``, which switches it
    to its target vocabulary; with a separate ``target_tokenizer`` (the warm-started model), that
    one is used. ``DataCollatorForSeq2Seq`` pads each batch later: inputs with the pad id, labels
    with -100 (ignored by the loss). Adds ``length`` (source tokens) for length-grouped batches.

    Args:
        ds: a ``Dataset`` or ``DatasetDict`` with string columns ``source`` and ``target``.
        tokenizer: the source tokenizer (and the target one if ``target_tokenizer`` is ``None``).
        max_source_length, max_target_length: truncation lengths in tokens.
        prefix: text put before every source sentence.

    Raises:
        ValueError: for a missing column or a non-positive length.
    """
    max_source_length = checks.integer(max_source_length, "max_source_length")
    max_target_length = checks.integer(max_target_length, "max_target_length")
    columns = ds["train"].column_names if isinstance(ds, DatasetDict) else ds.column_names
    for name, col in (("source", source), ("target", target)):
        if col not in columns:
            raise ValueError(f"{name}: no column {col!r} (columns: {columns})")

    def fn(batch):
        enc = tokenizer([prefix + s for s in batch[source]], max_length=max_source_length, truncation=True,
                        return_token_type_ids=False)
        if target_tokenizer is None:
            labels = tokenizer(text_target=batch[target], max_length=max_target_length, truncation=True)["input_ids"]
        else:
            labels = target_tokenizer(batch[target], max_length=max_target_length, truncation=True)["input_ids"]
        return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"], "labels": labels,
                "length": [len(x) for x in enc["input_ids"]]}

    drop = columns
    return ds.map(fn, batched=True, remove_columns=drop)


# ---------------------------------------------------------------------------- training
def bleu_compute_metrics(target_tokenizer, *, tokenize: str = "zh"):
    """A ``compute_metrics`` hook for ``Seq2SeqTrainer(predict_with_generate=True)``.

    Decodes generated ids and labels (-100 replaced by the pad id) with ``target_tokenizer`` and
    returns ``{"bleu": corpus BLEU, "chrf": corpus chrF}`` (sacreBLEU, ``tokenize`` for BLEU).
    """
    from .metrics import corpus_bleu, corpus_chrf

    pad = target_tokenizer.pad_token_id

    def compute(eval_pred):
        preds, labels = eval_pred
        preds = preds[0] if isinstance(preds, tuple) else preds
        preds = np.where(np.asarray(preds) < 0, pad, preds)
        labels = np.where(np.asarray(labels) == -100, pad, labels)
        hyps = [h.strip() for h in target_tokenizer.batch_decode(preds, skip_special_tokens=True)]
        refs = [r.strip() for r in target_tokenizer.batch_decode(labels, skip_special_tokens=True)]
        return {"bleu": corpus_bleu(hyps, refs, tokenize=tokenize).score, "chrf": corpus_chrf(hyps, refs).score}

    return compute


def train_steps_per_second(log_history: list[dict]) -> float:
    """Optimiser steps per second from a ``Trainer``'s final training log entry (``train_runtime``)."""
    if isinstance(log_history, (str, bytes, Mapping)) or not hasattr(log_history, "__iter__"):
        raise TypeError(f"log_history: expected trainer.state.log_history (a list of dicts), got "
                        f"{type(log_history).__name__}")
    log_history = list(log_history)
    for i, h in enumerate(log_history):
        checks.instance(h, f"log_history[{i}]", Mapping, what="a dict (one log entry)")
    final = [h for h in log_history if "train_runtime" in h]
    if not final:
        raise ValueError("log_history: no final training entry (has the trainer run?)")
    steps = max(checks.integer(h.get("step", 0), "log_history step", minimum=0) for h in log_history)
    runtime = checks.number(final[-1]["train_runtime"], "log_history train_runtime", minimum=0, strict_minimum=True)
    return steps / runtime


# ---------------------------------------------------------------------------- a frozen, cached encoder
def freeze_encoder(model) -> int:
    """Freeze the encoder of an ``EncoderDecoderModel`` (``requires_grad=False``, eval mode) and return
    the number of parameters frozen. The decoder (and ``enc_to_dec_proj``, if any) stays trainable.

    With the encoder frozen, training is *feature extraction* (chapter 5): the encoder's outputs are
    a fixed function of the source sentence, so they can be computed once
    (:func:`cache_encoder_outputs`) and each training step costs the decoder only.
    """
    frozen = 0
    for p in model.encoder.parameters():
        p.requires_grad_(False)
        frozen += p.numel()
    model.encoder.eval()
    return frozen


@torch.no_grad()
def cache_encoder_outputs(model, input_ids: Sequence[Sequence[int]], *, pad_token_id: int = 0,
                          batch_size: int = 128) -> list[torch.Tensor]:
    """The encoder's last hidden states for every source sentence, computed once in eval mode.

    Sentences are run in batches sorted by length (little padding); each result keeps only the
    sentence's own positions.

    Args:
        model: an ``EncoderDecoderModel`` (only ``model.encoder`` is run).
        input_ids: one list of source token ids per sentence (no padding), e.g. the ``input_ids``
            column of :func:`encode_pairs`.
        pad_token_id: the source tokenizer's pad id.
        batch_size: sentences per encoder forward pass.

    Returns:
        A list, in input order, of float32 tensors of shape ``(len(input_ids[i]), encoder hidden size)``
        on the CPU.

    Raises:
        ValueError: if ``input_ids`` is empty or holds an empty sentence, or ``batch_size`` < 1.
    """
    batch_size = checks.integer(batch_size, "batch_size")
    encoder = getattr(model, "encoder", None)
    if not isinstance(encoder, torch.nn.Module):
        raise TypeError(f"model: expected an encoder-decoder model with an .encoder, got {type(model).__name__}")
    vocab_size = getattr(getattr(encoder, "config", None), "vocab_size", None)
    vocab_size = vocab_size if isinstance(vocab_size, int) and not isinstance(vocab_size, bool) else None
    pad_token_id = checks.integer(pad_token_id, "pad_token_id", minimum=0,
                                  maximum=None if vocab_size is None else vocab_size - 1)
    if isinstance(input_ids, (str, bytes, torch.Tensor)) or not hasattr(input_ids, "__iter__"):
        raise TypeError(f"input_ids: expected a list of token-id lists (one per sentence), got "
                        f"{type(input_ids).__name__}")
    seqs = [checks.token_ids(s, f"input_ids[{i}]", vocab_size=vocab_size, ndim=1).tolist()
            for i, s in enumerate(input_ids)]
    if not seqs or any(len(s) == 0 for s in seqs):
        raise ValueError("input_ids: expected a non-empty list of non-empty token-id lists")
    was_training = encoder.training
    encoder.eval()
    device = next(encoder.parameters()).device
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
    out: list[torch.Tensor] = [None] * len(seqs)  # type: ignore[list-item]
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        width = max(len(seqs[i]) for i in idx)
        ids = torch.tensor([seqs[i] + [pad_token_id] * (width - len(seqs[i])) for i in idx], device=device)
        mask = torch.tensor([[1] * len(seqs[i]) + [0] * (width - len(seqs[i])) for i in idx], device=device)
        hidden = encoder(input_ids=ids, attention_mask=mask).last_hidden_state.float().cpu()
        for row, i in enumerate(idx):
            out[i] = hidden[row, :len(seqs[i])].clone()
    encoder.train(was_training)
    return out


def cached_rows(states: Sequence[torch.Tensor], labels: Sequence[Sequence[int]]) -> list[dict]:
    """Training rows for :func:`companion.data.dataloader` from cached encoder outputs: one dict per
    pair with ``encoder_hidden_states`` (``(source_len, hidden)``), ``labels`` (target ids) and
    ``input_ids`` (a placeholder of the source length, so that ``group_by_length`` sees it).

    Raises:
        ValueError: if ``states`` and ``labels`` differ in length or are empty.
    """
    for name, value in (("states", states), ("labels", labels)):
        if isinstance(value, (str, bytes, torch.Tensor)) or not hasattr(value, "__len__"):
            raise TypeError(f"{name}: expected a list (one entry per example), got {type(value).__name__}")
    checks.same_length("states", states, "labels", labels)
    if not len(states):
        raise ValueError("states: no examples")
    states = [checks.float_tensor(h, f"states[{i}]", ndim=2) for i, h in enumerate(states)]
    labels = [checks.class_labels(y, f"labels[{i}]", ignore_index=-100).tolist() for i, y in enumerate(labels)]
    return [{"input_ids": [0] * int(h.shape[0]), "encoder_hidden_states": h, "labels": y}
            for h, y in zip(states, labels)]


def collate_cached(rows: Sequence[dict]) -> dict[str, torch.Tensor]:
    """Pad a batch of :func:`cached_rows`: hidden states with zeros and an ``attention_mask`` of the real
    source positions, labels with -100 (ignored by the loss).

    Returns:
        ``{"encoder_hidden_states": (batch, src_len, hidden) float32, "attention_mask": (batch, src_len)
        int64, "labels": (batch, tgt_len) int64}``.
    """
    rows = _cached_batch(rows)
    width = max(int(r["encoder_hidden_states"].shape[0]) for r in rows)
    hidden = rows[0]["encoder_hidden_states"].shape[1]
    states = torch.zeros(len(rows), width, hidden)
    mask = torch.zeros(len(rows), width, dtype=torch.long)
    for j, r in enumerate(rows):
        n = int(r["encoder_hidden_states"].shape[0])
        states[j, :n] = r["encoder_hidden_states"]
        mask[j, :n] = 1
    tlen = max(len(r["labels"]) for r in rows)
    labels = torch.full((len(rows), tlen), -100, dtype=torch.long)
    for j, r in enumerate(rows):
        labels[j, :len(r["labels"])] = torch.as_tensor(r["labels"], dtype=torch.long)
    return {"encoder_hidden_states": states, "attention_mask": mask, "labels": labels}


def _cached_batch(rows) -> list:
    """Check a batch for :func:`collate_cached`: a non-empty list of :func:`cached_rows` dicts whose
    hidden states are 2-D float tensors of one hidden size and whose labels are integer ids."""
    if isinstance(rows, (str, bytes, Mapping)) or not hasattr(rows, "__iter__"):
        raise TypeError(f"rows: expected a list of rows from cached_rows, got {type(rows).__name__}")
    rows = list(rows)
    if not rows:
        raise ValueError("rows: expected at least one row, got an empty batch")
    for j, r in enumerate(rows):
        if not isinstance(r, Mapping) or "encoder_hidden_states" not in r or "labels" not in r:
            raise TypeError(f"rows[{j}]: expected a dict with 'encoder_hidden_states' and 'labels' (from "
                            f"cached_rows), got {type(r).__name__}")
        h = checks.float_tensor(r["encoder_hidden_states"], f"rows[{j}]['encoder_hidden_states']", ndim=2)
        if h.shape[1] != rows[0]["encoder_hidden_states"].shape[1]:
            raise ValueError(f"rows[{j}]['encoder_hidden_states']: hidden size {h.shape[1]} differs from "
                             f"rows[0]'s {rows[0]['encoder_hidden_states'].shape[1]}")
        checks.class_labels(r["labels"], f"rows[{j}]['labels']", ignore_index=-100)
    return rows


def cached_decoder_loss(model, batch: dict) -> torch.Tensor:
    """``loss_fn`` for :func:`companion.loop.train`: the model's mean cross-entropy per target token,
    with the encoder's cached outputs (:func:`collate_cached`) passed as ``encoder_outputs``, so the
    encoder does not run. The model shifts the labels right itself to make the decoder inputs."""
    return model(encoder_outputs=(batch["encoder_hidden_states"],), attention_mask=batch["attention_mask"],
                 labels=batch["labels"]).loss


# ---------------------------------------------------------------------------- paired bootstrap
def paired_bootstrap(hypotheses_a: Sequence[str], hypotheses_b: Sequence[str], references: Sequence[str], *,
                     metric: str = "bleu", n_resamples: int = 1000, seed: int = 0) -> dict[str, float]:
    """Corpus scores of two systems on the same test set, and bootstrap standard errors of each and of
    their difference (Koehn, EMNLP 2004, "Statistical significance tests for machine translation
    evaluation").

    Each resample draws ``len(references)`` sentences with replacement, the *same* sentences for both
    systems (paired), and recomputes the corpus score from the pooled sentence statistics, exactly as
    sacreBLEU does for the whole set (BLEU with ``tokenize="zh"`` as :func:`companion.metrics.corpus_bleu`,
    or chrF). The standard error is the standard deviation of the resampled scores.

    Returns:
        ``{"a", "b", "diff" (a - b), "se_a", "se_b", "se_diff"}``, scores in [0, 100].

    Raises:
        ValueError: lists of different lengths or empty, ``metric`` not ``"bleu"``/``"chrf"``,
            ``n_resamples`` < 2.
    """
    from sacrebleu.metrics import BLEU, CHRF

    a = checks.texts(hypotheses_a, "hypotheses_a")
    b = checks.texts(hypotheses_b, "hypotheses_b")
    refs = checks.texts(references, "references")
    checks.same_length("hypotheses_a", a, "references", refs)
    checks.same_length("hypotheses_b", b, "references", refs)
    metric = checks.one_of(metric, "metric", ("bleu", "chrf"))
    n_resamples = checks.integer(n_resamples, "n_resamples", minimum=2)
    seed = checks.integer(seed, "seed", minimum=0)
    scorer = BLEU(tokenize="zh") if metric == "bleu" else CHRF()
    stats_a = np.asarray(scorer._extract_corpus_statistics(a, [refs]), dtype=np.float64)
    stats_b = np.asarray(scorer._extract_corpus_statistics(b, [refs]), dtype=np.float64)

    def score(stats, idx=None):
        total = stats.sum(axis=0) if idx is None else stats[idx].sum(axis=0)
        return float(scorer._compute_score_from_stats([int(round(x)) for x in total]).score)

    rng = np.random.default_rng(seed)
    draws = np.array([(score(stats_a, idx), score(stats_b, idx))
                      for idx in (rng.integers(0, len(refs), len(refs)) for _ in range(n_resamples))])
    sa, sb = score(stats_a), score(stats_b)
    return {"a": sa, "b": sb, "diff": sa - sb, "se_a": float(draws[:, 0].std(ddof=1)),
            "se_b": float(draws[:, 1].std(ddof=1)), "se_diff": float((draws[:, 0] - draws[:, 1]).std(ddof=1))}


# ---------------------------------------------------------------------------- decoding
@torch.no_grad()
def translate(model, tokenizer, texts: Sequence[str], *, target_tokenizer=None, prefix: str = "",
              batch_size: int = 64, max_source_length: int = 64, **generate_kwargs) -> list[str]:
    """Translate ``texts`` with ``model.generate`` and return decoded strings in input order.

    Sentences are batched by length (less padding) and put back in order. ``generate_kwargs`` go to
    ``generate``: e.g. ``num_beams=4`` (beam search; 1 = greedy), ``no_repeat_ngram_size=3``,
    ``max_new_tokens``. Output is decoded with ``target_tokenizer`` (or ``tokenizer``), special
    tokens removed.

    Raises:
        TypeError: if ``texts`` is a single string.
        ValueError: if ``batch_size`` is not a positive int.
    """
    texts = checks.texts(texts, "texts")
    batch_size = checks.integer(batch_size, "batch_size")
    max_source_length = checks.integer(max_source_length, "max_source_length")
    decoder = target_tokenizer or tokenizer
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out: list[str] = [""] * len(texts)
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        enc = tokenizer([prefix + texts[i] for i in idx], padding=True, truncation=True, max_length=max_source_length,
                        return_tensors="pt", return_token_type_ids=False).to(device)
        ids = model.generate(**enc, **generate_kwargs)
        for i, text in zip(idx, decoder.batch_decode(ids, skip_special_tokens=True)):
            out[i] = text.strip()
    model.train(was_training)
    return out


def repeated_ngram_share(texts: Sequence[str], n: int = 2) -> float:
    """Share of texts in which some character ``n``-gram occurs more than once, in [0, 1].

    A simple repetition detector for character-level output such as "我我我" or
    "我不知道我不知道". Human Chinese also repeats characters (谢谢, 妈妈), so compare a system's
    share with the references' share rather than with zero.

    Raises:
        ValueError: if ``texts`` is empty or ``n`` < 1.
        TypeError: if ``texts`` is a single string.
    """
    texts = checks.texts(texts, "texts")
    n = checks.integer(n, "n")

    def repeats(t: str) -> bool:
        grams = [t[i:i + n] for i in range(len(t) - n + 1)]
        return len(grams) != len(set(grams))

    return sum(repeats(t) for t in texts) / len(texts)


def length_bucket(texts: Sequence[str], edges: Sequence[int] = (4, 7, 10)) -> list[str]:
    """Label each English sentence by its number of words: ``"1-4"``, ``"5-7"``, ``"8-10"``, ``"11+"``
    for the default ``edges`` (the inclusive upper ends of all buckets but the last).

    Raises:
        TypeError: ``texts`` is a single string (it would be labelled character by character), or holds
            a non-string.
        ValueError: if ``edges`` is empty or not strictly increasing positive ints.
    """
    texts = checks.texts(texts, "texts", allow_empty=True)
    if isinstance(edges, (str, bytes)) or not hasattr(edges, "__iter__"):
        raise TypeError(f"edges: expected a sequence of ints (bucket upper ends), got {edges!r:.60}")
    edges = [checks.integer(e, f"edges[{i}]") for i, e in enumerate(edges)]
    if not edges or any(a >= b for a, b in zip(edges, edges[1:])):
        raise ValueError(f"edges: expected strictly increasing positive ints, got {edges!r}")
    labels, lo = [], 1
    for e in edges:
        labels.append(f"{lo}-{e}" if e > lo else f"{e}")
        lo = e + 1
    labels.append(f"{lo}+")
    return [labels[int(np.searchsorted(edges, len(t.split())))] for t in texts]


# ---------------------------------------------------------------------------- MarianMT (opus-mt)
def opus_mt_en_zh_config():
    """The ``MarianConfig`` of ``Helsinki-NLP/opus-mt-en-zh``'s *shape* (d_model 512, 6 encoder and 6
    decoder layers, 8 heads, feed-forward 2,048, shared vocabulary of 65,001 with pad id 65,000),
    for building a randomly initialised model of that size offline (e.g. to count LoRA parameters).
    Not the trained weights."""
    from transformers import MarianConfig

    return MarianConfig(vocab_size=65001, d_model=512, encoder_layers=6, decoder_layers=6, encoder_attention_heads=8,
                        decoder_attention_heads=8, encoder_ffn_dim=2048, decoder_ffn_dim=2048, max_position_embeddings=512,
                        pad_token_id=65000, eos_token_id=0, decoder_start_token_id=65000, scale_embedding=True,
                        share_encoder_decoder_embeddings=True, activation_function="swish")


def tiny_marian(source_texts: Sequence[str], target_texts: Sequence[str], *, workdir: str | os.PathLike | None = None,
                vocab_size: int = 300, target_tokens: Sequence[str] = (MARIAN_TARGET_TOKEN, ">>cmn_Hant<<"), seed: int = 0):
    """A tiny randomly initialised ``MarianMTModel`` and a real ``MarianTokenizer`` trained here.

    Trains two SentencePiece models (source and target side) on the given texts, writes the
    joint ``vocab.json`` with the target-language tokens, and loads ``MarianTokenizer`` from them,
    so that the MarianMT code path (target token, ``text_target=``, ``DataCollatorForSeq2Seq``,
    ``Seq2SeqTrainer``, LoRA on ``q_proj``/``v_proj``) runs offline in seconds (smoke profile, tests).

    Returns:
        ``(model, tokenizer)``.

    Raises:
        ValueError: if the two text lists are empty or differ in length.
    """
    import sentencepiece as spm
    from transformers import MarianConfig, MarianMTModel, MarianTokenizer

    source_texts = checks.texts(source_texts, "source_texts")
    target_texts = checks.texts(target_texts, "target_texts")
    checks.same_length("source_texts", source_texts, "target_texts", target_texts)
    workdir = Path(workdir or tempfile.mkdtemp(prefix="tiny-marian-"))
    workdir.mkdir(parents=True, exist_ok=True)
    pieces = []
    for name, texts in (("source", source_texts), ("target", target_texts)):
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(texts), model_prefix=str(workdir / name),
            vocab_size=max(vocab_size, len(set("".join(texts))) + 10),  # every character needs a piece
            character_coverage=1.0, model_type="unigram", hard_vocab_limit=False, minloglevel=2,
            num_threads=1)
        (workdir / f"{name}.model").rename(workdir / f"{name}.spm")
        sp = spm.SentencePieceProcessor(model_file=str(workdir / f"{name}.spm"))
        pieces += [sp.id_to_piece(i) for i in range(sp.get_piece_size())]
    vocab = {"</s>": 0, "<unk>": 1}
    for tok in list(target_tokens) + pieces:
        if tok not in vocab and tok not in ("<s>", "</s>", "<unk>", "<pad>"):
            vocab[tok] = len(vocab)
    vocab["<pad>"] = len(vocab)
    (workdir / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*sacremoses.*")
        tokenizer = MarianTokenizer(source_spm=str(workdir / "source.spm"), target_spm=str(workdir / "target.spm"),
                                    vocab=str(workdir / "vocab.json"), source_lang="en", target_lang="zh")
    torch.manual_seed(seed)
    config = MarianConfig(vocab_size=len(vocab), d_model=32, encoder_layers=1, decoder_layers=1,
                          encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64,
                          max_position_embeddings=128, pad_token_id=vocab["<pad>"], eos_token_id=0,
                          decoder_start_token_id=vocab["<pad>"], forced_eos_token_id=0)
    model = MarianMTModel(config)
    model.generation_config.max_new_tokens = 32
    return model, tokenizer


def load_marian(model: str, *, source_texts: Sequence[str] = (), target_texts: Sequence[str] = (), seed: int = 0):
    """``(MarianMTModel, MarianTokenizer)``: the pretrained hub model ``model`` (e.g.
    ``"Helsinki-NLP/opus-mt-en-zh"``), or ``"tiny-random-marian"`` (:func:`tiny_marian`, trained on
    the given texts; smoke profile).

    Raises:
        TypeError / FileNotFoundError: ``model`` is not a hub id or an existing model directory.
        ValueError / OSError: the checkpoint lacks weights, holds weights its config has no place for, or has a
            corrupt model or tokenizer file (errors name ``model``; :func:`companion.loading.from_pretrained_checked`).
    """
    from transformers import AutoTokenizer, MarianMTModel

    if model == "tiny-random-marian":
        return tiny_marian(source_texts, target_texts, seed=seed)
    model = check_location(model, "model")
    with warnings.catch_warnings(), naming(model, "model", "tokenizer", TOKENIZER_FILES):
        warnings.filterwarnings("ignore", message=".*sacremoses.*")
        tokenizer = AutoTokenizer.from_pretrained(model)
    net = from_pretrained_checked(MarianMTModel, model, "model")
    check_vocabulary(tokenizer, net, model, "model")
    return net, tokenizer


__all__ = [
    "CHAR_SPECIALS", "MARIAN_TARGET_TOKEN", "bleu_compute_metrics", "build_encoder_decoder", "cache_encoder_outputs",
    "cached_decoder_loss", "cached_rows", "collate_cached", "decoder_config", "encode_pairs", "freeze_encoder",
    "length_bucket", "load_marian", "opus_mt_en_zh_config", "paired_bootstrap", "repeated_ngram_share", "tiny_marian",
    "train_char_tokenizer", "train_steps_per_second", "translate",
]
