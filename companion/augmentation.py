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

from . import checks

__all__ = ["random_deletion", "random_swap", "random_insertion", "eda", "EDA_OPERATIONS", "token_noise",
           "neftune_noise", "add_neftune", "back_translate"]

EDA_OPERATIONS = ("delete", "swap", "insert")


def _rng(rng) -> np.random.Generator:
    """A ``numpy.random.Generator``, or a new one seeded with the int ``rng`` (>= 0)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, numbers.Integral) and not isinstance(rng, (bool, np.bool_)):
        return np.random.default_rng(checks.integer(rng, "rng", minimum=0))
    raise TypeError(f"rng: expected a numpy.random.Generator or an int seed, got {rng!r} ({type(rng).__name__})")


def random_deletion(words: Sequence[str], p: float, rng) -> list[str]:
    """Delete each word independently with probability ``p``; at least one word always survives.

    Args:
        words: the sentence as a list of words.
        p: deletion probability in [0, 1].
        rng: a ``numpy.random.Generator`` or an int seed.

    Raises:
        TypeError: if ``words`` is not a list of strings (one string included), ``p`` is not a number,
            or ``rng`` is neither a generator nor an int.
        ValueError: if ``p`` is not in [0, 1] (NaN included) or the seed is negative.
    """
    words = checks.texts(words, "words", allow_empty=True)
    return _delete(words, checks.probability(p, "p"), _rng(rng))


def _delete(words: list[str], p: float, rng: np.random.Generator) -> list[str]:
    if len(words) <= 1:
        return words
    keep = rng.random(len(words)) >= p
    if not keep.any():
        return [words[int(rng.integers(len(words)))]]
    return [w for w, k in zip(words, keep) if k]


def random_swap(words: Sequence[str], n: int, rng) -> list[str]:
    """Swap two randomly chosen positions, ``n`` times (the two may coincide, as in EDA).

    Raises:
        TypeError, ValueError: as :func:`random_deletion` (``n`` must be an int >= 0, not a bool).
    """
    words = checks.texts(words, "words", allow_empty=True)
    return _swap(words, checks.integer(n, "n", minimum=0), _rng(rng))


def _swap(words: list[str], n: int, rng: np.random.Generator) -> list[str]:
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
    words = checks.texts(words, "words", allow_empty=True)
    return _insert(words, checks.integer(n, "n", minimum=0), _rng(rng))


def _insert(words: list[str], n: int, rng: np.random.Generator) -> list[str]:
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
        TypeError: if ``text`` is not a string, ``alpha`` not a number, or for a bad ``rng``.
        ValueError: if ``alpha`` is not in [0, 1] or ``operations`` is empty or unknown.
    """
    checks.text(text, "text")
    alpha, rng = checks.probability(alpha, "alpha"), _rng(rng)
    if not isinstance(operations, str) and not hasattr(operations, "__iter__"):
        raise TypeError(f"operations: expected a subset of {EDA_OPERATIONS}, got {operations!r:.60}")
    ops = (operations,) if isinstance(operations, str) else tuple(operations)
    if not ops:
        raise ValueError(f"operations: expected a non-empty subset of {EDA_OPERATIONS}, got {ops!r}")
    for op in ops:
        checks.one_of(op, "operations", EDA_OPERATIONS)
    words = text.split()
    op = ops[int(rng.integers(len(ops)))]
    n = max(1, round(alpha * len(words)))
    if op == "delete":
        words = _delete(words, alpha, rng)
    elif op == "swap":
        words = _swap(words, n, rng)
    else:
        words = _insert(words, n, rng)
    return " ".join(words)


