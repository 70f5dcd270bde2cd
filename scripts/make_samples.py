"""Make the small, committed data samples the book runs on offline.

Reads the full datasets from a local directory (default ``../shared/data``, or ``--data-dir``) and
writes stratified, seeded samples under ``companion/_data/``. Run it once; the outputs are
committed so that a fresh clone works without the full data::

    python scripts/make_samples.py --data-dir ../shared/data

Sources (cite them wherever the samples are used):

* IMDb: Maas, Daly, Pham, Huang, Ng & Potts (2011). "Learning Word Vectors for Sentiment
  Analysis". ACL 2011. https://ai.stanford.edu/~amaas/data/sentiment/
* Tatoeba English-Mandarin pairs (``tatoeba-cmn-eng/cmn.txt``, as distributed by manythings.org/anki):
  sentences and translations from https://tatoeba.org, CC-BY 2.0 FR; every line keeps its
  attribution (sentence ids and contributors).
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "companion" / "_data"
SEED = 20111  # fixed: the samples must be reproducible byte for byte

IMDB_CITATION = (
    "Maas, A. L., Daly, R. E., Pham, P. T., Huang, D., Ng, A. Y., & Potts, C. (2011). "
    "Learning Word Vectors for Sentiment Analysis. In Proceedings of ACL 2011, pp. 142-150."
)


def stratified(df: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """Return ``n`` rows of ``df`` with equal counts per label, in a shuffled, seeded order."""
    per_label = n // df["label"].nunique()
    parts = [g.sample(per_label, random_state=seed) for _, g in df.groupby("label")]
    return pd.concat(parts).sample(frac=1.0, random_state=seed).reset_index(drop=True)


def write(df: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_parquet(path, index=False)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    counts = df["label"].value_counts().sort_index().to_dict()
    print(f"{path.relative_to(ROOT)}: {len(df)} rows, labels {counts}, sha256 {digest}...")


def make_imdb(data_dir: Path) -> None:
    train_full = pd.read_parquet(data_dir / "imdb" / "train.parquet")
    test_full = pd.read_parquet(data_dir / "imdb" / "test.parquet")
    cols = ["text", "label", "rating", "review_id"]

    # `sample`: the cpu profile. Train and validation are disjoint draws from the official train
    # split; test comes from the official test split (IMDb keeps the films of train and test apart).
    # review_id is only unique within a label folder, so split on row positions, not ids.
    train_val = stratified(train_full, 2500, SEED)[cols]
    is_val = train_val.groupby("label").cumcount() < 250  # 250 per label for validation
    sample = {
        "train": train_val[~is_val].reset_index(drop=True),
        "validation": train_val[is_val].reset_index(drop=True),
        "test": stratified(test_full, 1000, SEED)[cols],
    }
    for split, df in sample.items():
        write(df, OUT / "imdb" / "sample" / f"{split}.parquet")

    # `fixture`: the smoke profile, a small stratified subset of the sample.
    fixture = {
        "train": stratified(sample["train"], 200, SEED),
        "validation": stratified(sample["validation"], 50, SEED),
        "test": stratified(sample["test"], 100, SEED),
    }
    for split, df in fixture.items():
        write(df, OUT / "imdb" / "fixture" / f"{split}.parquet")


TATOEBA_MAX_PAIRS = 5000
TATOEBA_NOTICE = """\
# Tatoeba English-Mandarin sample

`pairs.tsv`: {n:,} English-Mandarin sentence pairs, a seeded random sample (seed {seed}) of the
{total:,} pairs in `cmn.txt` (the Tatoeba export distributed by https://www.manythings.org/anki/),
made by `scripts/make_samples.py` (function `make_tatoeba`). One pair per line, UTF-8 without BOM,
tab-separated, no header: English sentence, Mandarin sentence, attribution.

Licence: the sentences come from Tatoeba (https://tatoeba.org) and are licensed under
Creative Commons Attribution 2.0 France (CC-BY 2.0 FR,
https://creativecommons.org/licenses/by/2.0/fr/). The third column of every line is its
attribution (the Tatoeba sentence ids and the contributors' user names); keep it with any copy.
"""


def make_tatoeba(data_dir: Path, max_pairs: int = TATOEBA_MAX_PAIRS, seed: int = SEED) -> Path:
    """Write ``companion/_data/tatoeba/pairs.tsv``: a seeded sample of at most ``max_pairs`` pairs.

    Reads ``<data_dir>/tatoeba-cmn-eng/cmn.txt`` (tab-separated English, Mandarin, attribution;
    the file starts with a UTF-8 byte-order mark, which is stripped), keeps lines with exactly
    three non-empty fields, samples ``max_pairs`` of them with ``random.Random(seed)`` and writes
    them in their original order, with the attribution column, plus a ``README.md`` with the
    CC-BY 2.0 FR notice. The train/validation/test split is made deterministically by
    ``companion.translation.load_tatoeba``.
    """
    import random

    source = data_dir / "tatoeba-cmn-eng" / "cmn.txt"
    rows = []
    for line in source.read_text(encoding="utf-8-sig").splitlines():
        fields = [f.strip() for f in line.lstrip("\ufeff").split("\t")]
        if len(fields) == 3 and all(fields):
            rows.append(fields)
    keep = sorted(random.Random(seed).sample(range(len(rows)), min(max_pairs, len(rows))))
    out_dir = OUT / "tatoeba"
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "pairs.tsv"
    path.write_text("".join("\t".join(rows[i]) + "\n" for i in keep), encoding="utf-8")
    (out_dir / "README.md").write_text(TATOEBA_NOTICE.format(n=len(keep), seed=seed, total=len(rows)),
                                       encoding="utf-8")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    print(f"{path.relative_to(ROOT)}: {len(keep)} of {len(rows)} pairs, sha256 {digest}...")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    if not (args.data_dir / "imdb" / "train.parquet").exists():
        raise SystemExit(f"--data-dir: {args.data_dir} has no imdb/train.parquet")
    if not (args.data_dir / "tatoeba-cmn-eng" / "cmn.txt").exists():
        raise SystemExit(f"--data-dir: {args.data_dir} has no tatoeba-cmn-eng/cmn.txt")
    make_imdb(args.data_dir)
    make_tatoeba(args.data_dir)


if __name__ == "__main__":
    main()
