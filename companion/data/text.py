"""From text to batches: the one tokenise / truncate / batch path of the book.

* :func:`encode` -- token ids of each text, at most ``max_length``, with optional head + tail
  truncation (Sun et al., CCL 2019); no padding;
* :func:`tokenize` -- the same for a ``datasets.Dataset``/``DatasetDict`` (adds ``length``);
* :func:`train_wordpiece_tokenizer` -- a BERT-style vocabulary trained offline (smoke profile);
* :class:`EpochSampler` -- a training order that is a function of ``(seed, epoch)`` only, optionally
  grouped by length (batches of similar length need little padding). Restoring ``seed`` and ``epoch``
  restores the order exactly, which is what makes resuming after a disconnect exact;
* :func:`dataloader` -- a ``DataLoader`` with dynamic padding (``DataCollatorWithPadding``): each batch
  is padded to its own longest example, never to ``max_length``.

Book sections: chapter 5.3 and 6.1 (batches), the text-classification case 8.1 ("Data"),
``benchmarks/padding.py`` (what dynamic padding and length grouping buy).
"""

from __future__ import annotations

import functools
from typing import Iterable, Iterator, Mapping, Sequence

import numpy as np
import torch
from torch.utils.data import Sampler

from .. import checks
from ..masking import IGNORE_INDEX

#: The columns a model or its loss reads; :func:`dataloader` drops every other one.
MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids", "label", "labels")


def _check_lengths(tokenizer, max_length, head_tokens) -> tuple[int, int | None]:
    if not callable(tokenizer):
        raise TypeError(f"tokenizer: expected a transformers tokenizer, got {type(tokenizer).__name__}")
    max_length = checks.integer(max_length, "max_length", minimum=3)
    limit = getattr(tokenizer, "model_max_length", None)
    if isinstance(limit, int) and limit < 10**6 and max_length > limit:
        raise ValueError(f"max_length: {max_length} exceeds the tokenizer's model_max_length {limit}")
    if head_tokens is not None:
        head_tokens = checks.integer(head_tokens, "head_tokens", minimum=1, maximum=max_length - 2)
    return max_length, head_tokens


def _head_tail(seq: list, max_length: int, head_tokens: int) -> list:
    return seq if len(seq) <= max_length else seq[:head_tokens] + seq[len(seq) - (max_length - head_tokens):]


def _encode(tokenizer, texts: list[str], max_length: int, head_tokens: int | None) -> dict[str, list]:
    if head_tokens is None:
        return dict(tokenizer(texts, truncation=True, max_length=max_length))
    enc = tokenizer(texts, truncation=False, verbose=False)
    return {k: [_head_tail(seq, max_length, head_tokens) for seq in v] for k, v in enc.items()}


def encode(tokenizer, texts: Sequence[str], max_length: int, head_tokens: int | None = None) -> list[list[int]]:
    """Token ids of each text (special tokens included), at most ``max_length`` of them, no padding.

    Plain truncation keeps the first ``max_length`` ids. With ``head_tokens=h`` a long text keeps its
    first ``h`` and last ``max_length - h`` ids ("head + tail": Sun, Qiu, Xu & Huang, CCL 2019, "How to
    Fine-Tune BERT for Text Classification?", best on IMDb, where the verdict is often at the end);
    ``[CLS]`` and ``[SEP]`` stay at the ends either way.

    Returns:
        One list of int ids per text.

    Raises:
        TypeError: ``texts`` is a single string or holds a non-string.
        ValueError: ``max_length`` < 3 or above the tokenizer's limit; ``head_tokens`` not in
            ``[1, max_length - 2]``.
    """
    texts = checks.texts(texts, "texts")
    max_length, head_tokens = _check_lengths(tokenizer, max_length, head_tokens)
    return _encode(tokenizer, texts, max_length, head_tokens)["input_ids"]


