"""One pretrained backbone, several task heads.

* :func:`build_model` -- a BERT-style backbone with the head a task needs: sequence classification
  (linear layer on the mean of the token vectors, :class:`MeanPooler`, cross-entropy), regression (one output, squared
  error) or token classification (a linear layer on every token, cross-entropy per token); optionally
  only the first ``num_layers`` blocks (:func:`keep_layers`) and a different dropout;
* :func:`negation_scope_tags` -- the rule behind the book's offline token-classification task:
  tag negation cues and the words they scope over;
* :func:`negation_dataset` -- sentences from IMDb reviews tagged with that rule;
* :func:`align_labels` / :func:`tokenize_tagged` -- word labels to sub-word tokens (the first
  sub-word of a word carries its label, the others and the special tokens get ``-100``).

Book section: chapter 5.2 (task types) and 5.3 (a smaller backbone for the experiments).
"""

from __future__ import annotations

import re
from typing import Iterable, Sequence

import numpy as np
import torch

from companion.classifier_loop import keep_layers  # one implementation, shared with chapter 7

TASKS = ("classification", "regression", "token_classification")
IGNORE_INDEX = -100

#: Tags of the negation task: outside, negation cue, inside the scope of a cue.
NEGATION_TAGS = ("O", "CUE", "SCOPE")
NEGATION_CUES = frozenset({"not", "n't", "no", "never", "nothing", "nobody", "none", "nor", "neither",
                           "without", "cannot", "nowhere"})
#: A scope ends at punctuation, at a contrast ("but", "although", ...) or at the next cue.
SCOPE_BREAKERS = frozenset({".", ",", ";", ":", "!", "?", "(", ")", '"', "-", "but", "although", "though",
                            "however", "yet", "whereas", "while"})
_WORD = re.compile(r"n't|\w+(?=n't)|\w+(?:'\w+)?|[^\w\s]")


# ---------------------------------------------------------------------------- models
class MeanPooler(torch.nn.Module):
    """Replaces BERT's ``[CLS]`` pooler: the mean of the token vectors over the real (unpadded) tokens.

    ``all-MiniLM-L6-v2`` was trained to give sentence vectors by mean pooling (Reimers & Gurevych,
    EMNLP 2019); its ``[CLS]`` pooler was not, and a classifier on it barely learns in a short run
    (chapter 5.2). The model's ``attention_mask`` reaches the pooler through a forward pre-hook on the
    backbone that :func:`use_mean_pooling` installs; without one, every position counts.

    The pooler has no weights, so ``save_pretrained`` does not record it: after ``from_pretrained``
    call :func:`use_mean_pooling` again (otherwise the reloaded model gets a new, random ``[CLS]``
    pooler).

    Raises:
        ValueError: if the mask's shape is not the hidden states' ``(batch, tokens)``.

    Shapes: ``hidden_states`` (batch, tokens, hidden) float -> (batch, hidden), same dtype. No parameters.
    """

    def __init__(self):
        super().__init__()
        self.mask = None

    def forward(self, hidden_states):
        mask = self.mask
        if mask is None:
            mask = torch.ones(hidden_states.shape[:2], device=hidden_states.device)
        elif tuple(mask.shape) != tuple(hidden_states.shape[:2]):
            raise ValueError(f"attention_mask: shape {tuple(mask.shape)} does not match the hidden states' "
                             f"(batch, tokens) {tuple(hidden_states.shape[:2])}")
        weights = mask.unsqueeze(-1).to(hidden_states.dtype)
        return (hidden_states * weights).sum(1) / weights.sum(1).clamp(min=1)


def use_mean_pooling(model):
    """Give a BERT-style sequence model a :class:`MeanPooler` (in place); returns ``model``.

    Raises:
        ValueError: if ``model.base_model`` has no ``pooler`` attribute.
    """
    backbone = getattr(model, "base_model", model)
    if not hasattr(backbone, "pooler"):
        raise ValueError("model: expected a BERT-style model with base_model.pooler")
    backbone.pooler = MeanPooler()
    backbone.register_forward_pre_hook(_remember_mask, with_kwargs=True)
    return model


def _remember_mask(backbone, args, kwargs):
    """Forward pre-hook: hand the call's ``attention_mask`` to ``backbone.pooler`` (looked up at call
    time, so a ``copy.deepcopy`` of the model uses its own pooler)."""
    if isinstance(backbone.pooler, MeanPooler):
        backbone.pooler.mask = kwargs.get("attention_mask", args[1] if len(args) > 1 else None)


