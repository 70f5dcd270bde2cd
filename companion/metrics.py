"""Evaluation metrics, with the inputs checked so that a metric is never silently wrong.

Classification metrics delegate to scikit-learn; this module adds argument checking and the
``compute_metrics`` hook the Hugging Face ``Trainer`` calls.

Book section: the text-classification case (8.1), "Evaluation".
"""

from __future__ import annotations

import numbers
from collections.abc import Hashable
from typing import Sequence

import numpy as np
import torch
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

from . import checks
from .masking import IGNORE_INDEX


def _labels(y, name: str) -> np.ndarray:
    """Class ids as int64: integers, bools, or floats that are whole numbers (e.g. from pandas)."""
    arr = y.detach().cpu().numpy() if isinstance(y, torch.Tensor) else np.asarray(y)
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D sequence of class ids, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name}: is empty")
    if arr.dtype.kind not in "biuf":
        checks.numbers(arr, name)  # raises the TypeError naming the first entry that is not a number
    if not (np.issubdtype(arr.dtype, np.integer) or arr.dtype == np.bool_):
        exact = np.issubdtype(arr.dtype, np.floating) and np.all(np.isfinite(arr)) \
            and np.all(np.abs(arr) < 2**53) and np.all(np.mod(arr, 1) == 0)
        if not exact:
            raise ValueError(f"{name}: expected integer class ids, got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    if arr.min() < 0:
        raise ValueError(f"{name}: class ids must be >= 0, got {arr.min()} (a -100 is the Hugging Face "
                         "ignore index: drop those positions before computing a classification metric)")
    return arr


def _classes(labels, t: np.ndarray, p: np.ndarray) -> np.ndarray | None:
    """Check an explicit ``labels`` list: unique class ids covering every id in ``t`` and ``p``."""
    if labels is None:
        return None
    arr = _labels(labels, "labels")
    if len(np.unique(arr)) != arr.size:
        raise ValueError(f"labels: has repeated classes: {arr.tolist()}")
    missing = sorted(set(np.concatenate([t, p]).tolist()) - set(arr.tolist()))
    if missing:
        raise ValueError(f"labels: does not list classes {missing} that occur in y_true or y_pred")
    return arr


def _pair(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    t, p = _labels(y_true, "y_true"), _labels(y_pred, "y_pred")
    if t.shape != p.shape:
        raise ValueError(f"y_pred: has {p.size} predictions but y_true has {t.size} labels")
    return t, p


def accuracy(y_true: Sequence[int], y_pred: Sequence[int]) -> float:
    """Fraction of predictions equal to the labels, in [0, 1].

    Args:
        y_true, y_pred: 1-D integer class ids of the same length (shape ``(n,)``).

    Raises:
        ValueError: if either is empty, not 1-D, not integer, or their lengths differ.
    """
    t, p = _pair(y_true, y_pred)
    return float(accuracy_score(t, p))


def macro_f1(y_true: Sequence[int], y_pred: Sequence[int], labels: Sequence[int] | None = None) -> float:
    """Unweighted mean of the per-class F1 scores, in [0, 1] (scikit-learn ``average="macro"``).

    Args:
        y_true, y_pred: 1-D integer class ids of the same length.
        labels: the classes to average over; default: every class in ``y_true`` or ``y_pred``.
            Pass it when a class may be absent from a small evaluation set (its F1 then counts as 0).

    Raises:
        ValueError: as :func:`accuracy`; or ``labels`` is empty, repeats a class, or omits a class
            that occurs in ``y_true`` or ``y_pred``.
    """
    t, p = _pair(y_true, y_pred)
    return float(f1_score(t, p, average="macro", labels=_classes(labels, t, p), zero_division=0))


def confusion(y_true: Sequence[int], y_pred: Sequence[int], labels: Sequence[int] | None = None) -> np.ndarray:
    """Confusion matrix ``C`` of shape ``(k, k)`` (int): ``C[i, j]`` = examples of class ``i``
    predicted as class ``j``. Rows and columns follow ``labels`` (default: the sorted classes seen).

    Raises:
        ValueError: as :func:`macro_f1`.
    """
    t, p = _pair(y_true, y_pred)
    return confusion_matrix(t, p, labels=_classes(labels, t, p))


def compute_metrics(eval_pred) -> dict[str, float]:
    """The ``compute_metrics`` hook for the Hugging Face ``Trainer`` (classification).

    Args:
        eval_pred: an ``EvalPrediction`` (or ``(logits, labels)``) with logits of shape
            ``(n, num_classes)`` and labels of shape ``(n,)``.

    Returns:
        ``{"accuracy": float, "macro_f1": float}``.

    Raises:
        TypeError: ``eval_pred`` is not a ``(logits, labels)`` pair, or holds strings.
        ValueError: the logits are not 2-D with at least 2 classes or not finite; the labels are not
            class ids in ``[0, num_classes)`` (e.g. a -100 ignore index) or do not match in length.
    """
    try:
        logits, labels = eval_pred
    except (TypeError, ValueError):
        raise TypeError(f"eval_pred: expected a (logits, labels) pair, got {type(eval_pred).__name__}") from None
    logits = np.asarray(logits[0] if isinstance(logits, tuple) else logits)
    if logits.dtype.kind not in "iuf":
        raise TypeError(f"eval_pred: expected numeric logits, got an array of dtype {logits.dtype}")
    if logits.ndim != 2 or logits.shape[1] < 2:
        raise ValueError(f"eval_pred: expected logits of shape (n, num_classes >= 2), got {logits.shape}")
    if not np.all(np.isfinite(logits)):
        raise ValueError("eval_pred: logits contain NaN or infinite values (did training diverge?)")
    labels = _labels(labels, "eval_pred labels")
    if labels.max() >= logits.shape[1]:
        raise ValueError(f"eval_pred labels: class id {labels.max()} but the logits have only "
                         f"{logits.shape[1]} classes")
    preds = logits.argmax(axis=-1)
    return {"accuracy": accuracy(labels, preds), "macro_f1": macro_f1(labels, preds)}




def _nll_values(token_nll, labels, ignore_index: int) -> np.ndarray:
    """Flatten per-token losses to the 1-D array of the tokens that count (types checked here,
    values checked on the tokens that count)."""
    loose = dict(ndim=None, finite=False, nan=True, allow_empty=True)  # NaN/inf are refused below
    if isinstance(token_nll, torch.Tensor):  # also on GPU, also bfloat16
        token_nll = token_nll.detach().float().cpu().numpy()
    if labels is not None:
        values = checks.numbers(token_nll, "token_nll", **loose)
        lab = checks.integers(labels, "labels").cpu().numpy()
        if values.shape != lab.shape:
            raise ValueError(f"labels: shape {lab.shape} does not match token_nll {values.shape}")
        values = values[lab != ignore_index]
    elif isinstance(token_nll, np.ndarray):
        values = checks.numbers(token_nll, "token_nll", **loose).ravel()
    elif isinstance(token_nll, (numbers.Real, np.number)) and not isinstance(token_nll, (bool, np.bool_)):
        values = np.array([checks.number(token_nll, "token_nll", finite=False)])  # one loss
    else:  # a list: flat, or ragged (one sequence of real tokens each)
        if isinstance(token_nll, (str, bytes)) or not hasattr(token_nll, "__iter__"):
            raise TypeError(f"token_nll: expected per-token losses (a list, array or tensor of numbers), got "
                            f"{token_nll!r:.60} ({type(token_nll).__name__})")
        items = list(token_nll)
        if items and all(np.ndim(x) == 1 for x in items):
            values = np.concatenate([checks.numbers(x, f"token_nll[{i}]", **loose) for i, x in enumerate(items)])
        else:
            values = checks.numbers(items, "token_nll", **loose).ravel()
    if values.size == 0:
        raise ValueError("token_nll: no tokens to score (every label is ignored, or the input is empty)")
    if not np.all(np.isfinite(values)) or np.any(values < 0):
        raise ValueError("token_nll: expected finite, non-negative per-token losses (negative log-probabilities, nats)")
    return values


def perplexity(token_nll, labels=None, *, ignore_index: int = IGNORE_INDEX) -> float:
    """Perplexity = exp(total negative log-likelihood / number of real tokens).

    Aggregate *before* exponentiating: sum the per-token losses over every sequence and batch and
    divide by the number of real tokens. The mean of per-batch perplexities, the mean of
    per-sequence mean losses, or a mean that counts padding are all different (and wrong) numbers.
    A model that spreads its probability uniformly over ``V`` tokens has perplexity exactly ``V``.
    Perplexity is defined for models that assign a probability to a sequence (causal LMs, n-grams);
    for masked LMs see :func:`pseudo_perplexity`.

    Args:
        token_nll: per-token negative log-likelihoods, natural log (nats), one of: a flat sequence;
            a list of 1-D sequences (ragged, real tokens only); or a padded ``(batch, seq_len)``
            array/tensor together with ``labels``.
        labels: same shape as a padded ``token_nll``; positions equal to ``ignore_index`` (padding,
            prompt tokens) are excluded. Without ``labels`` every value counts.
        ignore_index: the label that marks excluded positions (Hugging Face: -100).

    Returns:
        Perplexity, a float >= 1.

    Raises:
        TypeError: a loss that is not a number (a string, a bool), labels that are not integers,
            ``ignore_index`` not an int.
        ValueError: if there is no token to score, a loss is negative or not finite, or ``labels``
            does not match ``token_nll`` in shape.

    Book section: 2.1, "Cross-entropy and perplexity" (Jurafsky & Martin, ch. 3).
    """
    ignore_index = checks.integer(ignore_index, "ignore_index", minimum=None)
    values = _nll_values(token_nll, labels, ignore_index)
    return float(np.exp(values.sum() / values.size))


def perplexity_from_sum(nll_sum: float, n_tokens: int) -> float:
    """``exp(nll_sum / n_tokens)``: perplexity from a running total of token losses (nats) and tokens.

    Accumulate ``nll_sum += loss_per_token.sum()`` and ``n_tokens += number of real tokens`` over
    batches, then call this once.

    Raises:
        TypeError: ``n_tokens`` not an int or ``nll_sum`` not a number (bools and strings included).
        ValueError: if ``n_tokens`` < 1 or ``nll_sum`` is negative or not finite.
    """
    n_tokens = checks.integer(n_tokens, "n_tokens")
    nll_sum = checks.number(nll_sum, "nll_sum", minimum=0)
    return float(np.exp(nll_sum / n_tokens))


def token_nll(logits, labels, *, shift: bool = False, ignore_index: int = IGNORE_INDEX):
    """Per-token negative log-likelihood (nats) of the labels under the logits.

    Args:
        logits: ``(batch, seq_len, vocab)`` float tensor.
        labels: ``(batch, seq_len)`` long tensor; ``ignore_index`` marks positions without a target.
        shift: ``True`` for causal LMs whose labels are the inputs (score ``logits[:, t]`` against
            ``labels[:, t + 1]``, as Hugging Face causal LMs do internally).
        ignore_index: label of positions to skip.

    Returns:
        ``(nll, labels)``: float tensor of per-token losses (0 at ignored positions) and the labels
        they belong to, both ``(batch, seq_len)`` (``seq_len - 1`` when ``shift``). Pass both to
        :func:`perplexity`.

    Raises:
        TypeError: ``logits`` not a float tensor, ``labels`` not integers, ``shift`` not a bool.
        ValueError: if the shapes do not fit together, or a label is neither ``ignore_index`` nor in
            ``[0, vocab)`` (checked here: cross-entropy would raise an IndexError naming nothing).
    """
    import torch.nn.functional as F

    logits = checks.float_tensor(logits, "logits")
    shift = checks.boolean(shift, "shift")
    ignore_index = checks.integer(ignore_index, "ignore_index", minimum=None)
    labels = checks.class_labels(labels, "labels", num_labels=logits.shape[-1] if logits.ndim else None,
                                 ignore_index=ignore_index).to(logits.device)
    if logits.ndim != 3 or labels.ndim != 2 or logits.shape[:2] != labels.shape:
        raise ValueError(f"logits: expected (batch, seq_len, vocab) matching labels (batch, seq_len), got "
                         f"{tuple(logits.shape)} and {tuple(labels.shape)}")
    if shift:
        logits, labels = logits[:, :-1], labels[:, 1:]
    nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), labels.reshape(-1),
                          ignore_index=ignore_index, reduction="none")
    return nll.reshape(labels.shape), labels


