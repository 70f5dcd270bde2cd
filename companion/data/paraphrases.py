"""English paraphrase pairs made from Tatoeba: the probe of chapter 5's forgetting experiment.

Two English sentences that translate the same Mandarin sentence on Tatoeba, with word overlap
(Jaccard) at most 0.5; every English sentence in one pair only. Made by ``scripts/make_samples.py``;
CC-BY 2.0 FR, both lines' attributions kept.

Book section: chapter 5.3 (catastrophic forgetting).
"""

from __future__ import annotations

import pandas as pd

from .. import checks
from .imdb import packaged_data_dir

PARAPHRASE_SOURCES = ("sample", "fixture")


def load_paraphrase_pairs(source: str = "sample", n: int | None = None) -> pd.DataFrame:
    """The committed paraphrase pairs.

    Args:
        source: ``"sample"`` (1,000 pairs) or ``"fixture"`` (100 pairs).
        n: keep the first ``n`` pairs (already in a seeded random order); ``None`` keeps all.

    Returns:
        A ``DataFrame`` with columns ``a``, ``b`` (str) and ``attribution`` (str).

    Raises:
        ValueError: unknown ``source``, or ``n`` not in ``[1, number of pairs]``.
        TypeError: ``n`` not an int.
    """
    checks.one_of(source, "source", PARAPHRASE_SOURCES)
    df = pd.read_parquet(packaged_data_dir() / "paraphrases" / f"{source}.parquet")
    if n is not None:
        n = checks.integer(n, "n", maximum=len(df))
        df = df.iloc[:n].reset_index(drop=True)
    return df


__all__ = ["PARAPHRASE_SOURCES", "load_paraphrase_pairs"]