def build_model(model: str, task: str, *, num_labels: int = 2, texts: Iterable[str] | None = None,
                tokenizer=None, num_layers: int | None = None, dropout: float | None = None, seed: int = 0):
    """Return ``(model, tokenizer)`` with the head ``task`` needs, on CPU in float32.

    Args:
        model: ``"tiny-random-bert"`` (smoke: a randomly initialised tiny BERT), ``"minilm"`` (the
            offline MiniLM) or a hub id / local directory.
        task: ``"classification"`` (``AutoModelForSequenceClassification`` with a :class:`MeanPooler`
            in place of the ``[CLS]`` pooler, cross-entropy),
            ``"regression"`` (the same class with one output and ``problem_type="regression"``:
            squared error) or ``"token_classification"`` (``AutoModelForTokenClassification``).
        num_labels: classes of the head (ignored for regression, which has one output).
        texts: training texts for the smoke tokenizer (needed for ``"tiny-random-bert"`` unless
            ``tokenizer`` is given).
        tokenizer: reuse this tokenizer (smoke: to share one vocabulary between several models).
        num_layers: keep only the first ``num_layers`` blocks (:func:`keep_layers`); ``None`` keeps all.
        dropout: if given, the hidden and attention dropout probability (default: the checkpoint's).
        seed: seed of the randomly initialised weights (the head, or the whole tiny model).

    Raises:
        ValueError: for an unknown ``task``, a ``num_labels`` below 2 (unless ``task="regression"``),
            a bad ``dropout``, or a tiny model
            without ``texts`` or ``tokenizer``.
    """
    import torch
    from transformers import (AutoConfig, AutoModelForSequenceClassification, AutoModelForTokenClassification,
                              BertForSequenceClassification, BertForTokenClassification)

    from .profiles import model_location
    from .training import resolve_tokenizer, tiny_bert_config

    if task not in TASKS:
        raise ValueError(f"task: {task!r} is not one of {TASKS}")
    if isinstance(num_labels, bool) or not isinstance(num_labels, int) or num_labels < 2 and task != "regression":
        raise ValueError(f"num_labels: expected an int >= 2 (classes of the head), got {num_labels!r}")
    if dropout is not None and not 0 <= dropout < 1:
        raise ValueError(f"dropout: expected a value in [0, 1), got {dropout!r}")
    extra = {}
    if task == "regression":
        num_labels, extra["problem_type"] = 1, "regression"
    if dropout is not None:
        extra.update(hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout)
    tokenizer = resolve_tokenizer(model, tokenizer, texts)
    torch.manual_seed(seed)
    if model == "tiny-random-bert":
        config = tiny_bert_config(len(tokenizer), num_labels, **extra)
        cls = BertForTokenClassification if task == "token_classification" else BertForSequenceClassification
        net = cls(config)
    else:
        location = model_location(model)
        config = AutoConfig.from_pretrained(location, num_labels=num_labels, **extra)
        cls = AutoModelForTokenClassification if task == "token_classification" else AutoModelForSequenceClassification
        net = cls.from_pretrained(location, config=config)
    if num_layers is not None:
        keep_layers(net, num_layers)
    if task != "token_classification":
        use_mean_pooling(net)
    return net, tokenizer


# ---------------------------------------------------------------------------- the negation task
def split_words(sentence: str) -> list[str]:
    """Lower-case words and punctuation marks, with the clitic ``n't`` split off
    (``"didn't"`` -> ``["did", "n't"]``).

    Raises:
        TypeError: if ``sentence`` is not a string.
    """
    if not isinstance(sentence, str):
        raise TypeError(f"sentence: expected str, got {type(sentence).__name__}")
    return _WORD.findall(sentence.lower().replace("\u2019", "'"))  # typographic apostrophe as in "didn’t"


def negation_scope_tags(words: Sequence[str]) -> list[int]:
    """Tag each word 0 (``O``), 1 (``CUE``) or 2 (``SCOPE``) with a fixed rule.

    The rule: a word in :data:`NEGATION_CUES` is a cue; every word after a cue is in its scope until
    a word in :data:`SCOPE_BREAKERS` (punctuation, "but", "although", ...) or the next cue. Example:
    ``"i did n't like it , but the music is good ."`` -> ``did`` O, ``n't`` CUE, ``like it`` SCOPE,
    the rest O.

    This is a simplification of negation-scope annotation (real guidelines, e.g. the *SEM 2012 shared
    task, Morante & Blanco, use syntax); we use it because it can be computed offline and it still
    needs context: the same word is ``SCOPE`` after "not" and ``O`` elsewhere.
    """
    if isinstance(words, str) or not all(isinstance(w, str) for w in words):
        raise TypeError("words: expected a list of words (strings), e.g. split_words(sentence)")
    tags, inside = [], False
    for word in words:
        w = word.lower()
        if w in NEGATION_CUES:
            tags.append(1)
            inside = True
        elif w in SCOPE_BREAKERS:
            tags.append(0)
            inside = False
        else:
            tags.append(2 if inside else 0)
    return tags