def tokenize(ds, tokenizer, max_length: int, *, text_column: str = "text", head_tokens: int | None = None):
    """Tokenise ``text_column`` of a ``datasets.Dataset`` or ``DatasetDict`` as :func:`encode` does.

    Adds ``input_ids``, ``attention_mask`` (and ``token_type_ids`` for BERT) and ``length`` (tokens per
    example, for length grouping); removes ``text_column``. No padding: :func:`dataloader` pads per batch.

    Raises:
        TypeError: ``ds`` is not a ``Dataset``/``DatasetDict``, or ``tokenizer`` is not callable.
        ValueError: ``text_column`` is missing; bad ``max_length``/``head_tokens`` as in :func:`encode`.
    """
    from datasets import Dataset, DatasetDict

    if not isinstance(ds, (Dataset, DatasetDict)):
        raise TypeError(f"ds: expected a datasets.Dataset or DatasetDict, got {type(ds).__name__}")
    names = ds.column_names if isinstance(ds, Dataset) else next(iter(ds.values())).column_names
    if text_column not in names:
        raise ValueError(f"text_column: {text_column!r} is not a column (columns: {names})")
    max_length, head_tokens = _check_lengths(tokenizer, max_length, head_tokens)

    def fn(batch):
        enc = _encode(tokenizer, batch[text_column], max_length, head_tokens)
        enc["length"] = [len(ids) for ids in enc["input_ids"]]
        return enc

    return ds.map(fn, batched=True, remove_columns=[text_column])


def train_wordpiece_tokenizer(texts: Iterable[str], vocab_size: int = 2000, lowercase: bool = True):
    """Train a BERT-style WordPiece tokenizer on ``texts``, offline (the smoke profile's tokenizer).

    Uses ``tokenizers`` (BERT normaliser and pre-tokeniser, ``[CLS] A [SEP]`` template) and wraps the
    result as a ``transformers`` BERT tokenizer with ``[PAD]`` (id 0), ``[UNK]``, ``[CLS]``, ``[SEP]``,
    ``[MASK]``. The same texts always give the same vocabulary (every ``##`` piece is named before
    training, see huggingface/tokenizers#1794) and the same ids (specials first, then the vocabulary
    sorted). WordPiece: Schuster & Nakajima (2012); Wu et al. (2016).

    Raises:
        TypeError: ``texts`` is a single string or holds a non-string.
        ValueError: ``texts`` is empty or ``vocab_size`` < 50.
    """
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertTokenizerFast

    if texts is None:
        raise TypeError("texts: expected an iterable of strings, got None")
    texts = checks.texts(texts, "texts")
    vocab_size = checks.integer(vocab_size, "vocab_size", minimum=50)
    lowercase = checks.boolean(lowercase, "lowercase")
    if not any(t.strip() for t in texts):
        raise ValueError("texts: every text is empty or blank; there is nothing to learn a vocabulary from")
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    normalizer = normalizers.BertNormalizer(lowercase=lowercase)
    pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    # The trainer numbers the "##c" pieces it creates in hash-map order, and those numbers break ties between
    # equally frequent merges: the same texts could give another vocabulary on another run
    # (huggingface/tokenizers#1794). Naming every "##c" piece up front, sorted, makes the vocabulary a function
    # of the texts only; they are vocabulary entries, not special tokens, of the tokenizer built below.
    chars = sorted({c for t in texts for word, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(t))
                    for c in word[1:]})
    trainer_tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    trainer_tok.normalizer, trainer_tok.pre_tokenizer = normalizer, pre_tokenizer
    trainer_tok.train_from_iterator(texts, trainers.WordPieceTrainer(
        vocab_size=vocab_size, special_tokens=specials + ["##" + c for c in chars], show_progress=False))
    learned = [t for t in trainer_tok.get_vocab() if t not in specials]
    tok = Tokenizer(models.WordPiece(vocab={t: i for i, t in enumerate(specials + sorted(learned))}, unk_token="[UNK]"))
    tok.normalizer, tok.pre_tokenizer = normalizer, pre_tokenizer
    tok.add_special_tokens(specials)
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls), ("[SEP]", sep)],
    )
    tok.decoder = decoders.WordPiece()
    return BertTokenizerFast(tokenizer_object=tok, model_max_length=512)