def token_noise(input_ids: torch.Tensor, *, mask_token_id: int, vocab_size: int, special_ids: Iterable[int],
                attention_mask: torch.Tensor | None = None, mask_prob: float = 0.1, replace_prob: float = 0.0,
                generator: torch.Generator | None = None) -> torch.Tensor:
    """Corrupt token ids: each ordinary token becomes ``mask_token_id`` with probability
    ``mask_prob`` or a random ordinary token with probability ``replace_prob``.

    Special tokens (``[CLS]``, ``[SEP]``, ``[PAD]``...) and padding positions
    (``attention_mask == 0``) are never changed; replacement ids are drawn uniformly from
    ``range(vocab_size)`` without the special ids (without listing that range: a large vocabulary
    costs nothing).

    Args:
        input_ids: integer tensor of shape ``(batch, seq)`` (or ``(seq,)``), ids in
            ``[0, vocab_size)``; not modified.
        mask_token_id: id of the mask token (``tokenizer.mask_token_id``).
        vocab_size: number of ids (``len(tokenizer)``).
        special_ids: ids never to corrupt (``tokenizer.all_special_ids``).
        attention_mask: 0/1 tensor of the same shape, or ``None`` (no padding).
        mask_prob, replace_prob: probabilities with ``mask_prob + replace_prob <= 1``.
        generator: a ``torch.Generator`` for reproducible noise.

    Returns:
        A new tensor of the same shape and dtype.

    Raises:
        TypeError: if ``input_ids`` or ``special_ids`` are not integer ids, or a number is of the
            wrong kind (a bool, a string).
        ValueError: an id of ``input_ids``, ``special_ids`` or ``mask_token_id`` outside
            ``[0, vocab_size)`` (a negative ``mask_token_id`` included), probabilities outside [0, 1]
            or summing above 1, an ``attention_mask`` that is not 0/1 flags of the shape of
            ``input_ids``, a ``vocab_size`` < 1, or ``replace_prob > 0`` with every id special.
    """
    vocab_size = checks.integer(vocab_size, "vocab_size")
    mask_token_id = checks.integer(mask_token_id, "mask_token_id", minimum=0, maximum=vocab_size - 1)
    input_ids = checks.token_ids(input_ids, "input_ids", vocab_size=vocab_size, ndim=(1, 2))
    mask_prob, replace_prob = checks.probability(mask_prob, "mask_prob"), checks.probability(replace_prob, "replace_prob")
    if mask_prob + replace_prob > 1:
        raise ValueError(f"replace_prob: mask_prob + replace_prob = {mask_prob + replace_prob} exceeds 1")
    if not isinstance(special_ids, (torch.Tensor, np.ndarray, str, bytes)):
        try:
            special_ids = list(special_ids)
        except TypeError:
            raise TypeError(f"special_ids: expected a list of token ids, got {type(special_ids).__name__}") from None
    special = torch.unique(checks.token_ids(special_ids, "special_ids", vocab_size=vocab_size, ndim=1)).to(input_ids.dtype)
    n_ordinary = vocab_size - len(special)
    if replace_prob > 0 and n_ordinary == 0:
        raise ValueError(f"special_ids: every id of the vocabulary (vocab_size={vocab_size}) is special, so there "
                         "is no ordinary token to replace with; set replace_prob=0")
    eligible = ~torch.isin(input_ids, special)
    if attention_mask is not None:
        eligible &= checks.binary_mask(attention_mask, "attention_mask", shape=input_ids.shape, like="input_ids")
    u = torch.rand(input_ids.shape, generator=generator)
    to_mask = eligible & (u < mask_prob)
    to_replace = eligible & (u >= mask_prob) & (u < mask_prob + replace_prob)
    out = input_ids.clone()
    out[to_mask] = mask_token_id
    if n_ordinary > 0:
        # the rank-th ordinary id: rank + the number of special ids at or below it (special is sorted)
        rank = torch.randint(n_ordinary, input_ids.shape, generator=generator)
        shift = special.long() - torch.arange(len(special))
        random_ids = (rank + torch.searchsorted(shift, rank, right=True)).to(input_ids.dtype)
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
        TypeError: ``embeddings`` not a float tensor, ``alpha`` not a number.
        ValueError: if ``embeddings`` is not 3-D or ``alpha`` is negative, NaN or infinite.
    """
    embeddings = checks.float_tensor(embeddings, "embeddings", ndim=3, finite=True)
    return _neftune(embeddings, checks.number(alpha, "alpha", minimum=0))


def _neftune(embeddings: torch.Tensor, alpha: float) -> torch.Tensor:
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
        TypeError: if ``model`` has no ``get_input_embeddings``, or ``alpha`` is not a number.
        ValueError: if ``alpha`` is negative, NaN or infinite.
    """
    if not hasattr(model, "get_input_embeddings"):
        raise TypeError(f"model: expected a transformers model with get_input_embeddings(), got {type(model).__name__}")
    alpha = checks.number(alpha, "alpha", minimum=0)

    def hook(module, inputs, output):
        return _neftune(output, alpha) if module.training else output

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
        TypeError: if ``texts`` is a single string or holds a non-string, ``forward``/``backward`` is
            not a ``(model, tokenizer)`` pair, a count is not an int, ``do_sample`` not a bool.
        ValueError: if ``batch_size``, ``max_new_tokens`` or ``num_beams`` < 1.
    """
    texts = checks.texts(texts, "texts", allow_empty=True)
    batch_size = checks.integer(batch_size, "batch_size")
    max_new_tokens = checks.integer(max_new_tokens, "max_new_tokens")
    num_beams = checks.integer(num_beams, "num_beams")
    do_sample = checks.boolean(do_sample, "do_sample")
    for name, pair in (("forward", forward), ("backward", backward)):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise TypeError(f"{name}: expected a (model, tokenizer) pair, got {type(pair).__name__}")

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
