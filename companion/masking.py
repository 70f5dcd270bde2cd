"""Self-supervised objectives: how an unlabelled example becomes an (input, target) pair.

Every function here turns raw token ids (or image patches) into a corrupted input and the targets
a model must recover, the way the pre-training objectives of chapter 2.2 do:

* :func:`mlm_mask` -- BERT's masked language modelling: select ``mlm_probability`` of the
  non-special tokens; of those, 80% become ``[MASK]``, 10% a random token, 10% stay unchanged;
  labels are ``-100`` everywhere else (Devlin et al., NAACL 2019).
* :func:`whole_word_mask` -- the same, but the WordPiece pieces of a word (``play ##ing``) are
  selected together (Google's 2019 BERT release; Cui et al., 2021).
* :func:`span_mask` -- SpanBERT's contiguous spans with geometric lengths (Joshi et al., TACL 2020).
* :func:`causal_lm_labels` / :func:`shift_for_next_token` -- GPT's next-token objective.
* :func:`nsp_pairs` / :func:`sop_pairs` -- BERT's next-sentence prediction and ALBERT's
  sentence-order prediction (Lan et al., ICLR 2020).
* :func:`patchify` / :func:`random_patch_masking` -- MAE's random masking of 75% of the image
  patches (He et al., CVPR 2022).
* :class:`MLMCollator` -- pads a batch and applies one of the text strategies, for a ``DataLoader``
  or the Hugging Face ``Trainer``.

Conventions: token ids are ``torch.long`` tensors of shape ``(batch, seq_len)`` (a 1-D sequence is
accepted and returned 1-D); label ``-100`` (:data:`IGNORE_INDEX`) means "no loss here", as in
PyTorch's ``cross_entropy`` and every Hugging Face model. Randomness comes from an optional
``torch.Generator`` so that a result can be reproduced.

Book section: chapter 2.2, "Self-supervised learning".
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from typing import Iterable, NamedTuple, Sequence

import numpy as np
import torch

from . import checks

#: The label PyTorch's cross-entropy skips (``ignore_index``): the one definition, imported everywhere.
IGNORE_INDEX = -100
STRATEGIES = ("token", "whole_word", "span")


# ---------------------------------------------------------------------------- argument checks
# Arguments shared by several public functions, checked with companion.checks; the private cores
# (_replace, _mlm, _whole_word, _span) take checked values and never check again.
def _vocab(mask_token_id, vocab_size) -> tuple[int, int]:
    vocab_size = checks.integer(vocab_size, "vocab_size", minimum=1)
    mask_token_id = checks.integer(mask_token_id, "mask_token_id", minimum=0, maximum=vocab_size - 1)
    return mask_token_id, vocab_size


def _ids(input_ids, vocab_size: int | None, name: str = "input_ids") -> tuple[torch.Tensor, bool]:
    """A checked 2-D long tensor of ids in ``[0, vocab_size)`` and whether the input was 1-D."""
    ids = checks.token_ids(input_ids, name, vocab_size=vocab_size, ndim=(1, 2)).long()
    return (ids.unsqueeze(0), True) if ids.ndim == 1 else (ids, False)


def _flags(value, name: str, ids: torch.Tensor) -> torch.Tensor:
    """A 0/1 mask shaped like the 2-D ``ids`` (a 1-D mask for one sequence is accepted)."""
    flags = checks.binary_mask(value, name)
    flags = flags.unsqueeze(0) if flags.ndim == 1 else flags
    if flags.shape != ids.shape:
        raise ValueError(f"{name}: shape {tuple(flags.shape)} does not match input_ids {tuple(ids.shape)}")
    return flags


def _special(ids: torch.Tensor, special_tokens_mask, special_ids, vocab_size: int) -> torch.Tensor:
    if special_tokens_mask is None and special_ids is None:
        raise ValueError(
            "special_tokens_mask: pass special_tokens_mask (1 = [CLS]/[SEP]/[PAD]..., never masked) or "
            "special_ids (e.g. tokenizer.all_special_ids); without it, [CLS], [SEP] and padding could be masked"
        )
    if special_tokens_mask is not None:
        return _flags(special_tokens_mask, "special_tokens_mask", ids)
    if not isinstance(special_ids, (torch.Tensor, np.ndarray, str, bytes)):
        try:
            special_ids = list(special_ids)
        except TypeError:
            raise TypeError(f"special_ids: expected a list of token ids, got {type(special_ids).__name__}") from None
    special = checks.token_ids(special_ids, "special_ids", vocab_size=vocab_size, ndim=1)
    return torch.isin(ids, special.long())


def _replacement_probs(mask_replace_prob, random_replace_prob) -> tuple[float, float]:
    mask_p = checks.probability(mask_replace_prob, "mask_replace_prob")
    random_p = checks.probability(random_replace_prob, "random_replace_prob")
    if mask_p + random_p > 1 + 1e-12:
        raise ValueError(f"random_replace_prob: mask_replace_prob + random_replace_prob must be <= 1, "
                         f"got {mask_p} + {random_p}")
    return mask_p, random_p


# ---------------------------------------------------------------------------- the 80/10/10 rule
def apply_replacement(
    input_ids,
    selected,
    *,
    mask_token_id: int,
    vocab_size: int,
    mask_replace_prob: float = 0.8,
    random_replace_prob: float = 0.1,
    groups=None,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Corrupt already *selected* positions with BERT's 80/10/10 rule and build the labels.

    Each selected position (independently, or per group) becomes ``mask_token_id`` with
    probability ``mask_replace_prob``, a token drawn uniformly from ``[0, vocab_size)`` with
    probability ``random_replace_prob``, and stays unchanged otherwise. Every selected position is
    a prediction target, including the unchanged ones; all other labels are ``-100``.

    Args:
        input_ids: ``(batch, seq_len)`` or ``(seq_len,)`` integer token ids.
        selected: bool tensor of the same shape: the positions to predict.
        mask_token_id, vocab_size: the ``[MASK]`` id and the vocabulary size (random tokens are drawn
            from the whole vocabulary, as BERT and ``DataCollatorForLanguageModeling`` do).
        mask_replace_prob, random_replace_prob: the 80% and the 10%; their sum must be <= 1.
        groups: optional integer tensor of the same shape, values in ``[-1, seq_len)``; positions that
            share a group id >= 0 get the same decision (SpanBERT decides per span), -1 decides alone.
            ``None``: every position decides alone.
        generator: a ``torch.Generator`` for reproducible draws.

    Returns:
        ``(inputs, labels)``: new long tensors shaped like ``input_ids``.

    Raises:
        TypeError: ids that are not integers, a bool/string where a number goes.
        ValueError: an id outside ``[0, vocab_size)``, a probability outside [0, 1], probabilities
            summing to more than 1, a bad ``mask_token_id``/``vocab_size``, a group id outside
            ``[-1, seq_len)``, or shapes that do not match.

    Book section: 2.2, "BERT's masked language model".
    """
    mask_token_id, vocab_size = _vocab(mask_token_id, vocab_size)
    ids, one_d = _ids(input_ids, vocab_size)
    mask_p, random_p = _replacement_probs(mask_replace_prob, random_replace_prob)
    sel = _flags(selected, "selected", ids)
    g = None
    if groups is not None:  # range-checked before a (batch, max group + 1) tensor is drawn from it
        g = checks.integers(groups, "groups", minimum=-1, maximum=max(ids.shape[1] - 1, 0), ndim=(1, 2)).long()
        g = g.unsqueeze(0) if g.ndim == 1 else g
        if g.shape != ids.shape:
            raise ValueError(f"groups: shape {tuple(g.shape)} does not match input_ids {tuple(ids.shape)}")
    inputs, labels = _replace(ids, sel, g, mask_token_id, vocab_size, mask_p, random_p, generator)
    return (inputs[0], labels[0]) if one_d else (inputs, labels)