class EpochSampler(Sampler[int]):
    """The order of the examples in one epoch, a function of ``(seed, epoch)`` only.

    * ``shuffle=False``: ``0, 1, ..., n - 1`` every epoch.
    * ``shuffle=True``: a permutation drawn from a generator seeded with ``seed * 100_003 + epoch``.
    * ``lengths`` given (length grouping): that permutation is cut into "megabatches" of
      ``50 * batch_size`` examples, each sorted by length, longest first (the scheme of the
      ``transformers`` ``LengthGroupedSampler``); consecutive batches then hold examples of similar
      length and need little padding, while the epoch stays random.

    The training loop (or the ``Trainer``) calls :meth:`set_epoch` before each epoch. Nothing depends on
    the global random state, so a run resumed in epoch 3 sees exactly the order the uninterrupted run
    saw (:mod:`companion.trainer`).

    Raises:
        TypeError / ValueError: ``n`` or ``batch_size`` not a positive int, ``lengths`` not of length
            ``n``, ``seed`` not an int >= 0.
    """

    MEGABATCH = 50

    def __init__(self, n: int, *, batch_size: int = 1, shuffle: bool = True, seed: int = 0,
                 lengths: Sequence[int] | None = None):
        self.n = checks.integer(n, "n")
        self.batch_size = checks.integer(batch_size, "batch_size")
        self.shuffle = checks.boolean(shuffle, "shuffle")
        self.seed = checks.integer(seed, "seed", minimum=0)
        if lengths is not None:
            if isinstance(lengths, (str, bytes)) or not hasattr(lengths, "__iter__"):
                raise TypeError(f"lengths: expected one int per example, got {type(lengths).__name__}")
            lengths = [checks.integer(x, f"lengths[{i}]", minimum=0) for i, x in enumerate(lengths)]
            checks.same_length("n (examples)", range(self.n), "lengths", lengths)
            if not shuffle:
                raise ValueError("lengths: length grouping needs shuffle=True (a sorted order would be the same "
                                 "every epoch)")
        self.lengths = lengths
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose order the next ``iter()`` yields."""
        self.epoch = checks.integer(epoch, "epoch", minimum=0)

    def order(self, epoch: int | None = None) -> list[int]:
        """The positions of epoch ``epoch`` (default: the current one)."""
        epoch = self.epoch if epoch is None else checks.integer(epoch, "epoch", minimum=0)
        if not self.shuffle:
            return list(range(self.n))
        generator = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
        perm = torch.randperm(self.n, generator=generator).tolist()
        if self.lengths is None:
            return perm
        size = self.MEGABATCH * self.batch_size
        out: list[int] = []
        for start in range(0, self.n, size):
            out += sorted(perm[start:start + size], key=lambda i: -self.lengths[i])
        return out

    def __iter__(self) -> Iterator[int]:
        return iter(self.order())

    def __len__(self) -> int:
        return self.n


def _model_columns(dataset, columns=MODEL_INPUTS):
    if hasattr(dataset, "column_names"):
        return dataset.select_columns([c for c in dataset.column_names if c in columns])
    return [{k: v for k, v in row.items() if k in columns} for row in dataset]


def _column_span(dataset, column: str, name: str) -> tuple[int, int, int] | None:
    """``(min, max, longest row)`` of the integers in ``column`` of tokenised examples, checked on the raw values
    (before a collator turns a bool into 1): one Arrow reduction for a ``datasets.Dataset``; for a list of dicts,
    :func:`companion.checks.integers` on each row (lists, NumPy arrays, tensors, NumPy integers all read).
    ``None`` when no row has the column, or it holds no value.

    Raises:
        TypeError: a value that is not an integer (a bool, a float, a string); the row is named for a list.
        ValueError: an unsigned value past int64.
    """
    if hasattr(dataset, "column_names"):
        if column not in dataset.column_names or len(dataset) == 0:
            return None
        import pyarrow as pa
        import pyarrow.compute as pc

        values = dataset.with_format("arrow")[column]
        if isinstance(values, pa.Table):
            values = values.column(0)
        longest = 0
        if pa.types.is_list(values.type) or pa.types.is_large_list(values.type):
            longest = int(pc.max(pc.list_value_length(values)).as_py() or 0)
        while pa.types.is_list(values.type) or pa.types.is_large_list(values.type):
            values = pc.list_flatten(values)
        if len(values) == 0 or pa.types.is_null(values.type):
            return None
        if not pa.types.is_integer(values.type):
            raise TypeError(f"{name}[{column!r}]: expected integers, got a column of type {values.type}")
        mm = pc.min_max(values)
        if mm["min"].as_py() is None:
            return None
        return int(mm["min"].as_py()), int(mm["max"].as_py()), longest
    low = high = None
    longest = 0
    for i, row in enumerate(dataset):
        if not isinstance(row, Mapping) or column not in row:
            continue
        t = checks.integers(row[column], f"{name}[{i}][{column!r}]")
        if t.numel():
            lo, hi = int(t.min()), int(t.max())
            low, high = lo if low is None else min(low, lo), hi if high is None else max(high, hi)
            longest = max(longest, int(t.shape[-1]) if t.dim() else 1)
    return None if low is None else (low, high, longest)


@functools.cache
def _plain_ids_collator_class():
    from transformers import DataCollatorWithPadding

    class PlainIdsCollator(DataCollatorWithPadding):
        def __call__(self, features):
            return super().__call__([{k: [int(x) for x in v] if isinstance(v, (list, tuple)) and v
                                      and isinstance(v[0], np.integer) else v for k, v in f.items()}
                                     for f in features])
    return PlainIdsCollator


def _padding_collator(tokenizer):
    """``DataCollatorWithPadding(tokenizer)`` that also takes rows whose ids are lists of NumPy integers
    (``tokenizer.pad`` refuses a list starting with ``np.int64``: "type of 2 unknown")."""
    return _plain_ids_collator_class()(tokenizer)


def _lengths(dataset) -> list[int]:
    if hasattr(dataset, "column_names") and "length" in dataset.column_names:
        return list(dataset["length"])
    return [len(row["input_ids"]) for row in dataset]


def dataloader(dataset, tokenizer, batch_size: int, *, shuffle: bool = False, group_by_length: bool = False,
               seed: int = 0, collator=None, columns: Sequence[str] = MODEL_INPUTS):
    """A ``DataLoader`` over tokenised examples, each batch padded to its own longest example.

    Keeps only ``columns`` (default the model's inputs and labels, :data:`MODEL_INPUTS`) and pads with
    ``collator`` (default ``DataCollatorWithPadding(tokenizer)``, which also renames ``label`` to
    ``labels``; pass ``DataCollatorForTokenClassification(tokenizer)`` for token labels, or your own
    function of a list of rows, e.g. one that tokenises a ``text`` column with fresh augmentation each
    time a review is drawn). The order comes from an
    :class:`EpochSampler` (``loader.sampler``): call ``loader.sampler.set_epoch(e)`` before epoch ``e``
    (:func:`companion.loop.train` does).

    Args:
        dataset: a ``datasets.Dataset`` (e.g. from :func:`tokenize`) or a list of dicts with ``input_ids``.
        tokenizer: gives the padding token and side.
        batch_size: examples per batch.
        shuffle: a new seeded order every epoch.
        group_by_length: batches of similar length (needs ``shuffle``).
        seed: seed of the order.

    Raises:
        TypeError / ValueError: bad ``batch_size``, ``seed`` or flags; an empty ``dataset``.
    """
    from torch.utils.data import DataLoader

    batch_size = checks.integer(batch_size, "batch_size")
    checks.boolean(shuffle, "shuffle")
    if not hasattr(dataset, "__len__") or isinstance(dataset, (str, bytes, dict)):
        raise TypeError(f"dataset: expected a datasets.Dataset or a list of dicts, got {type(dataset).__name__}")
    if collator is not None:
        checks.function(collator, "collator")
    elif not callable(tokenizer):
        raise TypeError(f"tokenizer: expected a transformers tokenizer (or pass a collator), got "
                        f"{type(tokenizer).__name__}")
    if checks.boolean(group_by_length, "group_by_length") and not shuffle:
        raise ValueError("group_by_length: needs shuffle=True (training batches); evaluation keeps the order")
    if len(dataset) == 0:
        raise ValueError("dataset: no examples")
    sampler = EpochSampler(len(dataset), batch_size=batch_size, shuffle=shuffle, seed=seed,
                           lengths=_lengths(dataset) if group_by_length else None)
    collator = collator or _padding_collator(tokenizer)
    if isinstance(columns, str):
        raise TypeError(f"columns: expected a list of column names, got the string {columns!r}")
    return DataLoader(_model_columns(dataset, tuple(columns)), batch_size=batch_size, sampler=sampler,
                      collate_fn=collator)


__all__ = ["IGNORE_INDEX", "MODEL_INPUTS", "EpochSampler", "dataloader", "encode", "tokenize",
           "train_wordpiece_tokenizer"]
