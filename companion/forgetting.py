"""Measuring catastrophic forgetting: does the backbone still do what it was pretrained for?

``all-MiniLM-L6-v2`` was trained so that the mean of its last hidden states is a sentence embedding
in which paraphrases lie close together (Reimers & Gurevych, EMNLP 2019). We measure that general
ability with a paraphrase-retrieval probe and watch it degrade when the backbone is fine-tuned on a
narrow task (McCloskey & Cohen 1989; French 1999, "Catastrophic forgetting in connectionist
networks"):

* :func:`load_paraphrase_pairs` -- English paraphrase pairs from Tatoeba (CC-BY 2.0 FR, attribution
  kept per row), committed in the package: ``sample`` 1,000 pairs, ``fixture`` 100;
* :func:`sentence_embeddings` -- mean-pooled, L2-normalised last hidden states of the backbone;
* :func:`recall_at_1` / :func:`paraphrase_recall` -- for each sentence ``a``, is its paraphrase ``b``
  the nearest of all the ``b`` sentences (cosine similarity)?

Book section: chapter 5.3, "Catastrophic forgetting".
"""

from __future__ import annotations

from typing import Sequence

import pandas as pd
import torch

from . import checks
from .models import mean_pool

@torch.no_grad()
def sentence_embeddings(model, tokenizer, texts: Sequence[str], *, batch_size: int = 64, max_length: int = 64
                        ) -> torch.Tensor:
    """Mean-pooled, L2-normalised last hidden states of ``model``'s backbone, shape ``(n, hidden)``.

    ``model`` may be a bare encoder or a model with a task head (its ``base_model`` is used, so the
    head is ignored) or a ``peft`` model. Padding tokens are excluded from the mean. Runs in eval
    mode and restores the previous mode.

    Raises:
        ValueError: if ``texts`` is empty.
    """
    texts = checks.texts(texts, "texts")
    batch_size = checks.integer(batch_size, "batch_size")
    max_length = checks.integer(max_length, "max_length")
    backbone = model.get_base_model() if hasattr(model, "get_base_model") else model
    backbone = getattr(backbone, "base_model", backbone)
    device = next(backbone.parameters()).device
    was_training = backbone.training
    backbone.eval()
    out = []
    try:
        for i in range(0, len(texts), batch_size):
            enc = tokenizer(texts[i:i + batch_size], padding=True, truncation=True, max_length=max_length,
                            return_tensors="pt").to(device)
            out.append(mean_pool(backbone(**enc).last_hidden_state.float(), enc["attention_mask"]))
    finally:
        backbone.train(was_training)
    return torch.nn.functional.normalize(torch.cat(out), dim=-1).cpu()


def recall_at_1(queries: torch.Tensor, candidates: torch.Tensor) -> float:
    """Share of queries ``i`` whose most similar candidate (dot product) is candidate ``i``.

    Args:
        queries, candidates: ``(n, d)`` embeddings, row ``i`` of each forming a pair (normalise them
            first for cosine similarity).

    Raises:
        TypeError: if an input is not a tensor.
        ValueError: if the shapes differ, are not 2-D or have no rows, or an embedding is not finite.
    """
    for name, x in (("queries", queries), ("candidates", candidates)):
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{name}: expected a torch.Tensor, got {type(x).__name__}")
    if queries.dim() != 2 or queries.shape != candidates.shape:
        raise ValueError(f"candidates: expected the shape of queries {tuple(queries.shape)}, "
                         f"got {tuple(candidates.shape)}")
    if len(queries) == 0:
        raise ValueError("queries: no pairs to score")
    for name, x in (("queries", queries), ("candidates", candidates)):
        if not torch.isfinite(x).all():
            raise ValueError(f"{name}: embeddings contain NaN or infinite values")
    scores = queries.float() @ candidates.float().T
    return float((scores.argmax(dim=1) == torch.arange(len(queries))).float().mean())


def paraphrase_recall(model, tokenizer, pairs: pd.DataFrame, max_length: int = 64) -> float:
    """Recall@1 of retrieving each pair's ``b`` from its ``a`` among all ``b`` of ``pairs``
    (chance level: ``1 / len(pairs)``).

    Raises:
        TypeError: ``pairs`` has no columns ``a`` and ``b`` (a DataFrame or a dict of lists), or they hold
            non-strings.
        ValueError: as :func:`sentence_embeddings` and :func:`recall_at_1`.
    """
    columns = []
    for column in ("a", "b"):
        try:
            columns.append(pairs[column])
        except (KeyError, TypeError, IndexError, ValueError):
            raise TypeError(f"pairs: expected a DataFrame (or dict) with columns 'a' and 'b', got "
                            f"{type(pairs).__name__} without column {column!r}") from None
    a = sentence_embeddings(model, tokenizer, checks.texts(columns[0], "pairs['a']"), max_length=max_length)
    b = sentence_embeddings(model, tokenizer, checks.texts(columns[1], "pairs['b']"), max_length=max_length)
    return recall_at_1(a, b)


__all__ = ["paraphrase_recall", "recall_at_1", "sentence_embeddings"]