def pseudo_perplexity(model, input_ids, special_tokens_mask, *, mask_token_id: int, attention_mask=None,
                      batch_size: int = 64, return_token_nll: bool = False):
    """Pseudo-perplexity of a masked LM (Salazar, Liang, Nguyen & Kirchhoff, ACL 2020).

    Each maskable token is replaced by ``[MASK]``, *one at a time*, and the model scores the true
    token from the rest of the sentence; ``PPPL = exp(-(sum of these log-probabilities) / N)``.
    It needs one forward pass per token, and is not comparable with the perplexity of a causal LM:
    each token is predicted from both sides.

    Args:
        model: a masked LM (e.g. ``BertForMaskedLM``) returning ``.logits`` of shape
            ``(batch, seq_len, vocab)``; it is put in eval mode.
        input_ids: ``(n, seq_len)`` long tensor (padding allowed).
        special_tokens_mask: same shape, true for special tokens and padding (never scored).
        mask_token_id: the ``[MASK]`` id.
        attention_mask: same shape, 0 on padding; ``None``: 0 where ``input_ids`` equals the model's
            ``config.pad_token_id`` and the token is special, 1 elsewhere.
        batch_size: masked copies per forward pass.
        return_token_nll: also return the 1-D tensor of per-token losses.

    Returns:
        The pseudo-perplexity (float), or ``(pppl, token_nll)``.

    Raises:
        TypeError: ``model`` not an ``nn.Module``, ids that are not integers, masks that are not 0/1
            flags, a count or flag of the wrong kind.
        ValueError: an id or ``mask_token_id`` outside ``[0, vocab_size)`` (``model.config``'s, when it
            has one), shapes that differ, or no maskable token.

    Book section: 2.2, "Pseudo-perplexity".
    """
    checks.instance(model, "model", torch.nn.Module, what="a torch.nn.Module (a masked LM)")
    vocab_size = getattr(getattr(model, "config", None), "vocab_size", None)
    vocab_size = vocab_size if isinstance(vocab_size, int) else None
    mask_token_id = checks.integer(mask_token_id, "mask_token_id", minimum=0,
                                   maximum=None if vocab_size is None else vocab_size - 1)
    ids = checks.token_ids(input_ids, "input_ids", vocab_size=vocab_size, ndim=2).long()
    special = checks.binary_mask(special_tokens_mask, "special_tokens_mask", shape=ids.shape, like="input_ids")
    batch_size = checks.integer(batch_size, "batch_size")
    return_token_nll = checks.boolean(return_token_nll, "return_token_nll")
    rows, cols = torch.nonzero(~special, as_tuple=True)
    if rows.numel() == 0:
        raise ValueError("special_tokens_mask: every token is special; nothing to score")
    if attention_mask is not None:
        attention = checks.binary_mask(attention_mask, "attention_mask", shape=ids.shape, like="input_ids").long()
    else:
        pad_token_id = getattr(getattr(model, "config", None), "pad_token_id", None)
        attention = torch.ones_like(ids)
        if pad_token_id is not None:
            attention = ((ids != pad_token_id) | ~special).long()
    model.eval()
    device = next(model.parameters()).device
    losses = []
    with torch.inference_mode():
        for start in range(0, rows.numel(), batch_size):
            r, c = rows[start:start + batch_size], cols[start:start + batch_size]
            batch = ids[r].clone()
            batch[torch.arange(len(r)), c] = mask_token_id
            logits = model(input_ids=batch.to(device), attention_mask=attention[r].to(device)).logits
            logp = torch.log_softmax(logits[torch.arange(len(r)), c.to(device)].float(), dim=-1)
            losses.append(-logp.gather(1, ids[r, c].to(device)[:, None]).squeeze(1).cpu())
    nll = torch.cat(losses)
    pppl = float(torch.exp(nll.mean()))
    return (pppl, nll) if return_token_nll else pppl


