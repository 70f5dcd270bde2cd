"""Data augmentation and noise injection for text classifiers, all offline.

Three places to add noise, from the raw text to the model's first layer:

* **words** -- EDA-style edits of a sentence (Wei & Zou, EMNLP 2019, "EDA: Easy Data Augmentation
  Techniques for Boosting Performance on Text Classification Tasks"): :func:`random_deletion`,
  :func:`random_swap`, :func:`random_insertion` and :func:`eda`, which applies one of them. EDA's
  fourth operation, synonym replacement, needs a thesaurus (WordNet); offline we insert copies of
  words already in the sentence instead of synonyms.
* **tokens** -- :func:`token_noise` masks or replaces random token ids (as BERT's masked-LM
  corruption does, Devlin et al. 2019), never touching special tokens or padding.
* **embeddings** -- NEFTune (Jain et al., ICLR 2024, "NEFTune: Noisy Embeddings Improve Instruction
  Finetuning"): during training, add uniform noise of scale ``alpha / sqrt(L * d)`` to the token
  embeddings (:func:`neftune_noise`, :func:`add_neftune`); at evaluation the model is unchanged.

:func:`back_translate` paraphrases by translating to a pivot language and back (Sennrich, Haddow &
Birch, ACL 2016; Xie et al., NeurIPS 2020, "UDA"); it needs two translation models, so the book runs
it only in the ``gpu`` profile.

Book section: 7.1 "Data augmentation and noise injection".
"""

from __future__ import annotations

import math
import numbers
from typing import Iterable, Sequence

import numpy as np
import torch

__all__ = ["random_deletion", "random_swap", "random_insertion", "eda", "EDA_OPERATIONS", "token_noise",
           "neftune_noise", "add_neftune", "back_translate"]

EDA_OPERATIONS = ("delete", "swap", "insert")


def _rng(rng) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise TypeError(f"rng: expected a numpy.random.Generator or an int seed, got {type(rng).__name__}")


def _words(words) -> list[str]:
    if isinstance(words, str) or not all(isinstance(w, str) for w in words):
        raise TypeError("words: expected a list of strings (split the text first)")
    return list(words)


def _probability(name: str, p) -> float:
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0 <= p <= 1:
        raise ValueError(f"{name}: expected a probability in [0, 1], got {p!r}")
    return float(p)


def _n(name: str, n) -> int:
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
        raise ValueError(f"{name}: expected an int >= 0, got {n!r}")
    return int(n)


def random_deletion(words: Sequence[str], p: float, rng) -> list[str]:
    """Delete each word independently with probability ``p``; at least one word always survives.

    Args:
        words: the sentence as a list of words.
        p: deletion probability in [0, 1].
        rng: a ``numpy.random.Generator`` or an int seed.

    Raises:
        TypeError: if ``words`` is not a list of strings or ``rng`` is neither a generator nor an int.
        ValueError: if ``p`` is not in [0, 1].
    """
    words, p, rng = _words(words), _probability("p", p), _rng(rng)
    if len(words) <= 1:
        return words
    keep = rng.random(len(words)) >= p
    if not keep.any():
        return [words[int(rng.integers(len(words)))]]
    return [w for w, k in zip(words, keep) if k]


def random_swap(words: Sequence[str], n: int, rng) -> list[str]:
    """Swap two randomly chosen positions, ``n`` times (the two may coincide, as in EDA).

    Raises:
        TypeError, ValueError: as :func:`random_deletion` (``n`` must be an int >= 0).
    """
    words, n, rng = _words(words), _n("n", n), _rng(rng)
    if len(words) < 2:
        return words
    for _ in range(n):
        i, j = rng.integers(len(words), size=2)
        words[i], words[j] = words[j], words[i]
    return words


def random_insertion(words: Sequence[str], n: int, rng) -> list[str]:
    """Insert a copy of a random word of the sentence at a random position, ``n`` times.

    (EDA inserts a *synonym* of a random word; without a thesaurus we insert the word itself.)

    Raises:
        TypeError, ValueError: as :func:`random_swap`.
    """
    words, n, rng = _words(words), _n("n", n), _rng(rng)
    if not words:
        return words
    for _ in range(n):
        word = words[int(rng.integers(len(words)))]
        words.insert(int(rng.integers(len(words) + 1)), word)
    return words


