"""Data loading and tokenisation for the book's experiments.

IMDb (Maas et al., ACL 2011, "Learning Word Vectors for Sentiment Analysis") comes from one of three
places, with the same ``text``/``label`` schema:

* ``"fixture"`` -- 200/50/100 reviews committed in the package (smoke profile);
* ``"sample"`` -- 2,000/500/1,000 reviews committed in the package (cpu profile), a stratified,
  seeded sample of the full data made by ``scripts/make_samples.py``;
* ``"hub"`` -- the full 25,000/25,000 reviews: the parquet directory named by
  ``$COMPANION_DATA_DIR`` if it is set, else the hub dataset ``stanfordnlp/imdb`` (gpu profile).

Book section: the text-classification case (8.1), "Data".
"""

from __future__ import annotations

import os
import re
from importlib import resources
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from datasets import Dataset, DatasetDict, load_dataset

IMDB_SOURCES = ("fixture", "sample", "hub")
IMDB_HUB_ID = "stanfordnlp/imdb"
DATA_DIR_ENV = "COMPANION_DATA_DIR"
IMDB_CITATION = (
    "Maas, A. L., Daly, R. E., Pham, P. T., Huang, D., Ng, A. Y., & Potts, C. (2011). "
    "Learning Word Vectors for Sentiment Analysis. ACL 2011, 142-150."
)
_BR = re.compile(r"<br\s*/?>", flags=re.IGNORECASE)


def packaged_data_dir() -> Path:
    """Directory of the data samples shipped inside the package (``companion/_data``)."""
    return Path(str(resources.files("companion") / "_data"))


def clean_review(text: str) -> str:
    """Replace IMDb's ``<br />`` line-break tags with spaces and collapse runs of whitespace.

    Raises:
        TypeError: if ``text`` is not a string.
    """
    if not isinstance(text, str):
        raise TypeError(f"text: expected str, got {type(text).__name__}")
    return " ".join(_BR.sub(" ", text).split())


def stratified_indices(labels: Sequence[int], n: int, seed: int = 0) -> list[int]:
    """Pick ``n`` positions with (as near as possible) equal counts per label, shuffled, seeded.

    Args:
        labels: one integer label per example (1-D).
        n: how many positions to return; ``n <= len(labels)``.
        seed: seed (int) of the NumPy generator.

    Returns:
        A list of ``n`` distinct positions into ``labels``.

    Raises:
        ValueError: if ``labels`` is not a 1-D sequence of integer labels, ``n`` is not a positive
            int or exceeds ``len(labels)``, a label has too few examples for an equal share, or
            ``seed`` is not an int.
    """
    return _stratified(labels, n, seed, "n")