# ---------------------------------------------------------------------------- 8.2 machine translation
# Corpus BLEU (Papineni et al., ACL 2002) and chrF (Popović, WMT 2015) through sacreBLEU (Post, WMT
# 2018), which fixes the tokenisation so that scores are comparable and prints a signature saying how
# a score was computed. Book section: the machine-translation case (8.2), "Evaluation".

#: sacreBLEU's tokenizer for Chinese targets: every CJK character becomes a token.
CHINESE_BLEU_TOKENIZE = "zh"


def _reference_streams(references, n: int) -> list[list[str]]:
    """Normalise ``references`` to a list of streams, each a list of ``n`` strings.

    A flat list of strings is one stream (one reference per segment); a list of such lists is
    several streams (stream ``k`` holds the ``k``-th reference of every segment), sacreBLEU's layout.
    """
    if isinstance(references, (str, bytes)) or not hasattr(references, "__iter__"):
        raise TypeError(f"references: expected a list of strings or a list of reference streams, got "
                        f"{type(references).__name__}")
    refs = list(references)
    if not refs:
        raise ValueError("references: is empty")
    flat = all(isinstance(r, str) for r in refs)
    streams = [refs] if flat else [checks.texts(s, f"references[{k}]") for k, s in enumerate(refs)]
    for k, stream in enumerate(streams):
        if len(stream) != n:
            raise ValueError(f"references: stream {k} has {len(stream)} references but there are {n} hypotheses "
                             "(sacreBLEU would silently score only the shorter of the two)")
    return streams