def _replace(ids, sel, groups, mask_token_id, vocab_size, mask_p, random_p, generator):
    """The core of :func:`apply_replacement` on checked 2-D tensors."""
    u = torch.rand(ids.shape, generator=generator)
    if groups is not None:
        # one draw per (row, group): positions of a group read the draw at their group's index
        n_groups = int(groups.max().item()) + 1 if groups.numel() else 1
        per_group = torch.rand((ids.shape[0], max(n_groups, 1)), generator=generator)
        grouped = groups >= 0
        u[grouped] = per_group.gather(1, groups.clamp(min=0))[grouped]
    random_tokens = torch.randint(vocab_size, ids.shape, generator=generator)
    labels = torch.where(sel, ids, torch.full_like(ids, IGNORE_INDEX))
    inputs = ids.clone()
    to_mask = sel & (u < mask_p)
    to_random = sel & (u >= mask_p) & (u < mask_p + random_p)
    inputs[to_mask] = mask_token_id
    inputs[to_random] = random_tokens[to_random]
    return inputs, labels


def mlm_mask(
    input_ids,
    *,
    mask_token_id: int,
    vocab_size: int,
    special_tokens_mask=None,
    special_ids: Iterable[int] | None = None,
    mlm_probability: float = 0.15,
    mask_replace_prob: float = 0.8,
    random_replace_prob: float = 0.1,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT's masked-language-model corruption (Devlin et al., NAACL 2019, section 3.1).

    Each non-special token is selected independently with probability ``mlm_probability``;
    special tokens (``[CLS]``, ``[SEP]``, ``[PAD]``, ...) are never selected. Selected tokens are
    corrupted with :func:`apply_replacement` (80% ``[MASK]``, 10% random, 10% unchanged) and are
    the only positions with a label. The same positions are maskable as in
    ``transformers.DataCollatorForLanguageModeling``.

    Args:
        input_ids: ``(batch, seq_len)`` or ``(seq_len,)`` integer token ids.
        mask_token_id, vocab_size: the ``[MASK]`` id and the vocabulary size.
        special_tokens_mask: ``1``/``True`` where a token is special (as returned by a tokenizer with
            ``return_special_tokens_mask=True``), same shape as ``input_ids``.
        special_ids: alternatively, the ids that are special (e.g. ``tokenizer.all_special_ids``,
            which includes the padding id). One of the two is required.
        mlm_probability: share of maskable tokens to select, in [0, 1] (BERT: 0.15).
        mask_replace_prob, random_replace_prob: see :func:`apply_replacement`.
        generator: a ``torch.Generator`` for reproducible masks.

    Returns:
        ``(inputs, labels)``: the corrupted ids and the targets (original id at selected positions,
        ``-100`` elsewhere), long tensors shaped like ``input_ids``.

    Raises:
        TypeError: ids that are not integers (e.g. strings or floats), a bool or string where a number
            goes.
        ValueError: an id (in ``input_ids`` or ``special_ids``) outside ``[0, vocab_size)``, a
            ``mask_token_id`` outside it, neither ``special_tokens_mask`` nor ``special_ids`` given, a
            probability outside [0, 1], or shapes that do not match.

    Book section: 2.2, "BERT's masked language model".
    """
    mask_token_id, vocab_size = _vocab(mask_token_id, vocab_size)
    ids, one_d = _ids(input_ids, vocab_size)
    p = checks.probability(mlm_probability, "mlm_probability")
    mask_p, random_p = _replacement_probs(mask_replace_prob, random_replace_prob)
    special = _special(ids, special_tokens_mask, special_ids, vocab_size)
    inputs, labels = _mlm(ids, special, p, mask_token_id, vocab_size, mask_p, random_p, generator)
    return (inputs[0], labels[0]) if one_d else (inputs, labels)


def _mlm(ids, special, p, mask_token_id, vocab_size, mask_p, random_p, generator):
    selected = (torch.rand(ids.shape, generator=generator) < p) & ~special
    return _replace(ids, selected, None, mask_token_id, vocab_size, mask_p, random_p, generator)


# ---------------------------------------------------------------------------- whole words
def wordpiece_word_ids(tokens: Sequence[str], special_tokens_mask=None,
                       special_tokens: Iterable[str] = ("[CLS]", "[SEP]", "[PAD]", "[MASK]", "[UNK]")
                       ) -> list[int | None]:
    """Word index of each WordPiece token: a ``##`` piece belongs to the word before it.

    ``["[CLS]", "un", "##watch", "##able", "film", "[SEP]"]`` gives ``[None, 0, 0, 0, 1, None]``.
    Special tokens get ``None`` (``[UNK]`` is treated as special only if listed; it is by default
    listed so that it is never a prediction target, as it carries no word to recover).

    Args:
        tokens: one sequence of WordPiece token strings (``tokenizer.convert_ids_to_tokens(ids)``).
        special_tokens_mask: optional 0/1 flags per token; flagged tokens get ``None``.
        special_tokens: token strings that are special (used where no mask is given).

    Returns:
        A list, one entry per token: an int word index (0, 1, ...) or ``None``.

    Raises:
        ValueError: if a ``##`` continuation piece has no word before it (first token, or right
            after a special token): the input has no word boundary to attach it to; or
            ``special_tokens_mask`` is not one 0/1 flag per token.
        TypeError: if ``tokens`` or ``special_tokens`` is not a sequence of strings (``None``, one
            string, ids ...).

    Book section: 2.2, "Whole-word masking".
    """
    tokens = checks.texts(tokens, "tokens", allow_empty=True)
    flags = None
    if special_tokens_mask is not None:
        flags = checks.binary_mask(special_tokens_mask, "special_tokens_mask", shape=(len(tokens),),
                                   like="tokens").tolist()
    return _wordpiece_word_ids(tokens, flags, set(checks.texts(special_tokens, "special_tokens", allow_empty=True)))


def _wordpiece_word_ids(tokens: list[str], flags: list[bool] | None, specials: set[str]) -> list[int | None]:
    out: list[int | None] = []
    word = -1
    previous_is_word = False
    for i, tok in enumerate(tokens):
        is_special = flags[i] if flags is not None else tok in specials
        if is_special:
            out.append(None)
            previous_is_word = False
        elif tok.startswith("##"):
            if not previous_is_word:
                raise ValueError(f"tokens: continuation piece {tok!r} at position {i} has no word before it "
                                 "(no word boundary); whole-word masking needs WordPiece tokens of whole words")
            out.append(word)
        else:
            word += 1
            out.append(word)
            previous_is_word = True
    return out


def _word_ids_tensor(word_ids, shape) -> torch.Tensor:
    """Check ``word_ids`` against the ``(batch, seq_len)`` shape, then build a long tensor (-1 = None).

    Every word id is range-checked (``< seq_len``) before the tensor, and the ``(batch, max id + 1)``
    draws made from it, exist.
    """
    if word_ids is None:
        raise ValueError("word_ids: whole-word masking needs word boundaries: pass encoding.word_ids(i) of a fast "
                         "tokenizer or companion.masking.wordpiece_word_ids(tokens) for each sequence")
    if isinstance(word_ids, (torch.Tensor, str, bytes)) or not hasattr(word_ids, "__iter__"):
        checks.word_ids(word_ids, "word_ids")  # raises the TypeError that explains what is expected
    rows = list(word_ids)
    nested = any(isinstance(r, (list, tuple, torch.Tensor, np.ndarray)) for r in rows)
    rows = [(r, f"word_ids[{i}]") for i, r in enumerate(rows)] if nested else [(rows, "word_ids")]
    if len(rows) != shape[0]:
        raise ValueError(f"word_ids: expected {shape[0]} sequence(s) of {shape[1]} entries, one per token, "
                         f"got {len(rows)} sequence(s)")
    checked = []
    for row, name in rows:
        row = checks.word_ids(row, name, length=shape[1])
        if len(row) != shape[1]:
            raise ValueError(f"{name}: expected {shape[1]} entries (one per token of input_ids), got {len(row)}")
        checked.append([-1 if w is None else w for w in row])
    return torch.tensor(checked, dtype=torch.long).reshape(shape)


def whole_word_mask(
    input_ids,
    word_ids,
    *,
    mask_token_id: int,
    vocab_size: int,
    mlm_probability: float = 0.15,
    mask_replace_prob: float = 0.8,
    random_replace_prob: float = 0.1,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Whole-word masking: select *words* with probability ``mlm_probability``, then all their pieces.

    Each word is selected independently, so the expected share of selected tokens is still
    ``mlm_probability``. The 80/10/10 decision is then taken per token, as in Google's BERT
    pre-training code (``create_pretraining_data.py --do_whole_word_mask``). (Hugging Face's
    collator with ``whole_word_mask=True`` uses ``[MASK]`` for every selected piece instead.)

    Args:
        input_ids: ``(batch, seq_len)`` or ``(seq_len,)`` integer token ids.
        word_ids: per sequence, one entry per token: the word index, or ``None`` for tokens that must
            never be masked (special tokens, padding). For one 1-D sequence, a flat list. Get it from
            a fast tokenizer's ``encoding.word_ids(i)`` or from :func:`wordpiece_word_ids`. Word ids
            count the words of the sequence from 0, so each is below ``seq_len`` (for a window cut
            from a longer text, subtract the window's first word id).
        mask_token_id, vocab_size, mlm_probability, mask_replace_prob, random_replace_prob,
        generator: as in :func:`mlm_mask`.

    Returns:
        ``(inputs, labels)`` as in :func:`mlm_mask`; the pieces of a word are labelled all or none.

    Raises:
        TypeError: a word id that is neither ``None`` nor an int (a float, a bool, a string), word ids
            given as a tensor, or as for :func:`mlm_mask`.
        ValueError: ``word_ids`` missing, of another shape than ``input_ids``, or with a word id that
            is negative or not below ``seq_len``; or as for :func:`mlm_mask`.

    Book section: 2.2, "Whole-word masking".
    """
    mask_token_id, vocab_size = _vocab(mask_token_id, vocab_size)
    ids, one_d = _ids(input_ids, vocab_size)
    p = checks.probability(mlm_probability, "mlm_probability")
    mask_p, random_p = _replacement_probs(mask_replace_prob, random_replace_prob)
    words = _word_ids_tensor(word_ids, ids.shape)
    inputs, labels = _whole_word(ids, words, p, mask_token_id, vocab_size, mask_p, random_p, generator)
    return (inputs[0], labels[0]) if one_d else (inputs, labels)


