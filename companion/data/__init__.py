"""The book's data, one module per dataset, and the one path from text to batches.

* :mod:`~companion.data.imdb` -- IMDb reviews, labelled and unlabelled (Maas et al., ACL 2011);
* :mod:`~companion.data.tatoeba` -- English-Mandarin sentence pairs from Tatoeba (CC-BY 2.0 FR), and
  parallel corpora from the hub for the gpu profile;
* :mod:`~companion.data.paraphrases` -- English paraphrase pairs made from Tatoeba (chapter 5);
* :mod:`~companion.data.negation` -- the negation-scope tagging task (chapter 5);
* :mod:`~companion.data.text` -- tokenise with head + tail truncation, train a WordPiece vocabulary,
  and batch with dynamic padding, optionally grouped by length, in an order that is a function of
  ``(seed, epoch)``.

The committed samples live in ``companion/_data`` (made by ``scripts/make_samples.py``), so a fresh
clone runs its smoke and cpu profiles without any download.
"""

from .imdb import (DATA_DIR_ENV, IMDB_CITATION, IMDB_HUB_ID, clean_review, load_imdb, load_imdb_unlabelled,
                   packaged_data_dir, stratified_indices)
from .negation import NEGATION_TAGS, align_labels, negation_dataset, negation_scope_tags, split_words, tokenize_tagged
from .paraphrases import load_paraphrase_pairs
from .tatoeba import TATOEBA_CITATION, grouped_split, load_hub_pairs, load_tatoeba, read_tatoeba
from .text import (IGNORE_INDEX, MODEL_INPUTS, EpochSampler, dataloader, encode, tokenize,
                   train_wordpiece_tokenizer)

__all__ = [
    "DATA_DIR_ENV", "IGNORE_INDEX", "IMDB_CITATION", "IMDB_HUB_ID", "MODEL_INPUTS", "NEGATION_TAGS",
    "TATOEBA_CITATION", "EpochSampler", "align_labels", "clean_review", "dataloader", "encode",
    "grouped_split", "load_hub_pairs", "load_imdb", "load_imdb_unlabelled", "load_paraphrase_pairs",
    "load_tatoeba", "negation_dataset", "negation_scope_tags", "packaged_data_dir", "read_tatoeba",
    "split_words", "stratified_indices", "tokenize", "tokenize_tagged", "train_wordpiece_tokenizer",
]