def _check_tokenize(tokenize: str) -> str:
    from sacrebleu.metrics import BLEU

    return checks.one_of(tokenize, "tokenize", sorted(BLEU.TOKENIZERS))


def corpus_bleu(hypotheses: Sequence[str], references, *, tokenize: str = CHINESE_BLEU_TOKENIZE):
    """Corpus-level BLEU with sacreBLEU.

    BLEU pools the clipped n-gram matches (n = 1..4) and the lengths of *all* segments before it
    takes the geometric mean and the brevity penalty (Papineni et al., ACL 2002); it is not the mean
    of sentence-level BLEU scores.

    Args:
        hypotheses: system outputs, one string per segment (length ``n``).
        references: one list of ``n`` reference strings, or a list of such lists (several
            references per segment).
        tokenize: sacreBLEU tokenizer. ``"zh"`` (default) splits Chinese into characters; the
            default of sacreBLEU itself, ``"13a"``, splits on spaces and punctuation only, so an
            unsegmented Chinese sentence becomes one "word" and BLEU collapses to about 0.

    Returns:
        A ``sacrebleu.metrics.bleu.BLEUScore``: ``.score`` is BLEU in [0, 100]; ``str()`` shows the
        n-gram precisions, brevity penalty and lengths. Its signature is :func:`bleu_signature`.

    Raises:
        TypeError: if ``hypotheses`` or ``references`` are not lists of strings.
        ValueError: if either is empty, a reference stream's length differs from the number of
            hypotheses, or ``tokenize`` is unknown.
    """
    from sacrebleu.metrics import BLEU

    hyps = checks.texts(hypotheses, "hypotheses")
    streams = _reference_streams(references, len(hyps))
    _check_tokenize(tokenize)
    return BLEU(tokenize=tokenize).corpus_score(hyps, streams)