def _stratified(labels, n, seed, name: str) -> list[int]:
    if labels is None or isinstance(labels, (str, bytes)) or not hasattr(labels, "__len__"):
        raise ValueError(f"labels: expected a 1-D sequence of integer labels, got {type(labels).__name__}")
    labels = np.asarray(labels)
    if labels.ndim != 1 or not (np.issubdtype(labels.dtype, np.integer) or labels.dtype == np.bool_):
        raise ValueError(f"labels: expected a 1-D sequence of integer labels, got shape {labels.shape} "
                         f"and dtype {labels.dtype}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
        raise ValueError(f"{name}: expected a positive integer, got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed: expected an int, got {seed!r}")
    if n > len(labels):
        raise ValueError(f"{name}: asked for {n} examples but there are only {len(labels)}")
    rng = np.random.default_rng(seed)
    classes = np.unique(labels)
    share = [n // len(classes) + (1 if i < n % len(classes) else 0) for i in range(len(classes))]
    picked = []
    for cls, k in zip(classes, share):
        pool = np.flatnonzero(labels == cls)
        if k > len(pool):
            raise ValueError(f"{name}: label {cls} has {len(pool)} examples, fewer than its share {k} of {n}")
        picked.append(rng.choice(pool, size=k, replace=False))
    out = np.concatenate(picked)
    rng.shuffle(out)
    return out.tolist()


def _from_parquet_dir(directory: Path, what: str) -> DatasetDict:
    if not directory.is_dir():
        raise FileNotFoundError(f"{what}: {directory} is not an existing directory")
    files = {p.stem: str(p) for p in sorted(directory.glob("*.parquet"))}
    if "train" not in files or "test" not in files:
        raise FileNotFoundError(f"{what}: {directory} must hold train.parquet and test.parquet (has {sorted(files)})")
    return load_dataset("parquet", data_files=files)


def load_imdb(
    source: str = "sample",
    *,
    train_size: int | None = None,
    validation_size: int | None = None,
    test_size: int | None = None,
    seed: int = 0,
    clean: bool = True,
    columns: Iterable[str] = ("text", "label"),
) -> DatasetDict:
    """Load IMDb as a :class:`datasets.DatasetDict` with splits ``train``, ``validation``, ``test``.

    Sources without a validation split (the hub data) get one held out from ``train``: a
    stratified 10% (at most 2,500 reviews), chosen with ``seed``. The test split is never touched
    until the final evaluation.

    Args:
        source: ``"fixture"``, ``"sample"``, ``"hub"`` or a path to a directory of parquet files
            (``train.parquet``, ``test.parquet``, optionally ``validation.parquet``).
        train_size, validation_size, test_size: if given, take a stratified subset of this many
            examples of that split (``None`` keeps the whole split).
        seed: seed for the subsets.
        clean: apply :func:`clean_review` to ``text``.
        columns: columns to keep; ``text`` is a string, ``label`` an int (0 negative, 1 positive);
            the packaged samples also have ``rating`` (1-10 stars) and ``review_id``.

    Raises:
        ValueError: for an unknown ``source``, a column the data lacks, labels that are not integer
            class ids, or a size that is not positive or larger than a split (the message names it).
        TypeError: if ``columns`` is a single string rather than a list of names.
        FileNotFoundError: if a directory source (or ``$COMPANION_DATA_DIR``) does not exist or lacks
            ``train.parquet``/``test.parquet``.
        ConnectionError: if ``source="hub"`` cannot reach the hub (offline: set ``$COMPANION_DATA_DIR``).
    """
    if isinstance(columns, str):
        raise TypeError(f"columns: expected a list of column names, got the string {columns!r}")
    columns = list(columns)
    if source in ("fixture", "sample"):
        ds = _from_parquet_dir(packaged_data_dir() / "imdb" / source, "source")
    elif source == "hub":
        local = os.environ.get(DATA_DIR_ENV)
        if local:
            ds = _from_parquet_dir(Path(local), f"${DATA_DIR_ENV}")
        else:
            try:
                ds = load_dataset(IMDB_HUB_ID)
            except (ConnectionError, OSError) as err:
                raise ConnectionError(f"source='hub': cannot load {IMDB_HUB_ID} ({err}); offline, point "
                                      f"${DATA_DIR_ENV} at a directory of IMDb parquet files") from err
    elif isinstance(source, (str, Path)) and Path(source).is_dir():
        ds = _from_parquet_dir(Path(source), "source")
    else:
        raise ValueError(f"source: {source!r} is not one of {IMDB_SOURCES} or an existing directory")
    sizes = {"train": train_size, "validation": validation_size, "test": test_size}
    needs_label = "validation" not in ds or any(v is not None for v in sizes.values())
    if needs_label and "label" not in columns:
        raise ValueError("columns: must include 'label' when a split is subsampled or held out by label")
    for split, d in ds.items():
        if "label" in d.column_names and not str(d.features["label"].dtype).startswith(("int", "bool")):
            raise ValueError(f"source: split {split!r} has labels of type {d.features['label'].dtype}; "
                             "expected integer class ids (0 negative, 1 positive)")

    ds = DatasetDict({k: v for k, v in ds.items() if k in ("train", "validation", "test")})
    if "validation" not in ds:  # the hub data has none: hold out 10% of train (at most 2,500), stratified
        n_val = min(2500, max(2, len(ds["train"]) // 10))
        held = set(_stratified(list(ds["train"]["label"]), n_val, seed, "validation (held out of train)"))
        ds["validation"] = ds["train"].select(sorted(held))
        ds["train"] = ds["train"].select([i for i in range(len(ds["train"])) if i not in held])
    for split, d in ds.items():
        missing = [c for c in columns if c not in d.column_names]
        if missing:
            raise ValueError(f"columns: split {split!r} has no column(s) {missing} (has {d.column_names})")
        ds[split] = d.select_columns(columns)
        size = sizes[split]
        if size is not None:
            ds[split] = ds[split].select(_stratified(list(ds[split]["label"]), size, seed, f"{split}_size"))
    if clean and "text" in columns:
        ds = ds.map(lambda b: {"text": [clean_review(t) for t in b["text"]]}, batched=True)
    return ds


def tokenize(ds: DatasetDict | Dataset, tokenizer, max_length: int, text_column: str = "text",
             head_tokens: int | None = None):
    """Tokenise ``text_column`` to at most ``max_length`` tokens, with *no* padding.

    Padding happens per batch in the collator (``transformers.DataCollatorWithPadding``), so a
    batch of short reviews is not padded to 512.

    Truncation keeps the first ``max_length`` tokens by default. With ``head_tokens=h``, a long
    text keeps its first ``h`` and its last ``max_length - h`` tokens instead ("head + tail"
    truncation: Sun, Qiu, Xu & Huang, CCL 2019, "How to Fine-Tune BERT for Text Classification?",
    found it best on IMDb, where a review's verdict is often at its end). ``[CLS]`` and ``[SEP]``
    stay at the ends either way.

    Adds ``input_ids``, ``attention_mask`` (and ``token_type_ids`` for BERT) and ``length``
    (tokens per example, used to group batches by length); removes ``text_column``.

    Raises:
        TypeError: if ``ds`` is not a ``Dataset``/``DatasetDict`` or ``tokenizer`` is not callable.
        ValueError: if ``text_column`` is missing, ``max_length`` is not an int >= 3 (two special
            tokens plus one token of text) or exceeds the model's maximum length, or ``head_tokens``
            is not in ``[1, max_length - 2]``.
    """
    if not isinstance(ds, (Dataset, DatasetDict)):
        raise TypeError(f"ds: expected a datasets.Dataset or DatasetDict, got {type(ds).__name__}")
    if not callable(tokenizer):
        raise TypeError(f"tokenizer: expected a transformers tokenizer, got {type(tokenizer).__name__}")
    names = ds.column_names if isinstance(ds, Dataset) else next(iter(ds.values())).column_names
    if text_column not in names:
        raise ValueError(f"text_column: {text_column!r} is not a column (columns: {names})")
    if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 3:
        raise ValueError(f"max_length: expected an int >= 3, got {max_length!r}")
    limit = getattr(tokenizer, "model_max_length", None)
    if limit is not None and limit < 10**6 and max_length > limit:
        raise ValueError(f"max_length: {max_length} exceeds the tokenizer's model_max_length {limit}")
    if head_tokens is not None and (isinstance(head_tokens, bool) or not (
            isinstance(head_tokens, int) and 1 <= head_tokens <= max_length - 2)):
        raise ValueError(f"head_tokens: expected an int in [1, {max_length - 2}], got {head_tokens!r}")

    def head_tail(seq):
        return seq if len(seq) <= max_length else seq[:head_tokens] + seq[len(seq) - (max_length - head_tokens):]

    def fn(batch):
        if head_tokens is None:
            enc = tokenizer(batch[text_column], truncation=True, max_length=max_length)
        else:
            enc = tokenizer(batch[text_column], truncation=False, verbose=False)
            enc = {k: [head_tail(seq) for seq in v] for k, v in enc.items()}
        enc["length"] = [len(ids) for ids in enc["input_ids"]]
        return enc

    return ds.map(fn, batched=True, remove_columns=[text_column])


def train_wordpiece_tokenizer(texts: Iterable[str], vocab_size: int = 2000, lowercase: bool = True):
    """Train a BERT-style WordPiece tokenizer on ``texts`` (no network needed).

    Uses the ``tokenizers`` library (BERT normaliser and pre-tokeniser, ``[CLS] A [SEP]``
    template) and wraps the result as a ``transformers`` BERT tokenizer with the special tokens
    ``[PAD]`` (id 0), ``[UNK]``, ``[CLS]``, ``[SEP]``, ``[MASK]``. WordPiece: Schuster & Nakajima
    (2012); Wu et al. (2016). Used by the smoke profile.

    Raises:
        TypeError: if ``texts`` is a single string or holds something other than strings.
        ValueError: if ``vocab_size`` < 50 or ``texts`` is empty.
    """
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertTokenizerFast

    if isinstance(texts, (str, bytes)) or texts is None:
        raise TypeError(f"texts: expected an iterable of strings, got {type(texts).__name__}")
    texts = list(texts)
    if not texts:
        raise ValueError("texts: need at least one text to train a tokenizer")
    bad = [type(t).__name__ for t in texts if not isinstance(t, str)]
    if bad:
        raise TypeError(f"texts: expected strings, found {len(bad)} of type {bad[0]}")
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size < 50:
        raise ValueError(f"vocab_size: expected an int >= 50, got {vocab_size!r}")
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=lowercase)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.train_from_iterator(texts, trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=specials,
                                                              show_progress=False))
    # The learned vocabulary is reproducible, but the trainer's order of the ids is not (it varies from
    # run to run). Renumber: special tokens first, then the others sorted, so the same texts always
    # give the same token ids (and notebooks that train a tokenizer give the same outputs).
    learned = [t for t in tok.get_vocab() if t not in specials]
    tok.model = models.WordPiece(vocab={t: i for i, t in enumerate(specials + sorted(learned))}, unk_token="[UNK]")
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls), ("[SEP]", sep)],
    )
    tok.decoder = decoders.WordPiece()
    return BertTokenizerFast(tokenizer_object=tok, model_max_length=512)


