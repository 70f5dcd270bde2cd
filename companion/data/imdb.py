"""IMDb movie reviews (Maas et al., ACL 2011, "Learning Word Vectors for Sentiment Analysis").

Labelled reviews (:func:`load_imdb`) come from one of three places, with the same ``text``/``label``
schema:

* ``"fixture"`` -- 200/50/100 reviews committed in the package (smoke profile);
* ``"sample"`` -- 2,000/500/1,000 reviews committed in the package (cpu profile), a stratified,
  seeded sample of the full data made by ``scripts/make_samples.py``;
* ``"hub"`` -- the full 25,000/25,000 reviews: the parquet directory named by
  ``$COMPANION_DATA_DIR`` if it is set, else the hub dataset ``stanfordnlp/imdb`` (gpu profile).

Unlabelled reviews (:func:`load_imdb_unlabelled`) feed the pre-training chapters 2 and 3.

Book section: the text-classification case (8.1), "Data"; chapters 2-3 (unlabelled reviews).
"""

from __future__ import annotations

import os
import re
from importlib import resources
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from datasets import Dataset, DatasetDict, load_dataset

from .. import checks

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
        raise TypeError(f"labels: expected a 1-D sequence of integer labels, got {type(labels).__name__}")
    labels = np.asarray(labels)
    if labels.ndim != 1 or not (np.issubdtype(labels.dtype, np.integer) or labels.dtype == np.bool_):
        raise ValueError(f"labels: expected a 1-D sequence of integer labels, got shape {labels.shape} "
                         f"and dtype {labels.dtype}")
    n = checks.integer(n, name)
    seed = checks.integer(seed, "seed", minimum=0)
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


def _read_parquet(files, what: str, **kwargs):
    """``load_dataset("parquet", ...)`` whose error names the argument and the file when one does not parse."""
    try:
        return load_dataset("parquet", data_files=files, **kwargs)
    except Exception as err:  # pyarrow raises several types for a corrupt file
        raise ValueError(f"{what}: cannot read the parquet file(s) {files} ({type(err).__name__}: {err})") from err


def _from_parquet_dir(directory: Path, what: str) -> DatasetDict:
    if not directory.is_dir():
        raise FileNotFoundError(f"{what}: {directory} is not an existing directory")
    files = {p.stem: str(p) for p in sorted(directory.glob("*.parquet"))}
    if "train" not in files or "test" not in files:
        raise FileNotFoundError(f"{what}: {directory} must hold train.parquet and test.parquet (has {sorted(files)})")
    return _read_parquet(files, what)


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
    columns = checks.texts(columns, "columns")
    seed = checks.integer(seed, "seed", minimum=0)
    clean = checks.boolean(clean, "clean")
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
    for split, d in ds.items():  # IMDb's classes are 0 (negative) and 1 (positive): nothing else
        if "label" in d.column_names:
            checks.class_labels(d["label"][:], f"source: split {split!r} column 'label'", num_labels=2)
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


# ---------------------------------------------------------------------------- unlabelled reviews
UNLABELLED_SOURCES = ("fixture", "sample", "raw", "hub")


def load_imdb_unlabelled(source: str = "sample", *, n: int | None = None, clean: bool = True) -> Dataset:
    """Unlabelled IMDb reviews (the corpus's 50,000-review ``unsupervised`` split) as a ``Dataset``
    with columns ``doc_id`` (int, position in the source) and ``text`` (str).

    Sources:

    * ``"fixture"`` -- 300 reviews committed in the package (smoke profile);
    * ``"sample"`` -- 5,000 reviews committed in the package, a seeded random draw (cpu profile, about
      1.1M words; chapter 2's pre-training corpus);
    * ``"raw"`` -- 2,120 committed reviews: 2,000 at random plus every member of 59 duplicate groups, so
      that chapter 3's de-duplication has something to find (use ``clean=False`` to see them as
      published, ``<br />`` tags and all);
    * ``"hub"`` -- all 50,000: ``$COMPANION_DATA_DIR/unsupervised.parquet`` if that variable is set,
      else the ``unsupervised`` split of ``stanfordnlp/imdb`` (gpu profile).

    Split it with the ``datasets`` library, e.g. ``load_imdb_unlabelled().train_test_split(test_size=500,
    seed=0)``; for pandas, ``.to_pandas()``.

    Args:
        source: one of :data:`UNLABELLED_SOURCES`.
        n: keep the first ``n`` reviews (``None``: all).
        clean: apply :func:`clean_review` (``<br />`` tags to spaces, whitespace collapsed).

    Raises:
        ValueError: unknown ``source``; ``n`` not in ``[1, len]``; a file that does not parse.
        TypeError: ``n`` not an int, ``clean`` not a bool.
        FileNotFoundError: ``$COMPANION_DATA_DIR`` lacks ``unsupervised.parquet``.
    """
    checks.one_of(source, "source", UNLABELLED_SOURCES)
    clean = checks.boolean(clean, "clean")
    root = packaged_data_dir() / "imdb"
    if source in ("fixture", "sample"):
        ds = _read_parquet(str(root / "unsup" / f"{source}.parquet"), "source", split="train")
    elif source == "raw":
        ds = _read_parquet(str(root / "unsupervised.parquet"), "source", split="train")
    else:
        local = os.environ.get(DATA_DIR_ENV)
        if local:
            path = checks.existing_path(Path(local) / "unsupervised.parquet", f"${DATA_DIR_ENV}", kind="file")
            ds = _read_parquet(str(path), f"${DATA_DIR_ENV}", split="train")
        else:
            try:
                ds = load_dataset(IMDB_HUB_ID, split="unsupervised")
            except (ConnectionError, OSError) as err:
                raise ConnectionError(f"source='hub': cannot load {IMDB_HUB_ID} ({err}); offline, point "
                                      f"${DATA_DIR_ENV} at a directory with unsupervised.parquet") from err
    ds = ds.select_columns(["text"])
    if n is not None:
        n = checks.integer(n, "n", maximum=len(ds))
        ds = ds.select(range(n))
    ds = ds.add_column("doc_id", list(range(len(ds))))
    if clean:
        ds = ds.map(lambda b: {"text": [clean_review(t) for t in b["text"]]}, batched=True)
    return ds.select_columns(["doc_id", "text"])


__all__ = ["DATA_DIR_ENV", "IMDB_CITATION", "IMDB_HUB_ID", "IMDB_SOURCES", "UNLABELLED_SOURCES", "clean_review",
           "load_imdb", "load_imdb_unlabelled", "packaged_data_dir", "stratified_indices"]