def corpus_chrf(hypotheses: Sequence[str], references, *, word_order: int = 0):
    """Corpus-level chrF (Popović, WMT 2015) with sacreBLEU: an F-score (β = 2) of character
    n-gram (n = 1..6) precision and recall; ``word_order=2`` gives chrF++ (Popović, WMT 2017).

    chrF needs no word segmentation, so it suits Chinese as it is; sacreBLEU ignores whitespace.

    Returns:
        A ``sacrebleu.metrics.chrf.CHRFScore``; ``.score`` is in [0, 100].

    Raises:
        TypeError, ValueError: as :func:`corpus_bleu`; ``ValueError`` if ``word_order`` is not 0, 1 or 2.
    """
    from sacrebleu.metrics import CHRF

    hyps = checks.texts(hypotheses, "hypotheses")
    streams = _reference_streams(references, len(hyps))
    word_order = checks.one_of(word_order, "word_order", (0, 1, 2))
    return CHRF(word_order=word_order).corpus_score(hyps, streams)


def bleu_signature(tokenize: str = CHINESE_BLEU_TOKENIZE, nrefs: int = 1) -> str:
    """sacreBLEU's signature for :func:`corpus_bleu` with ``nrefs`` references per segment, e.g.
    ``nrefs:1|case:mixed|eff:no|tok:zh|smooth:exp|version:2.6.0``: report it with every score.

    Raises:
        ValueError: if ``tokenize`` is unknown or ``nrefs`` < 1.
        TypeError: if ``nrefs`` is not an int (``True`` included).
    """
    from sacrebleu.metrics import BLEU

    _check_tokenize(tokenize)
    nrefs = checks.integer(nrefs, "nrefs")
    bleu = BLEU(tokenize=tokenize)
    bleu.corpus_score(["x"], [["x"]] * nrefs)  # sacreBLEU learns the number of references by scoring
    return str(bleu.get_signature())