def _whole_word(ids, words, p, mask_token_id, vocab_size, mask_p, random_p, generator):
    n_words = int(words.max().item()) + 1 if words.numel() else 0
    chosen = torch.rand((ids.shape[0], max(n_words, 1)), generator=generator) < p
    selected = (words >= 0) & chosen.gather(1, words.clamp(min=0))
    return _replace(ids, selected, None, mask_token_id, vocab_size, mask_p, random_p, generator)


# ---------------------------------------------------------------------------- spans
def sample_span_lengths(n: int, *, p: float = 0.2, max_span: int = 10,
                        generator: torch.Generator | None = None) -> torch.Tensor:
    """Draw ``n`` span lengths from a geometric distribution Geo(``p``) truncated to ``[1, max_span]``.

    ``P(l) = p (1-p)^(l-1) / (1 - (1-p)^max_span)`` for ``l = 1..max_span`` (inverse-CDF sampling).
    SpanBERT's setting ``p = 0.2``, ``max_span = 10`` gives a mean span length of about 3.8
    (Joshi et al., TACL 2020, section 3.1).

    Returns:
        A ``(n,)`` long tensor of lengths in ``[1, max_span]``.

    Raises:
        TypeError: ``n`` or ``max_span`` not an int (bools included), ``p`` not a number.
        ValueError: if ``n`` < 0, ``p`` is not in (0, 1], or ``max_span`` < 1.
    """
    n = checks.integer(n, "n", minimum=0)
    p = checks.probability(p, "p", allow_zero=False)
    max_span = checks.integer(max_span, "max_span", minimum=1)
    return _span_lengths(n, p, max_span, generator)


