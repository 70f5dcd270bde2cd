"""English-Mandarin sentence pairs from Tatoeba, and parallel corpora from the hub.

Tatoeba (https://tatoeba.org, export by https://www.manythings.org/anki/) is licensed CC-BY 2.0 FR:
every pair carries its attribution (sentence ids and contributors), which must stay with any copy.
The package ships a seeded 5,000-pair sample (``companion/_data/tatoeba/pairs.tsv``, made by
``scripts/make_samples.py`` from the 29,155 pairs of ``cmn.txt``).

* :func:`read_tatoeba` -- the one reader of that tab-separated format, as a ``DataFrame``;
* :func:`load_tatoeba` -- train/validation/test splits in which pairs sharing an English sentence are
  never split (:func:`grouped_split`);
* :func:`load_hub_pairs` -- a hub corpus (e.g. ``wmt/wmt19`` ``zh-en``) streamed, for the gpu profile.

Book sections: chapter 3 (cleaning parallel text), the translation case 8.2, chapter 5 (paraphrases).
"""

from __future__ import annotations

import collections
import os
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
from datasets import Dataset, DatasetDict

from .. import checks
from .imdb import packaged_data_dir

TATOEBA_CITATION = (
    "Tatoeba (https://tatoeba.org), English-Mandarin sentence pairs, CC-BY 2.0 FR "
    "(https://creativecommons.org/licenses/by/2.0/fr/); the attribution column names the sentence ids "
    "and contributors of every pair."
)
TATOEBA_SOURCES = ("fixture", "sample")
_FIXTURE_PAIRS = 400


def read_tatoeba(path: str | os.PathLike | None = None, n: int | None = None) -> pd.DataFrame:
    """Tatoeba pairs from a tab-separated file of ``english<TAB>chinese<TAB>attribution`` lines.

    Blank lines are skipped; a missing attribution column reads as ``""``.

    Args:
        path: the file; default the committed 5,000-pair sample.
        n: keep only the first ``n`` pairs (``None``: all).

    Returns:
        A ``DataFrame`` with string columns ``english``, ``chinese``, ``attribution``.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: a line without a tab-separated translation (its number is named).
        TypeError / ValueError: ``n`` not a positive int.
    """
    path = packaged_data_dir() / "tatoeba" / "pairs.tsv" if path is None else checks.existing_path(path, "path", kind="file")
    if n is not None:
        n = checks.integer(n, "n")
    try:
        lines = Path(path).read_text(encoding="utf-8-sig").splitlines()
    except UnicodeDecodeError as err:
        raise ValueError(f"path: {path} is not UTF-8 text (a corrupt or binary file?): {err}") from err
    rows = []
    for i, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) < 2:
            raise ValueError(f"path: line {i} of {path} has no tab-separated translation")
        rows.append((fields[0].strip(), fields[1].strip(), fields[2].strip() if len(fields) > 2 else ""))
        if n is not None and len(rows) == n:
            break
    if not rows:
        raise ValueError(f"path: {path} holds no sentence pairs")
    return pd.DataFrame(rows, columns=["english", "chinese", "attribution"])


def grouped_split(keys: Sequence[str], *, validation_size: int, test_size: int, seed: int = 0) -> dict[str, list[int]]:
    """Split positions into train/validation/test so that equal keys stay in one split.

    Tatoeba often has several Chinese translations of one English sentence ("Hi." -> 嗨。/ 你好。);
    if one were in training and the other in the test set, the test would reward memorisation.
    Unique keys are shuffled with ``numpy.random.default_rng(seed)``; whole groups go to the test
    split until it holds at least ``test_size`` positions, then to validation, the rest to train.

    Returns:
        ``{"train": [...], "validation": [...], "test": [...]}``: sorted positions into ``keys``.

    Raises:
        ValueError: if a size or ``seed`` is negative or the two held-out sizes leave no training data.
        TypeError: ``keys`` is one string (it would be split character by character) or holds a non-string;
            a size or ``seed`` is not an int.
    """
    validation_size = checks.integer(validation_size, "validation_size", minimum=0)
    test_size = checks.integer(test_size, "test_size", minimum=0)
    seed = checks.integer(seed, "seed", minimum=0)
    keys = checks.texts(keys, "keys", allow_empty=True)
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
        df = read_tatoeba(n=_FIXTURE_PAIRS if source == "fixture" else None)
    elif isinstance(source, (str, os.PathLike)) and Path(source).is_file():
        df = read_tatoeba(source)
    else:
        raise ValueError(f"source: {source!r} is not one of {TATOEBA_SOURCES} or an existing file")
    rows = list(df.itertuples(index=False, name=None))
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
        TypeError: ``records`` is not an iterable of dicts, a side is not a string, or a language not a string.
    """
    checks.text(source_lang, "source_lang")
    checks.text(target_lang, "target_lang")
    if isinstance(records, (str, bytes, dict)) or not hasattr(records, "__iter__"):
        raise TypeError(f"records: expected an iterable of dicts, got {type(records).__name__}")
    out: dict[str, list[str]] = {source_lang: [], target_lang: []}
    for i, rec in enumerate(records):
        if not isinstance(rec, dict):
            raise TypeError(f"records[{i}]: expected a dict, got {type(rec).__name__}")
        pair = rec.get("translation", rec)
        if not isinstance(pair, dict) or source_lang not in pair or target_lang not in pair:
            raise ValueError(f"records: record {i} has no {source_lang!r}/{target_lang!r} fields "
                             f"(keys: {sorted(rec)})")
        for lang in (source_lang, target_lang):
            if pair[lang] is not None and not isinstance(pair[lang], str):
                raise TypeError(f"records[{i}][{lang!r}]: expected a string, got {type(pair[lang]).__name__}")
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

    checks.text(dataset_id, "dataset_id")
    if config is not None:
        checks.text(config, "config")
    train_size = checks.integer(train_size, "train_size")
    validation_size = checks.integer(validation_size, "validation_size")
    test_size = checks.integer(test_size, "test_size")
    seed = checks.integer(seed, "seed", minimum=0)
    shuffle_buffer = checks.integer(shuffle_buffer, "shuffle_buffer")
    checks.text(source_lang, "source_lang")
    checks.text(target_lang, "target_lang")
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


__all__ = ["TATOEBA_CITATION", "TATOEBA_SOURCES", "grouped_split", "load_hub_pairs", "load_tatoeba",
           "pairs_from_records", "read_tatoeba"]