def chrf_signature(word_order: int = 0, nrefs: int = 1) -> str:
    """sacreBLEU's signature for :func:`corpus_chrf`, e.g. ``nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.6.0``.

    Raises:
        ValueError: if ``word_order`` is not 0, 1 or 2 or ``nrefs`` < 1.
        TypeError: if ``nrefs`` is not an int (``True`` included).
    """
    from sacrebleu.metrics import CHRF

    word_order = checks.one_of(word_order, "word_order", (0, 1, 2))
    nrefs = checks.integer(nrefs, "nrefs")
    chrf = CHRF(word_order=word_order)
    chrf.corpus_score(["x"], [["x"]] * nrefs)
    return str(chrf.get_signature())


def sentence_bleu(hypothesis: str, references, *, tokenize: str = CHINESE_BLEU_TOKENIZE) -> float:
    """BLEU of one segment in [0, 100], with sacreBLEU's ``effective_order`` (higher n-gram orders
    without any match in a short sentence are skipped instead of zeroing the score).

    Useful for ranking examples; the headline number of a test set is :func:`corpus_bleu`.

    Args:
        hypothesis: one system output.
        references: one reference string or a list of them.

    Raises:
        TypeError: if ``hypothesis`` is not a string or ``references`` not strings.
        ValueError: if ``references`` is empty or ``tokenize`` unknown.
    """
    from sacrebleu.metrics import BLEU

    checks.text(hypothesis, "hypothesis")
    refs = [references] if isinstance(references, str) else checks.texts(references, "references")
    _check_tokenize(tokenize)
    return float(BLEU(tokenize=tokenize, effective_order=True).sentence_score(hypothesis, refs).score)


def corpus_bleu_by_group(hypotheses: Sequence[str], references: Sequence[str], groups: Sequence,
                         *, tokenize: str = CHINESE_BLEU_TOKENIZE) -> dict:
    """Corpus BLEU computed separately on each group of segments (e.g. source-length buckets).

    Args:
        hypotheses, references: ``n`` strings each (one reference per segment).
        groups: ``n`` hashable group labels (ints, strings ...; not lists).

    Returns:
        ``{group: (segments, BLEU)}``, sorted by group label when the labels are sortable (else
        in order of first appearance).

    Raises:
        TypeError: a hypothesis or reference that is not a string (several reference streams
            included: this function takes one reference per segment), or an unhashable group label.
        ValueError: if the three sequences differ in length, or as :func:`corpus_bleu`.
    """
    hyps = checks.texts(hypotheses, "hypotheses")
    refs = checks.texts(references, "references")
    checks.same_length("hypotheses", hyps, "references", refs)
    if isinstance(groups, (str, bytes)) or not hasattr(groups, "__iter__"):
        raise TypeError(f"groups: expected one label per segment, got {type(groups).__name__}")
    groups = list(groups)
    checks.same_length("hypotheses", hyps, "groups", groups)
    for i, g in enumerate(groups):
        if not isinstance(g, Hashable):
            raise TypeError(f"groups[{i}]: expected a hashable label (an int, a string ...), got {g!r:.60}")
    tokenize = _check_tokenize(tokenize)
    members: dict = {}
    for i, g in enumerate(groups):
        members.setdefault(g, []).append(i)
    try:
        keys = sorted(members)
    except TypeError:
        keys = list(members)
    return {g: (len(members[g]), corpus_bleu([hyps[i] for i in members[g]], [refs[i] for i in members[g]],
                                             tokenize=tokenize).score) for g in keys}