def eda(text: str, rng, alpha: float = 0.1, operations: Iterable[str] = EDA_OPERATIONS) -> str:
    """One EDA-style augmented copy of ``text``: pick one operation at random and apply it.

    The number of edits is ``n = max(1, round(alpha * number_of_words))`` for swap and insertion,
    and the deletion probability is ``alpha`` (Wei & Zou, 2019, use ``alpha`` = 0.05-0.1 for long
    texts and many examples, up to 0.3 for small data).

    Args:
        text: the text; words are separated by whitespace (punctuation stays attached).
        rng: a ``numpy.random.Generator`` or an int seed.
        alpha: strength in [0, 1].
        operations: a non-empty subset of :data:`EDA_OPERATIONS`.

    Returns:
        The augmented text (words joined by single spaces).

    Raises:
        TypeError: if ``text`` is not a string, or for a bad ``rng``.
        ValueError: if ``alpha`` is not in [0, 1] or ``operations`` is empty or unknown.
    """
    if not isinstance(text, str):
        raise TypeError(f"text: expected str, got {type(text).__name__}")
    alpha, rng = _probability("alpha", alpha), _rng(rng)
    ops = tuple(operations)
    if not ops or any(op not in EDA_OPERATIONS for op in ops):
        raise ValueError(f"operations: expected a non-empty subset of {EDA_OPERATIONS}, got {ops!r}")
    words = text.split()
    op = ops[int(rng.integers(len(ops)))]
    n = max(1, round(alpha * len(words)))
    if op == "delete":
        words = random_deletion(words, alpha, rng)
    elif op == "swap":
        words = random_swap(words, n, rng)
    else:
        words = random_insertion(words, n, rng)
    return " ".join(words)


def token_noise(input_ids: torch.Tensor, *, mask_token_id: int, vocab_size: int, special_ids: Iterable[int],
                attention_mask: torch.Tensor | None = None, mask_prob: float = 0.1, replace_prob: float = 0.0,
                generator: torch.Generator | None = None) -> torch.Tensor:
    """Corrupt token ids: each ordinary token becomes ``mask_token_id`` with probability
    ``mask_prob`` or a random ordinary token with probability ``replace_prob``.

    Special tokens (``[CLS]``, ``[SEP]``, ``[PAD]``...) and padding positions
    (``attention_mask == 0``) are never changed; replacement ids are drawn uniformly from
    ``range(vocab_size)`` without the special ids.

    Args:
        input_ids: int64 tensor of shape ``(batch, seq)`` (or ``(seq,)``); not modified.
        mask_token_id: id of the mask token (``tokenizer.mask_token_id``).
        vocab_size: number of ids (``len(tokenizer)``).
        special_ids: ids never to corrupt (``tokenizer.all_special_ids``).
        attention_mask: 0/1 tensor of the same shape, or ``None`` (no padding).
        mask_prob, replace_prob: probabilities with ``mask_prob + replace_prob <= 1``.
        generator: a ``torch.Generator`` for reproducible noise.

    Returns:
        A new int64 tensor of the same shape.

    Raises:
        TypeError: if ``input_ids`` is not an integer tensor.
        ValueError: for probabilities outside [0, 1] or summing above 1, an ``attention_mask`` of
            another shape, or a non-positive ``vocab_size``.
    """
    if not isinstance(input_ids, torch.Tensor) or input_ids.dtype not in (torch.int64, torch.int32):
        raise TypeError("input_ids: expected an int64/int32 torch.Tensor")
    mask_prob, replace_prob = _probability("mask_prob", mask_prob), _probability("replace_prob", replace_prob)
    if mask_prob + replace_prob > 1:
        raise ValueError(f"replace_prob: mask_prob + replace_prob = {mask_prob + replace_prob} exceeds 1")
    if not isinstance(vocab_size, numbers.Integral) or vocab_size <= 0:
        raise ValueError(f"vocab_size: expected a positive int, got {vocab_size!r}")
    if attention_mask is not None and attention_mask.shape != input_ids.shape:
        raise ValueError(f"attention_mask: shape {tuple(attention_mask.shape)} differs from input_ids "
                         f"{tuple(input_ids.shape)}")
    special = torch.tensor(sorted(set(int(i) for i in special_ids)), dtype=input_ids.dtype)
    eligible = ~torch.isin(input_ids, special)
    if attention_mask is not None:
        eligible &= attention_mask.bool()
    u = torch.rand(input_ids.shape, generator=generator)
    to_mask = eligible & (u < mask_prob)
    to_replace = eligible & (u >= mask_prob) & (u < mask_prob + replace_prob)
    ordinary = torch.tensor([i for i in range(int(vocab_size)) if i not in set(special.tolist())],
                            dtype=input_ids.dtype)
    random_ids = ordinary[torch.randint(len(ordinary), input_ids.shape, generator=generator)]
    out = input_ids.clone()
    out[to_mask] = mask_token_id
    out[to_replace] = random_ids[to_replace]
    return out