# ---------------------------------------------------------------------------- unlabelled IMDb (chapter 2)
UNSUP_SOURCES = ("fixture", "sample", "hub")


def load_imdb_unsup(source: str = "sample", *, validation_size: int | None = None, train_size: int | None = None,
                    seed: int = 0, clean: bool = True) -> DatasetDict:
    """Unlabelled IMDb reviews for pre-training: a :class:`datasets.DatasetDict` with ``train`` and
    ``validation`` splits and one column, ``text``.

    The reviews come from the 50,000-review ``unsupervised`` split of the Large Movie Review Dataset
    (Maas et al., ACL 2011); they have no sentiment label. Sources:

    * ``"fixture"`` -- 300 reviews committed in the package (smoke profile);
    * ``"sample"`` -- 5,000 reviews committed in the package, a seeded random draw made by
      ``scripts/make_samples.py`` (cpu profile; about 1.1M words);
    * ``"hub"`` -- all 50,000: ``$COMPANION_DATA_DIR/unsupervised.parquet`` if that variable is set,
      else the ``unsupervised`` split of the hub dataset ``stanfordnlp/imdb`` (gpu profile).

    Args:
        source: one of :data:`UNSUP_SOURCES`.
        validation_size: reviews held out (seeded random choice) to measure held-out loss/perplexity;
            ``None``: 10% of the reviews, at most 500.
        train_size: keep only this many of the remaining reviews (``None``: all of them).
        seed: seed of the split.
        clean: apply :func:`clean_review` (removes ``<br />`` tags).

    Raises:
        ValueError: for an unknown ``source``, or sizes that do not fit the data.

    Book section: chapter 2, "The data".
    """
    if source in ("fixture", "sample"):
        ds = load_dataset("parquet", data_files=str(packaged_data_dir() / "imdb" / "unsup" / f"{source}.parquet"),
                          split="train")
    elif source == "hub":
        local = os.environ.get(DATA_DIR_ENV)
        if local:
            ds = load_dataset("parquet", data_files=str(Path(local) / "unsupervised.parquet"), split="train")
        else:
            ds = load_dataset(IMDB_HUB_ID, split="unsupervised")
    else:
        raise ValueError(f"source: {source!r} is not one of {UNSUP_SOURCES}")
    ds = ds.select_columns(["text"])
    if validation_size is None:
        validation_size = min(500, len(ds) // 10)
    if not isinstance(validation_size, int) or not 0 < validation_size < len(ds):
        raise ValueError(f"validation_size: expected an int in [1, {len(ds) - 1}], got {validation_size!r}")
    order = np.random.default_rng(seed).permutation(len(ds))
    held, rest = order[:validation_size], order[validation_size:]
    if train_size is not None:
        if not isinstance(train_size, int) or not 0 < train_size <= len(rest):
            raise ValueError(f"train_size: expected an int in [1, {len(rest)}], got {train_size!r}")
        rest = rest[:train_size]
    out = DatasetDict({"train": ds.select(sorted(rest.tolist())), "validation": ds.select(sorted(held.tolist()))})
    if clean:
        out = out.map(lambda b: {"text": [clean_review(t) for t in b["text"]]}, batched=True)
    return out
