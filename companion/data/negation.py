"""The negation-scope tagging task: chapter 5's offline token-classification example.

* :func:`negation_scope_tags` -- the rule behind the task: tag negation cues and the words they scope over;
* :func:`negation_dataset` -- sentences from IMDb reviews tagged with that rule;
* :func:`align_labels` / :func:`tokenize_tagged` -- word labels to sub-word tokens (the first sub-word
  of a word carries its label, the others and the special tokens get ``-100``).

Book section: chapter 5.2 (task types).
"""

from __future__ import annotations

import re
from typing import Iterable, Sequence

import numpy as np

from .. import checks
from .text import IGNORE_INDEX

#: Tags of the negation task: outside, negation cue, inside the scope of a cue.
NEGATION_TAGS = ("O", "CUE", "SCOPE")
NEGATION_CUES = frozenset({"not", "n't", "no", "never", "nothing", "nobody", "none", "nor", "neither",
                           "without", "cannot", "nowhere"})
#: A scope ends at punctuation, at a contrast ("but", "although", ...) or at the next cue.
SCOPE_BREAKERS = frozenset({".", ",", ";", ":", "!", "?", "(", ")", '"', "-", "but", "although", "though",
                            "however", "yet", "whereas", "while"})
_WORD = re.compile(r"n't|\w+(?=n't)|\w+(?:'\w+)?|[^\w\s]")


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
    words = checks.texts(words, "words", allow_empty=True)
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
    texts = checks.texts(texts, "texts")
    n = checks.integer(n, "n")
    negated_share = checks.probability(negated_share, "negated_share")
    max_words = checks.integer(max_words, "max_words")
    min_words = checks.integer(min_words, "min_words", maximum=max_words)
    seed = checks.integer(seed, "seed", minimum=0)
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
        TypeError: ``word_labels`` are not integers (a float label would be truncated, a string or bool
            misread).
        ValueError: if a word id is out of range of ``word_labels``, or a label is negative (other than
            ``-100``).
    """
    word_ids = checks.word_ids(word_ids, "word_ids")
    word_labels = checks.class_labels(word_labels, "word_labels", ignore_index=IGNORE_INDEX).tolist()
    return _align(word_ids, word_labels)


def _align(word_ids: list[int | None], word_labels: list[int]) -> list[int]:
    out, previous = [], None
    for wid in word_ids:
        if wid is None:
            out.append(IGNORE_INDEX)
        elif wid >= len(word_labels):
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
    if not callable(tokenizer) or not hasattr(tokenizer, "num_special_tokens_to_add"):
        raise TypeError(f"tokenizer: expected a transformers tokenizer, got {type(tokenizer).__name__}")
    shortest = tokenizer.num_special_tokens_to_add() + 1  # [CLS] + one piece + [SEP]
    max_length = checks.integer(max_length, "max_length", minimum=shortest)
    if isinstance(examples, (str, bytes, dict)) or not hasattr(examples, "__iter__"):
        raise TypeError(f"examples: expected a list of {{'words', 'tags'}} dicts, got {type(examples).__name__}")
    examples = list(examples)
    if not examples:
        raise ValueError("examples: no examples to tokenise")
    all_tags = []
    for i, e in enumerate(examples):
        if not isinstance(e, dict) or "words" not in e or "tags" not in e:
            raise TypeError(f"examples[{i}]: expected a dict with 'words' and 'tags', got {e!r:.60}")
        words = checks.texts(e["words"], f"examples[{i}]['words']", allow_empty=True)
        tags = checks.class_labels(e["tags"], f"examples[{i}]['tags']", ignore_index=IGNORE_INDEX).tolist()
        if len(tags) != len(words):
            raise ValueError(f"examples[{i}]: {len(tags)} tags for {len(words)} words")
        all_tags.append(tags)
    enc = tokenizer([e["words"] for e in examples], is_split_into_words=True, truncation=True,
                    max_length=max_length)
    out = []
    for i, e in enumerate(examples):
        item = {k: enc[k][i] for k in enc.keys()}
        item["labels"] = _align(enc.word_ids(i), all_tags[i])
        out.append(item)
    return out


__all__ = ["NEGATION_CUES", "NEGATION_TAGS", "SCOPE_BREAKERS", "align_labels", "negation_dataset",
           "negation_scope_tags", "split_words", "tokenize_tagged"]
