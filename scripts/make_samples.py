"""Make the small, committed data samples the book runs on offline.

Reads the full datasets from a local directory (default ``../shared/data``, or ``--data-dir``) and
writes stratified, seeded samples under ``companion/_data/`` (labelled reviews in ``imdb/sample`` and
``imdb/fixture``; unlabelled reviews from IMDb's ``unsupervised`` split in ``imdb/unsup``). Run it once; the outputs are
committed so that a fresh clone works without the full data::

    python scripts/make_samples.py --data-dir ../shared/data

Sources (cite them wherever the samples are used):

* IMDb: Maas, Daly, Pham, Huang, Ng & Potts (2011). "Learning Word Vectors for Sentiment
  Analysis". ACL 2011. https://ai.stanford.edu/~amaas/data/sentiment/
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


def make_imdb_unsup(data_dir: Path) -> None:
    """Unlabelled IMDb reviews for the pre-training chapter (2): language models and MLM pre-training.

    The 50,000 ``unsupervised`` reviews of the Large Movie Review Dataset carry no label (``label`` = -1);
    a seeded random draw of 5,000 is the ``cpu`` sample (about 1.1M words), 300 of those the fixture.
    """
    unsup = pd.read_parquet(data_dir / "imdb" / "unsupervised.parquet")[["text", "review_id"]]
    sample = unsup.sample(5000, random_state=SEED).reset_index(drop=True)
    fixture = sample.sample(300, random_state=SEED).reset_index(drop=True)
    for name, df in (("sample", sample), ("fixture", fixture)):
        path = OUT / "imdb" / "unsup" / f"{name}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        df.to_parquet(path, index=False, compression="zstd")
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        print(f"{path.relative_to(ROOT)}: {len(df)} unlabelled reviews, sha256 {digest}...")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    if not (args.data_dir / "imdb" / "train.parquet").exists():
        raise SystemExit(f"--data-dir: {args.data_dir} has no imdb/train.parquet")
    make_imdb(args.data_dir)
    make_imdb_unsup(args.data_dir)


if __name__ == "__main__":
    main()
