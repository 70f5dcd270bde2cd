"""Machine translation, English -> Chinese: data, a character vocabulary, encoder-decoder models,
training with the ``Seq2SeqTrainer``, decoding and simple error analysis.

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
import math
import os
import re
import tempfile
import time
import warnings
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import torch
from datasets import Dataset, DatasetDict

from .data import packaged_data_dir
from .profiles import model_location, resolve_precision

TATOEBA_CITATION = (
    "Tatoeba (https://tatoeba.org), English-Mandarin sentence pairs, CC-BY 2.0 FR "
    "(https://creativecommons.org/licenses/by/2.0/fr/); the attribution column names the sentence ids "
    "and contributors of every pair."
)
TATOEBA_SOURCES = ("fixture", "sample")
#: Target-language token of opus-mt-en-zh for Mandarin in simplified script.
MARIAN_TARGET_TOKEN = ">>cmn_Hans<<"
#: Special tokens of the character vocabulary, with fixed ids 0-3.
CHAR_SPECIALS = ("[PAD]", "[UNK]", "[BOS]", "[EOS]")
_FIXTURE_PAIRS = 400
_EOD_WARNING = "Version v4.12.0 introduces a better way to train encoder-decoder models"


# ---------------------------------------------------------------------------- data
def _read_pairs_tsv(path: Path) -> list[tuple[str, str, str]]:
    rows = []
    for i, line in enumerate(Path(path).read_text(encoding="utf-8-sig").splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) < 2:
            raise ValueError(f"source: line {i} of {path} has no tab-separated translation")
        rows.append((fields[0].strip(), fields[1].strip(), fields[2].strip() if len(fields) > 2 else ""))
    return rows


def grouped_split(keys: Sequence[str], *, validation_size: int, test_size: int, seed: int = 0) -> dict[str, list[int]]:
    """Split positions into train/validation/test so that equal keys stay in one split.

    Tatoeba often has several Chinese translations of one English sentence ("Hi." -> 嗨。/ 你好。);
    if one were in training and the other in the test set, the test would reward memorisation.
    Unique keys are shuffled with ``numpy.random.default_rng(seed)``; whole groups go to the test
    split until it holds at least ``test_size`` positions, then to validation, the rest to train.

    Returns:
        ``{"train": [...], "validation": [...], "test": [...]}``: sorted positions into ``keys``.

    Raises:
        ValueError: if a size is negative or the two held-out sizes leave no training data.
    """
    for name, v in (("validation_size", validation_size), ("test_size", test_size)):
        if not isinstance(v, (int, np.integer)) or v < 0:
            raise ValueError(f"{name}: expected a non-negative int, got {v!r}")
    if validation_size + test_size >= len(keys):
        raise ValueError(f"test_size: {test_size} + validation_size {validation_size} leave no training pairs "
                         f"out of {len(keys)}")
    groups: dict[str, list[int]] = collections.defaultdict(list)
    for i, k in enumerate(keys):
        groups[k].append(i)
    order = list(groups)
    np.random.default_rng(seed).shuffle(order)
    out: dict[str, list[int]] = {"train": [], "validation": [], "test": []}
    for k in order:
        if len(out["test"]) < test_size:
            out["test"] += groups[k]
        elif len(out["validation"]) < validation_size:
            out["validation"] += groups[k]
        else:
            out["train"] += groups[k]
    return {split: sorted(pos) for split, pos in out.items()}


def load_tatoeba(source: str = "sample", *, validation_size: int | None = None, test_size: int | None = None,
                 seed: int = 0) -> DatasetDict:
    """English-Mandarin Tatoeba pairs as a ``DatasetDict`` with splits train/validation/test.

    Args:
        source: ``"sample"`` (the committed 5,000-pair sample, ``companion/_data/tatoeba/pairs.tsv``),
            ``"fixture"`` (its first 400 pairs, for the smoke profile) or the path of a file in the same
            format (tab-separated English, Chinese, attribution; e.g. the full ``cmn.txt``).
        validation_size, test_size: held-out pairs (at least this many; groups of pairs sharing an
            English sentence are never split, see :func:`grouped_split`). Defaults: 250 and 500
            (``sample`` and files), 40 and 60 (``fixture``).
        seed: seed of the split.

    Returns:
        Splits with string columns ``en``, ``zh`` and ``attribution`` (CC-BY 2.0 FR; keep it with
        any copy of the data).

    Raises:
        ValueError: for an unknown ``source`` or sizes that leave no training data.
    """
    if source in TATOEBA_SOURCES:
        rows = _read_pairs_tsv(packaged_data_dir() / "tatoeba" / "pairs.tsv")
        if source == "fixture":
            rows = rows[:_FIXTURE_PAIRS]
    elif isinstance(source, (str, Path)) and Path(source).is_file():
        rows = _read_pairs_tsv(Path(source))
    else:
        raise ValueError(f"source: {source!r} is not one of {TATOEBA_SOURCES} or an existing file")
    small = source == "fixture"
    validation_size = (40 if small else 250) if validation_size is None else validation_size
    test_size = (60 if small else 500) if test_size is None else test_size
    parts = grouped_split([r[0] for r in rows], validation_size=validation_size, test_size=test_size, seed=seed)
    return DatasetDict({
        split: Dataset.from_dict({"en": [rows[i][0] for i in pos], "zh": [rows[i][1] for i in pos],
                                  "attribution": [rows[i][2] for i in pos]})
        for split, pos in parts.items()
    })


def pairs_from_records(records: Iterable[dict], source_lang: str = "en", target_lang: str = "zh") -> dict[str, list[str]]:
    """Turn hub records into ``{source_lang: [...], target_lang: [...]}``.

    Accepts the WMT layout (``{"translation": {"en": ..., "zh": ...}}``) and flat columns
    (``{"en": ..., "zh": ...}``). Pairs with an empty side are dropped.

    Raises:
        ValueError: if a record has neither layout.
    """
    out: dict[str, list[str]] = {source_lang: [], target_lang: []}
    for i, rec in enumerate(records):
        pair = rec.get("translation", rec)
        if source_lang not in pair or target_lang not in pair:
            raise ValueError(f"records: record {i} has no {source_lang!r}/{target_lang!r} fields "
                             f"(keys: {sorted(rec)})")
        src, tgt = (pair[source_lang] or "").strip(), (pair[target_lang] or "").strip()
        if src and tgt:
            out[source_lang].append(src)
            out[target_lang].append(tgt)
    return out


def load_hub_pairs(dataset_id: str, config: str | None = None, *, source_lang: str = "en", target_lang: str = "zh",
                   train_size: int = 50_000, validation_size: int = 500, test_size: int = 1_000,
                   seed: int = 0, shuffle_buffer: int = 10_000) -> DatasetDict:
    """A parallel corpus from the hub (a dataset that loads without a script), as ``en``/``zh`` columns.

    Both splits are *streamed*: ``train_size`` training pairs are drawn through a seeded shuffle
    buffer instead of downloading the whole corpus (``wmt/wmt19``'s ``zh-en`` training data is
    several GB). The buffer mixes only nearby records, so a small ``train_size`` comes from the
    first files of the corpus.
    Held-out pairs come from the dataset's ``test`` split if it has one, else from its
    ``validation`` split (for ``wmt/wmt19`` ``zh-en``: the official newstest data), so they are
    never training pairs.

    Args:
        dataset_id: e.g. ``"wmt/wmt19"``; config: e.g. ``"zh-en"``.
        source_lang, target_lang: field names of the two sides.
        train_size, validation_size, test_size: pairs per split.
        seed, shuffle_buffer: seed and size of the streaming shuffle buffer.

    Raises:
        ValueError: for non-positive sizes or a held-out split too small for both sizes.
    """
    from datasets import get_dataset_split_names, load_dataset

    for name, v in (("train_size", train_size), ("validation_size", validation_size), ("test_size", test_size)):
        if not isinstance(v, int) or v <= 0:
            raise ValueError(f"{name}: expected a positive int, got {v!r}")
    stream = load_dataset(dataset_id, config, split="train", streaming=True)
    train = pairs_from_records(stream.shuffle(seed=seed, buffer_size=shuffle_buffer).take(train_size),
                               source_lang, target_lang)
    held_name = "test" if "test" in get_dataset_split_names(dataset_id, config) else "validation"
    # streamed too: a non-streaming load could download the whole corpus to read one split
    held = pairs_from_records(load_dataset(dataset_id, config, split=held_name, streaming=True), source_lang,
                              target_lang)
    n_held = len(held[source_lang])
    if n_held < validation_size + test_size:
        raise ValueError(f"test_size: the {held_name!r} split has {n_held} pairs, fewer than "
                         f"validation_size + test_size = {validation_size + test_size}")
    order = np.random.default_rng(seed).permutation(n_held)
    pick = {"test": order[:test_size], "validation": order[test_size:test_size + validation_size]}
    splits = {"train": Dataset.from_dict(train)}
    for split, idx in pick.items():
        splits[split] = Dataset.from_dict({k: [v[i] for i in sorted(idx)] for k, v in held.items()})
    return DatasetDict(splits)


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

    texts = list(texts)
    if not texts:
        raise ValueError("texts: need at least one text to build a vocabulary")
    if not isinstance(min_frequency, int) or min_frequency < 1:
        raise ValueError(f"min_frequency: expected an int >= 1, got {min_frequency!r}")
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
        if not isinstance(v, int) or v <= 0:
            raise ValueError(f"{name}: expected a positive int, got {v!r}")
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


def encoder_decoder_parameter_groups(model, *, encoder_lr: float, decoder_lr: float, weight_decay: float = 0.01):
    """AdamW parameter groups with one learning rate for the encoder and another for the rest.

    A pretrained encoder needs small steps so that fine-tuning does not erase what it knows; a
    freshly initialised decoder needs large ones to learn at all in a short run. Biases and
    LayerNorm weights get no weight decay.

    Returns:
        A list of four dicts for ``torch.optim.AdamW`` (encoder/rest x decay/no decay), empty ones
        dropped.

    Raises:
        ValueError: if a learning rate is not positive or the model has no ``encoder`` attribute.
    """
    for name, v in (("encoder_lr", encoder_lr), ("decoder_lr", decoder_lr)):
        if not v > 0:
            raise ValueError(f"{name}: expected > 0, got {v!r}")
    if not hasattr(model, "encoder"):
        raise ValueError("model: has no `encoder` attribute (expected an encoder-decoder)")
    encoder_ids = {id(p) for p in model.encoder.parameters()}
    groups = {(e, d): [] for e in (True, False) for d in (True, False)}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        no_decay = p.ndim < 2 or "LayerNorm" in name or "layer_norm" in name
        groups[(id(p) in encoder_ids, not no_decay)].append(p)
    return [{"params": ps, "lr": encoder_lr if enc else decoder_lr, "weight_decay": weight_decay if decay else 0.0}
            for (enc, decay), ps in groups.items() if ps]


def make_optimizer(model, *, encoder_lr: float, decoder_lr: float, total_steps: int, warmup_steps: int = 0,
                   weight_decay: float = 0.01):
    """``(torch.optim.AdamW, LambdaLR)`` for the ``optimizers=`` argument of a ``Trainer``: the groups
    of :func:`encoder_decoder_parameter_groups`, linear warm-up over ``warmup_steps`` and linear decay
    to zero at ``total_steps`` (each group keeps its own peak learning rate).

    Raises:
        ValueError: for non-positive ``total_steps``, negative ``warmup_steps``, or as above.
    """
    from transformers import get_linear_schedule_with_warmup

    if not isinstance(total_steps, int) or total_steps <= 0:
        raise ValueError(f"total_steps: expected a positive int, got {total_steps!r}")
    if not isinstance(warmup_steps, int) or warmup_steps < 0:
        raise ValueError(f"warmup_steps: expected a non-negative int, got {warmup_steps!r}")
    groups = encoder_decoder_parameter_groups(model, encoder_lr=encoder_lr, decoder_lr=decoder_lr,
                                              weight_decay=weight_decay)
    optimizer = torch.optim.AdamW(groups)
    return optimizer, get_linear_schedule_with_warmup(optimizer, warmup_steps, total_steps)


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
    for name, v in (("max_source_length", max_source_length), ("max_target_length", max_target_length)):
        if not isinstance(v, int) or v <= 0:
            raise ValueError(f"{name}: expected a positive int, got {v!r}")
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
def seq2seq_arguments(output_dir, *, learning_rate: float, batch_size: int, max_steps: int = -1, epochs: float = 1.0,
                      precision: str = "fp32", seed: int = 0, warmup: float = 0.06, weight_decay: float = 0.01,
                      save_steps: int | None = None, logging_steps: int = 25, generation_max_length: int = 64,
                      generation_num_beams: int = 1, eval_batch_size: int | None = None, **overrides):
    """``Seq2SeqTrainingArguments`` with the book's defaults (transformers 5 names).

    ``predict_with_generate=True``: evaluation and prediction *generate* translations (up to
    ``generation_max_length`` tokens, ``generation_num_beams`` beams) so that ``compute_metrics``
    can score them with BLEU, instead of returning teacher-forced logits. Otherwise as
    :func:`companion.training.training_arguments` (AdamW, linear decay with warm-up, length-grouped
    batches, no reporting integrations, checkpoints every ``save_steps``).

    Raises:
        ValueError: for a non-positive ``learning_rate`` or ``batch_size``, or a bad ``precision``.
    """
    from transformers import Seq2SeqTrainingArguments

    from .training import check_optimisation_arguments, interactive

    check_optimisation_arguments(learning_rate, batch_size, epochs, max_steps)
    precision = resolve_precision(precision)
    kwargs = dict(
        output_dir=str(output_dir), learning_rate=learning_rate, per_device_train_batch_size=batch_size,
        per_device_eval_batch_size=eval_batch_size or batch_size * 2, num_train_epochs=epochs, max_steps=max_steps,
        warmup_steps=warmup, weight_decay=weight_decay, lr_scheduler_type="linear", optim="adamw_torch",
        fp16=precision == "fp16", bf16=precision == "bf16", seed=seed, eval_strategy="no",
        save_strategy="steps" if save_steps else "no", save_steps=save_steps or 500, logging_strategy="steps",
        logging_steps=logging_steps, logging_nan_inf_filter=False, report_to="none", disable_tqdm=not interactive(),
        train_sampling_strategy="group_by_length", dataloader_num_workers=0, use_cpu=not torch.cuda.is_available(),
        predict_with_generate=True, generation_max_length=generation_max_length,
        generation_num_beams=generation_num_beams,
    )
    kwargs.update(overrides)
    return Seq2SeqTrainingArguments(**kwargs)


def _guarded_seq2seq_trainer_class():
    from transformers import Seq2SeqTrainer

    from .training import GuardedTrainer

    class GuardedSeq2SeqTrainer(GuardedTrainer, Seq2SeqTrainer):
        """A ``Seq2SeqTrainer`` that stops at the first non-finite training loss (see
        :class:`companion.training.GuardedTrainer`; fp16 overflows above 65,504)."""

    return GuardedSeq2SeqTrainer


def make_seq2seq_trainer(model, args, train_dataset, eval_dataset=None, tokenizer=None, *, optimizers=(None, None),
                         compute_metrics=None, callbacks=None):
    """A ``Seq2SeqTrainer`` with a non-finite-loss guard and ``DataCollatorForSeq2Seq``.

    The collator pads ``input_ids`` with the tokenizer's pad id and ``labels`` with -100, and builds
    ``decoder_input_ids`` from the labels (shifted right, starting with the decoder start token) with
    the model's own ``prepare_decoder_input_ids_from_labels``. ``tokenizer`` (the source side) is
    passed as ``processing_class``. ``optimizers`` may carry an optimizer and scheduler, e.g. from
    :func:`make_optimizer`. The per-step log stays in ``trainer.state.log_history``.
    """
    from transformers import DataCollatorForSeq2Seq, PrinterCallback

    pad8 = 8 if (args.fp16 or args.bf16) else None  # tensor cores like multiples of 8
    collator = DataCollatorForSeq2Seq(tokenizer, model=model, label_pad_token_id=-100, pad_to_multiple_of=pad8)
    trainer = _guarded_seq2seq_trainer_class()(
        model=model, args=args, train_dataset=train_dataset, eval_dataset=eval_dataset, processing_class=tokenizer,
        data_collator=collator, compute_metrics=compute_metrics, callbacks=callbacks, optimizers=optimizers)
    trainer.remove_callback(PrinterCallback)
    return trainer


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
    if isinstance(texts, str):
        raise TypeError("texts: expected a list of sentences, got a single string")
    if not isinstance(batch_size, int) or batch_size <= 0:
        raise ValueError(f"batch_size: expected a positive int, got {batch_size!r}")
    texts = list(texts)
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
    if isinstance(texts, str):
        raise TypeError("texts: expected a list of strings, got a single string")
    texts = list(texts)
    if not texts:
        raise ValueError("texts: is empty")
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n: expected an int >= 1, got {n!r}")

    def repeats(t: str) -> bool:
        grams = [t[i:i + n] for i in range(len(t) - n + 1)]
        return len(grams) != len(set(grams))

    return sum(repeats(t) for t in texts) / len(texts)


def length_bucket(texts: Sequence[str], edges: Sequence[int] = (4, 7, 10)) -> list[str]:
    """Label each English sentence by its number of words: ``"1-4"``, ``"5-7"``, ``"8-10"``, ``"11+"``
    for the default ``edges`` (the inclusive upper ends of all buckets but the last).

    Raises:
        ValueError: if ``edges`` is empty or not strictly increasing positive ints.
    """
    edges = list(edges)
    if not edges or any(not isinstance(e, int) or e < 1 for e in edges) or any(a >= b for a, b in zip(edges, edges[1:])):
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

    source_texts, target_texts = list(source_texts), list(target_texts)
    if not source_texts or len(source_texts) != len(target_texts):
        raise ValueError("target_texts: expected as many texts as source_texts, and at least one")
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
    "CHAR_SPECIALS", "MARIAN_TARGET_TOKEN", "TATOEBA_CITATION", "bleu_compute_metrics", "build_encoder_decoder",
    "decoder_config", "encode_pairs", "encoder_decoder_parameter_groups", "grouped_split", "length_bucket",
    "load_hub_pairs", "load_marian", "load_tatoeba", "make_optimizer", "make_seq2seq_trainer",
    "opus_mt_en_zh_config", "pairs_from_records", "repeated_ngram_share", "seq2seq_arguments", "tiny_marian",
    "train_char_tokenizer", "train_steps_per_second", "translate",
]
