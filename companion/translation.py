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
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import torch
from datasets import DatasetDict

from . import checks
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
            the target tokenizer lacks the special tokens of :data:`CHAR_SPECIALS`.
    """
    from transformers import AutoConfig, AutoModel, BertConfig, BertLMHeadModel, BertModel, EncoderDecoderModel

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
        enc = AutoModel.from_pretrained(model_location(encoder), add_pooling_layer=False)
    else:
        enc = AutoModel.from_config(AutoConfig.from_pretrained(model_location(encoder)), add_pooling_layer=False)
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
    final = [h for h in log_history if "train_runtime" in h]
    if not final:
        raise ValueError("log_history: no final training entry (has the trainer run?)")
    steps = max(h.get("step", 0) for h in log_history)
    return steps / final[-1]["train_runtime"]


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
    the given texts; smoke profile)."""
    from transformers import AutoTokenizer, MarianMTModel

    if model == "tiny-random-marian":
        return tiny_marian(source_texts, target_texts, seed=seed)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*sacremoses.*")
        tokenizer = AutoTokenizer.from_pretrained(model)
    return MarianMTModel.from_pretrained(model), tokenizer


__all__ = [
    "CHAR_SPECIALS", "MARIAN_TARGET_TOKEN", "bleu_compute_metrics", "build_encoder_decoder", "decoder_config",
    "encode_pairs", "length_bucket", "load_marian", "opus_mt_en_zh_config", "repeated_ngram_share", "tiny_marian",
    "train_char_tokenizer", "train_steps_per_second", "translate",
]