def negation_dataset(texts: Iterable[str], n: int, *, seed: int = 0, min_words: int = 5, max_words: int = 30,
                     negated_share: float = 0.5) -> list[dict]:
    """Sentences from ``texts`` with word tags from :func:`negation_scope_tags`.

    Splits each text into sentences (at ``.``, ``!``, ``?``), keeps those of ``min_words`` to
    ``max_words`` words, and draws ``n`` of them (seeded) so that about ``negated_share`` contain a cue.

    Returns:
        A list of ``{"words": list[str], "tags": list[int]}``.

    Raises:
        ValueError: if ``n`` is not positive, ``negated_share`` is not in [0, 1], ``min_words`` is not
            in [1, ``max_words``], or there are not enough sentences of either kind.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
        raise ValueError(f"n: expected a positive int, got {n!r}")
    if not 0 <= negated_share <= 1:  # also rejects NaN
        raise ValueError(f"negated_share: expected a share in [0, 1], got {negated_share!r}")
    if isinstance(min_words, bool) or not isinstance(min_words, int) or not 1 <= min_words <= max_words:
        raise ValueError(f"min_words: expected an int in [1, max_words={max_words!r}], got {min_words!r}")
    negated, plain = [], []
    for text in texts:
        for sentence in re.split(r"(?<=[.!?])\s+", text):
            words = split_words(sentence)
            if min_words <= len(words) <= max_words:
                tags = negation_scope_tags(words)
                (negated if 1 in tags else plain).append({"words": words, "tags": tags})
    k_neg = int(round(n * negated_share))
    if k_neg > len(negated) or n - k_neg > len(plain):
        raise ValueError(f"n: asked for {k_neg} negated and {n - k_neg} other sentences, "
                         f"found {len(negated)} and {len(plain)}")
    rng = np.random.default_rng(seed)
    picked = [negated[i] for i in rng.choice(len(negated), k_neg, replace=False)]
    picked += [plain[i] for i in rng.choice(len(plain), n - k_neg, replace=False)]
    order = rng.permutation(len(picked))
    return [picked[i] for i in order]


def align_labels(word_ids: Sequence[int | None], word_labels: Sequence[int]) -> list[int]:
    """Labels per token from labels per word: the first sub-word token of each word gets the word's
    label; later sub-words and special tokens (word id ``None``) get ``-100``, which the loss ignores.

    Args:
        word_ids: the tokenizer's ``word_ids()`` for one example (``None`` for ``[CLS]``/``[SEP]``).
        word_labels: one label per word.

    Raises:
        ValueError: if a word id is out of range of ``word_labels``.
    """
    out, previous = [], None
    for wid in word_ids:
        if wid is None:
            out.append(IGNORE_INDEX)
        elif not 0 <= wid < len(word_labels):
            raise ValueError(f"word_ids: word id {wid} but only {len(word_labels)} word labels")
        elif wid != previous:
            out.append(int(word_labels[wid]))
        else:
            out.append(IGNORE_INDEX)
        previous = wid
    return out


def tokenize_tagged(examples: Sequence[dict], tokenizer, max_length: int) -> list[dict]:
    """Tokenise ``{"words", "tags"}`` examples for token classification (no padding).

    Returns:
        One dict per example with ``input_ids``, ``attention_mask`` (and ``token_type_ids`` for
        BERT) and ``labels`` aligned by :func:`align_labels`; truncated to ``max_length`` tokens.
        Feed them to a ``DataLoader`` with ``DataCollatorForTokenClassification``.

    Raises:
        ValueError: if ``max_length`` leaves no room for a word piece, or an example has not one tag
            per word.
        TypeError: if an example's ``words`` is not a list of strings.
    """
    shortest = tokenizer.num_special_tokens_to_add() + 1  # [CLS] + one piece + [SEP]
    if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < shortest:
        raise ValueError(f"max_length: expected an int >= {shortest} (the special tokens and one piece), "
                         f"got {max_length!r}")
    for i, e in enumerate(examples):
        words, tags = e["words"], e["tags"]
        if isinstance(words, str) or not all(isinstance(w, str) for w in words):
            raise TypeError(f"examples[{i}]['words']: expected a list of words (strings), got {words!r:.60}")
        if len(tags) != len(words):
            raise ValueError(f"examples[{i}]: {len(tags)} tags for {len(words)} words")
    enc = tokenizer([e["words"] for e in examples], is_split_into_words=True, truncation=True,
                    max_length=max_length)
    out = []
    for i, e in enumerate(examples):
        item = {k: enc[k][i] for k in enc.keys()}
        item["labels"] = align_labels(enc.word_ids(i), e["tags"])
        out.append(item)
    return out


__all__ = [
    "IGNORE_INDEX", "NEGATION_CUES", "NEGATION_TAGS", "SCOPE_BREAKERS", "TASKS", "MeanPooler", "align_labels", "build_model",
    "keep_layers", "negation_dataset", "negation_scope_tags", "split_words", "tokenize_tagged", "use_mean_pooling",
]