def neftune_noise(embeddings: torch.Tensor, alpha: float) -> torch.Tensor:
    """NEFTune: ``embeddings + U(-m, m)`` elementwise with ``m = alpha / sqrt(L * d)``.

    Args:
        embeddings: float tensor of shape ``(batch, L, d)``: token embeddings of a (padded) batch of
            ``L`` positions and width ``d``.
        alpha: noise scale (Jain et al. use 5, 10 or 15 for LLaMA-size models).

    Returns:
        A new tensor of the same shape and dtype. Draws from torch's global random generator in
        the same way as ``transformers.integrations.neftune.neftune_post_forward_hook``.

    Raises:
        ValueError: if ``embeddings`` is not 3-D or ``alpha`` is negative.
    """
    if not isinstance(embeddings, torch.Tensor) or embeddings.dim() != 3:
        raise ValueError("embeddings: expected a tensor of shape (batch, seq, hidden)")
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or alpha < 0:
        raise ValueError(f"alpha: expected a number >= 0, got {alpha!r}")
    magnitude = alpha / math.sqrt(embeddings.size(1) * embeddings.size(2))
    return embeddings + torch.zeros_like(embeddings).uniform_(-magnitude, magnitude)


def add_neftune(model: torch.nn.Module, alpha: float):
    """Add NEFTune noise to ``model``'s input embeddings while it is in training mode.

    Registers a forward hook on ``model.get_input_embeddings()`` (for BERT: the word embeddings,
    before position embeddings and layer norm, as in ``transformers``' own NEFTune). The hook does
    nothing in ``eval()`` mode.

    Returns:
        The hook handle; call ``handle.remove()`` to switch NEFTune off.

    Raises:
        TypeError: if ``model`` has no ``get_input_embeddings``.
        ValueError: if ``alpha`` is negative.
    """
    if not hasattr(model, "get_input_embeddings"):
        raise TypeError(f"model: expected a transformers model with get_input_embeddings(), got {type(model).__name__}")
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or alpha < 0:
        raise ValueError(f"alpha: expected a number >= 0, got {alpha!r}")

    def hook(module, inputs, output):
        return neftune_noise(output, alpha) if module.training else output

    return model.get_input_embeddings().register_forward_hook(hook)


@torch.no_grad()
def back_translate(texts: Sequence[str], forward, backward, *, batch_size: int = 16, max_new_tokens: int = 128,
                   num_beams: int = 1, do_sample: bool = False, device: str | torch.device = "cpu") -> list[str]:
    """Paraphrase ``texts`` by translating them to a pivot language and back.

    Args:
        texts: source-language texts (short ones: translation models see at most ~512 tokens).
        forward, backward: ``(model, tokenizer)`` pairs of sequence-to-sequence translation models,
            e.g. ``Helsinki-NLP/opus-mt-en-zh`` and ``Helsinki-NLP/opus-mt-zh-en`` (Tiedemann &
            Thottingal, EAMT 2020).
        batch_size: texts per ``generate`` call.
        max_new_tokens, num_beams, do_sample: passed to ``generate`` (sampling gives more diverse
            paraphrases; Edunov et al., EMNLP 2018).
        device: where the models run.

    Returns:
        One paraphrase per text, in order.

    Raises:
        TypeError: if ``texts`` is a single string.
        ValueError: if ``batch_size`` < 1.
    """
    if isinstance(texts, str):
        raise TypeError("texts: expected a list of strings, got a single string")
    if not isinstance(batch_size, numbers.Integral) or batch_size < 1:
        raise ValueError(f"batch_size: expected an int >= 1, got {batch_size!r}")

    def translate(batch, pair):
        model, tok = pair
        model.to(device).eval()
        enc = tok(list(batch), return_tensors="pt", padding=True, truncation=True).to(device)
        enc.pop("token_type_ids", None)
        out = model.generate(**enc, max_new_tokens=max_new_tokens, num_beams=num_beams, do_sample=do_sample)
        return tok.batch_decode(out, skip_special_tokens=True)

    result = []
    for i in range(0, len(texts), batch_size):
        pivot = translate(texts[i:i + batch_size], forward)
        result.extend(translate(pivot, backward))
    return result