def _span_lengths(n: int, p: float, max_span: int, generator) -> torch.Tensor:
    if p == 1:
        return torch.ones(n, dtype=torch.long)
    q = 1.0 - p
    u = torch.rand(n, generator=generator, dtype=torch.float64)
    lengths = torch.ceil(torch.log1p(-u * (1 - q**max_span)) / math.log(q))
    return lengths.clamp(1, max_span).long()


def span_mask(
    input_ids,
    *,
    mask_token_id: int,
    vocab_size: int,
    special_tokens_mask=None,
    special_ids: Iterable[int] | None = None,
    mlm_probability: float = 0.15,
    geometric_p: float = 0.2,
    max_span: int = 10,
    mask_replace_prob: float = 0.8,
    random_replace_prob: float = 0.1,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """SpanBERT-style span masking (Joshi et al., TACL 2020).

    For each sequence, a budget of ``round(mlm_probability * n)`` of its ``n`` maskable tokens is
    filled with contiguous spans: a length from :func:`sample_span_lengths`, a start chosen
    uniformly among the maskable tokens; a span stops at a special token and is cut to the budget
    left. The 80/10/10 rule is then applied *per span* (all tokens of a span are ``[MASK]``, or
    all random, or all unchanged), as in SpanBERT. Simplification: lengths count tokens here;
    SpanBERT counts whole words.

    Args:
        input_ids, mask_token_id, vocab_size, special_tokens_mask, special_ids, mlm_probability,
        mask_replace_prob, random_replace_prob, generator: as in :func:`mlm_mask`.
        geometric_p, max_span: the span-length distribution (SpanBERT: 0.2 and 10).

    Returns:
        ``(inputs, labels)`` as in :func:`mlm_mask`. Exactly ``round(mlm_probability * n)`` tokens
        of each sequence are labelled.

    Raises:
        TypeError, ValueError: as :func:`mlm_mask`; and for ``geometric_p`` not in (0, 1] or
            ``max_span`` not an int >= 1.

    Book section: 2.2, "Span masking".
    """
    mask_token_id, vocab_size = _vocab(mask_token_id, vocab_size)
    ids, one_d = _ids(input_ids, vocab_size)
    p = checks.probability(mlm_probability, "mlm_probability")
    mask_p, random_p = _replacement_probs(mask_replace_prob, random_replace_prob)
    special = _special(ids, special_tokens_mask, special_ids, vocab_size)
    geometric_p = checks.probability(geometric_p, "geometric_p", allow_zero=False)
    max_span = checks.integer(max_span, "max_span", minimum=1)
    inputs, labels = _span(ids, special, p, geometric_p, max_span, mask_token_id, vocab_size, mask_p, random_p,
                           generator)
    return (inputs[0], labels[0]) if one_d else (inputs, labels)


def _span(ids, special, p, geometric_p, max_span, mask_token_id, vocab_size, mask_p, random_p, generator):
    batch, seq_len = ids.shape
    groups = torch.full(ids.shape, -1, dtype=torch.long)
    for row in range(batch):
        maskable = torch.nonzero(~special[row]).flatten()
        budget = int(round(p * len(maskable)))
        done, span_id = 0, 0
        while done < budget:
            length = int(_span_lengths(1, geometric_p, max_span, generator))
            start = int(maskable[torch.randint(len(maskable), (1,), generator=generator)])
            added = 0
            for pos in range(start, min(start + length, seq_len)):
                if special[row, pos] or done + added >= budget:
                    break
                if groups[row, pos] < 0:
                    groups[row, pos] = span_id
                    added += 1
            done += added
            span_id += 1
    return _replace(ids, groups >= 0, groups, mask_token_id, vocab_size, mask_p, random_p, generator)


# ---------------------------------------------------------------------------- causal LM
def causal_lm_labels(input_ids, attention_mask=None) -> torch.Tensor:
    """Labels for next-token prediction: a copy of ``input_ids`` with ``-100`` on padding.

    Hugging Face causal LMs (``GPT2LMHeadModel`` and friends) shift internally: the logits at
    position ``t`` are scored against ``labels[t + 1]``. So the labels are *not* shifted here; see
    :func:`shift_for_next_token` for the shift written out. Padding is found from
    ``attention_mask`` (0 = padding), which, unlike comparing with the pad id, keeps a real
    end-of-text token that shares its id with padding (GPT-2).

    Args:
        input_ids: ``(batch, seq_len)`` or ``(seq_len,)`` integer token ids.
        attention_mask: same shape, 1 for real tokens and 0 for padding; ``None``: no padding.

    Returns:
        A long tensor shaped like ``input_ids``.

    Raises:
        TypeError: ids that are not integers, or a mask that is not numbers/bools.
        ValueError: a negative id, a mask value other than 0/1, or shapes that differ.

    Book section: 2.1, "Training a small GPT".
    """
    ids, one_d = _ids(input_ids, None)
    labels = ids.clone()
    if attention_mask is not None:
        labels[~_flags(attention_mask, "attention_mask", ids)] = IGNORE_INDEX
    return labels[0] if one_d else labels


def shift_for_next_token(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Align predictions with the *next* token: ``logits[:, :-1]`` against ``labels[:, 1:]``.

    The prediction made after reading tokens ``0..t`` is scored against token ``t + 1``; the last
    position has no next token and the first token is never a target.

    Args:
        logits: ``(batch, seq_len, vocab)`` float scores.
        labels: ``(batch, seq_len)`` long targets (``-100`` = ignore), e.g. from :func:`causal_lm_labels`.

    Returns:
        ``(logits, labels)`` of shapes ``(batch, seq_len - 1, vocab)`` and ``(batch, seq_len - 1)``.

    Raises:
        TypeError: ``logits`` not a float tensor, ``labels`` not integers.
        ValueError: if the shapes do not fit together, ``seq_len`` < 2, or a label is neither -100 nor
            in ``[0, vocab)``.
    """
    logits = checks.float_tensor(logits, "logits")
    labels = checks.class_labels(labels, "labels", num_labels=logits.shape[-1] if logits.ndim else None,
                                 ignore_index=IGNORE_INDEX)
    if logits.ndim != 3 or labels.ndim != 2 or logits.shape[:2] != labels.shape:
        raise ValueError(f"logits: expected (batch, seq_len, vocab) matching labels (batch, seq_len), got "
                         f"{tuple(logits.shape)} and {tuple(labels.shape)}")
    if labels.shape[1] < 2:
        raise ValueError("labels: need at least 2 tokens to predict a next token")
    return logits[:, :-1, :].contiguous(), labels[:, 1:].contiguous()


# ---------------------------------------------------------------------------- sentence pairs
class SentencePair(NamedTuple):
    """One sentence-pair example. ``label`` follows Hugging Face: for NSP 0 = B follows A, 1 = B
    is random (``BertForPreTraining``'s ``next_sentence_label``); for SOP 0 = original order,
    1 = swapped (``AlbertForPreTraining``'s ``sentence_order_label``)."""

    a: str
    b: str
    label: int


def _documents(documents) -> list[list[str]]:
    if isinstance(documents, (str, bytes)) or not hasattr(documents, "__iter__"):
        raise TypeError(f"documents: expected a sequence of documents, each a sequence of sentences, got "
                        f"{type(documents).__name__}")
    return [checks.texts(d, f"documents[{i}]", allow_empty=True) for i, d in enumerate(documents)]


def nsp_pairs(documents: Sequence[Sequence[str]], *, random_prob: float = 0.5, seed: int = 0) -> list[SentencePair]:
    """Next-sentence-prediction pairs (Devlin et al., NAACL 2019): is B the sentence after A?

    For every pair of consecutive sentences ``(A, B)`` of a document: with probability
    ``random_prob`` B is replaced by a random sentence of a *different* document (label 1),
    otherwise B is the true next sentence (label 0). NSP is a binary *sentence-pair*
    classification task; RoBERTa (Liu et al., 2019) found that dropping it does not hurt.

    Args:
        documents: each document is a sequence of sentences (strings), in order.
        random_prob: share of pairs whose B is random, in [0, 1].
        seed: seed of Python's ``random.Random`` (an int).

    Returns:
        A list of :class:`SentencePair`, one per consecutive pair, in document order.

    Raises:
        ValueError: if no document has two sentences, or fewer than two documents have any sentence
            (random B must come from another document), or ``random_prob`` is not in [0, 1].
        TypeError: if ``documents`` is a string or holds strings instead of sentence lists, a sentence
            is not a string, or ``seed`` is not an int.

    Book section: 2.2, "Sentence-level objectives".
    """
    random_prob = checks.probability(random_prob, "random_prob")
    seed = checks.integer(seed, "seed", minimum=None)
    docs = _documents(documents)
    if not any(len(d) >= 2 for d in docs):
        raise ValueError("documents: no document has two sentences, so there is no true next sentence")
    non_empty = [i for i, d in enumerate(docs) if d]
    if len(non_empty) < 2:
        raise ValueError("documents: need at least two non-empty documents to draw a random sentence B")
    rng = random.Random(seed)
    pairs = []
    for i, doc in enumerate(docs):
        for a, b in zip(doc, doc[1:]):
            if rng.random() < random_prob:
                other = rng.choice([j for j in non_empty if j != i])
                pairs.append(SentencePair(a, rng.choice(docs[other]), 1))
            else:
                pairs.append(SentencePair(a, b, 0))
    return pairs


def sop_pairs(documents: Sequence[Sequence[str]], *, swap_prob: float = 0.5, seed: int = 0) -> list[SentencePair]:
    """Sentence-order-prediction pairs (ALBERT, Lan et al., ICLR 2020): are A and B in order?

    Every pair of consecutive sentences of a document is kept in order (label 0) or swapped
    (label 1, with probability ``swap_prob``). Both sentences always come from the same document,
    so topic cannot give the answer away, unlike NSP's random B.

    Raises:
        ValueError: if no document has two sentences, or ``swap_prob`` is not in [0, 1].
        TypeError: as :func:`nsp_pairs`.

    Book section: 2.2, "Sentence-level objectives".
    """
    swap_prob = checks.probability(swap_prob, "swap_prob")
    seed = checks.integer(seed, "seed", minimum=None)
    docs = _documents(documents)
    if not any(len(d) >= 2 for d in docs):
        raise ValueError("documents: no document has two sentences to order")
    rng = random.Random(seed)
    pairs = []
    for doc in docs:
        for a, b in zip(doc, doc[1:]):
            pairs.append(SentencePair(b, a, 1) if rng.random() < swap_prob else SentencePair(a, b, 0))
    return pairs


# ---------------------------------------------------------------------------- image patches (MAE)
def patchify(images: torch.Tensor, patch_size: int) -> torch.Tensor:
    """Cut images into non-overlapping square patches, row by row (the layout of ViT and MAE).

    Args:
        images: ``(batch, channels, height, width)`` float tensor; height and width divisible by
            ``patch_size``.
        patch_size: side of a patch in pixels (ViT/MAE: 16).

    Returns:
        ``(batch, num_patches, patch_size**2 * channels)`` with ``num_patches = (h/p) * (w/p)``;
        each patch flattened as (row, column, channel), as ``ViTMAEForPreTraining.patchify``.

    Raises:
        TypeError: ``images`` not a tensor, ``patch_size`` not an int.
        ValueError: for a non-4-D tensor, ``patch_size`` < 1, or a size not divisible by ``patch_size``.

    Book section: 2.2, "Masked image modelling".
    """
    images = checks.instance(images, "images", torch.Tensor, what="a tensor")
    patch_size = checks.integer(patch_size, "patch_size")
    if images.ndim != 4:
        raise ValueError(f"images: expected shape (batch, channels, height, width), got {tuple(images.shape)}")
    b, c, h, w = images.shape
    if h % patch_size or w % patch_size:
        raise ValueError(f"images: height {h} and width {w} must be divisible by patch_size {patch_size}")
    x = images.reshape(b, c, h // patch_size, patch_size, w // patch_size, patch_size)
    return x.permute(0, 2, 4, 3, 5, 1).reshape(b, (h // patch_size) * (w // patch_size), patch_size**2 * c)


def unpatchify(patches: torch.Tensor, patch_size: int, height: int, width: int) -> torch.Tensor:
    """Inverse of :func:`patchify`: ``(batch, num_patches, p*p*c)`` back to ``(batch, c, height, width)``.

    Raises:
        TypeError: ``patches`` not a tensor, a size not an int.
        ValueError: a size < 1, or the patch count or size does not fit ``height``, ``width`` and
            ``patch_size``.
    """
    patches = checks.instance(patches, "patches", torch.Tensor, what="a tensor")
    patch_size = checks.integer(patch_size, "patch_size")
    height, width = checks.integer(height, "height"), checks.integer(width, "width")
    if patches.ndim != 3:
        raise ValueError(f"patches: expected shape (batch, num_patches, dim), got {tuple(patches.shape)}")
    b, n, dim = patches.shape
    gh, gw = height // patch_size, width // patch_size
    if height % patch_size or width % patch_size or n != gh * gw or dim % (patch_size**2):
        raise ValueError(f"patches: shape {tuple(patches.shape)} does not fit a {height}x{width} image "
                         f"cut into {patch_size}x{patch_size} patches")
    c = dim // patch_size**2
    x = patches.reshape(b, gh, gw, patch_size, patch_size, c).permute(0, 5, 1, 3, 2, 4)
    return x.reshape(b, c, height, width)


class PatchMask(NamedTuple):
    """Result of :func:`random_patch_masking` (MAE's names). Shapes: ``ids_keep`` ``(batch, n_keep)``;
    ``mask`` ``(batch, num_patches)`` float, 1 = masked (removed), 0 = kept; ``ids_restore``
    ``(batch, num_patches)``: unshuffle order, so that ``gather(shuffled, 1, ids_restore)`` puts
    every patch back at its position."""

    ids_keep: torch.Tensor
    mask: torch.Tensor
    ids_restore: torch.Tensor


def random_patch_masking(batch_size: int, num_patches: int, mask_ratio: float = 0.75, *,
                         noise: torch.Tensor | None = None, generator: torch.Generator | None = None) -> PatchMask:
    """MAE's per-image random masking of patches (He et al., CVPR 2022): keep a random
    ``1 - mask_ratio`` of the patches, hide the rest.

    Patches are shuffled by sorting uniform noise; the first ``int(num_patches * (1 - mask_ratio))``
    are kept. The encoder sees only the kept patches; the decoder puts mask tokens back with
    ``ids_restore`` and reconstructs the pixels of the masked ones. MAE masks 75% of the 16x16
    patches: whole patches, not single pixels, so that a hidden patch cannot simply be
    interpolated from its neighbours.

    Args:
        batch_size, num_patches: how many images, and patches per image.
        mask_ratio: share of patches to hide, in [0, 1).
        noise: optional ``(batch_size, num_patches)`` uniform noise (gives the same result as
            ``ViTMAEEmbeddings.random_masking`` with the same noise); drawn when ``None``.
        generator: a ``torch.Generator`` for the noise.

    Returns:
        A :class:`PatchMask`.

    Raises:
        TypeError: a size that is not an int (bools included), ``mask_ratio`` not a number, ``noise``
            not a float tensor.
        ValueError: for non-positive sizes, ``mask_ratio`` outside [0, 1), or noise of the wrong shape.

    Book section: 2.2, "Masked image modelling".
    """
    batch_size = checks.integer(batch_size, "batch_size")
    num_patches = checks.integer(num_patches, "num_patches")
    ratio = checks.probability(mask_ratio, "mask_ratio", allow_one=False)
    if noise is None:
        noise = torch.rand(batch_size, num_patches, generator=generator)
    elif tuple(checks.float_tensor(noise, "noise", finite=True).shape) != (batch_size, num_patches):
        raise ValueError(f"noise: expected shape {(batch_size, num_patches)}, got {tuple(noise.shape)}")
    n_keep = int(num_patches * (1 - ratio))
    ids_shuffle = torch.argsort(noise, dim=1)
    ids_restore = torch.argsort(ids_shuffle, dim=1)
    mask = torch.ones(batch_size, num_patches)
    mask[:, :n_keep] = 0
    return PatchMask(ids_shuffle[:, :n_keep], torch.gather(mask, 1, ids_restore), ids_restore)


# ---------------------------------------------------------------------------- a collator
class MLMCollator:
    """Pad a list of tokenised examples and corrupt them for masked language modelling.

    Use it as the ``collate_fn`` of a ``DataLoader`` or the ``data_collator`` of a ``Trainer``.

    Args:
        tokenizer: a BERT-style tokenizer with ``pad_token_id``, ``mask_token_id`` and
            ``all_special_ids`` (WordPiece ``##`` pieces for ``"whole_word"``).
        strategy: ``"token"`` (:func:`mlm_mask`), ``"whole_word"`` (:func:`whole_word_mask`) or
            ``"span"`` (:func:`span_mask`).
        mlm_probability: share of tokens to predict.
        seed: seed of the collator's own ``torch.Generator`` (``None``: PyTorch's global one).

    Calling it on examples (dicts with ``input_ids``) returns a dict of long tensors
    ``input_ids``, ``attention_mask``, ``labels``, each ``(batch, longest example)``.

    Raises:
        ValueError: for an unknown ``strategy``, a bad probability, or a tokenizer without
            ``mask_token_id``/``pad_token_id``; when called, for an empty batch or an id outside the
            tokenizer's vocabulary.
        TypeError: a bad ``seed``; when called, an example that is not a dict with ``input_ids`` of
            integer ids.
    """

    def __init__(self, tokenizer, strategy: str = "token", mlm_probability: float = 0.15, seed: int | None = None):
        self.strategy = checks.one_of(strategy, "strategy", STRATEGIES)
        if getattr(tokenizer, "mask_token_id", None) is None or getattr(tokenizer, "pad_token_id", None) is None:
            raise ValueError("tokenizer: needs a mask token and a pad token for masked language modelling")
        self.tokenizer = tokenizer
        self.mlm_probability = checks.probability(mlm_probability, "mlm_probability")
        seed = None if seed is None else checks.integer(seed, "seed", minimum=0)
        self.generator = torch.Generator().manual_seed(seed) if seed is not None else None

    def __call__(self, examples: Sequence[dict]) -> dict[str, torch.Tensor]:
        if isinstance(examples, Mapping) or not hasattr(examples, "__iter__"):
            raise TypeError(f"examples: expected a list of examples (dicts with 'input_ids'), got "
                            f"{type(examples).__name__}")
        examples = list(examples)
        if not examples:
            raise ValueError("examples: expected at least one example, got an empty batch")
        vocab_size, pad = len(self.tokenizer), self.tokenizer.pad_token_id
        seqs = []
        for i, e in enumerate(examples):
            if not isinstance(e, Mapping) or "input_ids" not in e:
                raise TypeError(f"examples[{i}]: expected a dict with 'input_ids', got {type(e).__name__}")
            seqs.append(checks.token_ids(e["input_ids"], f"examples[{i}]['input_ids']", vocab_size=vocab_size,
                                         ndim=1).tolist())
        longest = max(len(s) for s in seqs)
        ids = torch.tensor([s + [pad] * (longest - len(s)) for s in seqs], dtype=torch.long)
        attention = torch.tensor([[1] * len(s) + [0] * (longest - len(s)) for s in seqs], dtype=torch.long)
        special = torch.isin(ids, torch.tensor(self.tokenizer.all_special_ids)) | (attention == 0)
        args = (self.mlm_probability, self.tokenizer.mask_token_id, vocab_size, 0.8, 0.1)
        if self.strategy == "token":
            inputs, labels = _mlm(ids, special, *args, self.generator)
        elif self.strategy == "span":
            inputs, labels = _span(ids, special, self.mlm_probability, 0.2, 10, *args[1:], self.generator)
        else:
            words = torch.tensor([[-1 if w is None else w for w in
                                   _wordpiece_word_ids(self.tokenizer.convert_ids_to_tokens(row), flags, set())]
                                  for row, flags in zip(ids.tolist(), special.tolist())], dtype=torch.long)
            inputs, labels = _whole_word(ids, words.reshape(ids.shape), *args, self.generator)
        return {"input_ids": inputs, "attention_mask": attention, "labels": labels}


__all__ = [
    "IGNORE_INDEX", "STRATEGIES", "MLMCollator", "PatchMask", "SentencePair", "apply_replacement",
    "causal_lm_labels", "mlm_mask", "nsp_pairs", "patchify", "random_patch_masking", "sample_span_lengths",
    "shift_for_next_token", "sop_pairs", "span_mask", "unpatchify", "whole_word_mask", "wordpiece_word_ids",
]
