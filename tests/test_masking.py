import math

import numpy as np
import pytest
import torch
from transformers import AutoTokenizer, DataCollatorForLanguageModeling, GPT2Config, GPT2LMHeadModel, ViTMAEConfig
from transformers.models.vit_mae.modeling_vit_mae import ViTMAEEmbeddings, ViTMAEForPreTraining

from companion import masking, models

MASK, VOCAB = 4, 1000
SPECIAL = [0, 1, 2, 3, 4]  # [PAD], [UNK], [CLS], [SEP], [MASK] as in companion.data.train_wordpiece_tokenizer


def batch(n=400, length=64, pad_from=48, seed=0):
    """[CLS] w ... w [SEP] [PAD]...: rows of random word ids (>= 5) with padding on the second half of rows."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, VOCAB, (n, length), generator=g)
    ids[:, 0] = 2
    ids[:, -1] = 3
    ids[n // 2:, pad_from - 1] = 3
    ids[n // 2:, pad_from:] = 0
    return ids


def gen(seed=1):
    return torch.Generator().manual_seed(seed)


def rates(ids, inputs, labels, special):
    selected = labels != -100
    maskable = ~special
    return {
        "selected": (selected & maskable).sum().item() / maskable.sum().item(),
        "mask": (inputs[selected] == MASK).float().mean().item(),
        "random": ((inputs[selected] != MASK) & (inputs[selected] != ids[selected])).float().mean().item(),
        "same": (inputs[selected] == ids[selected]).float().mean().item(),
    }


# ---------------------------------------------------------------------------- 80/10/10
def test_mlm_rates_and_invariants():
    ids = batch()
    special = torch.isin(ids, torch.tensor(SPECIAL))
    inputs, labels = masking.mlm_mask(ids, mask_token_id=MASK, vocab_size=VOCAB, special_ids=SPECIAL, generator=gen())
    r = rates(ids, inputs, labels, special)
    assert abs(r["selected"] - 0.15) < 0.02
    assert abs(r["mask"] - 0.8) < 0.02
    # a random replacement can draw the original token (probability 1/VOCAB): counted as "same"
    assert abs(r["random"] - 0.1) < 0.02 and abs(r["same"] - 0.1) < 0.02
    assert (labels[special] == -100).all(), "special tokens and padding are never targets"
    assert torch.equal(inputs[special], ids[special]), "special tokens and padding are never changed"
    unselected = labels == -100
    assert torch.equal(inputs[unselected], ids[unselected])
    assert torch.equal(labels[~unselected], ids[~unselected]), "targets are the original tokens"
    assert inputs.dtype == labels.dtype == torch.long and inputs.shape == ids.shape


def test_mlm_is_reproducible_and_accepts_special_tokens_mask_and_1d():
    ids = batch(8)
    special = torch.isin(ids, torch.tensor(SPECIAL))
    a = masking.mlm_mask(ids, mask_token_id=MASK, vocab_size=VOCAB, special_tokens_mask=special, generator=gen(5))
    b = masking.mlm_mask(ids, mask_token_id=MASK, vocab_size=VOCAB, special_ids=SPECIAL, generator=gen(5))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    one = masking.mlm_mask(ids[0].tolist(), mask_token_id=MASK, vocab_size=VOCAB, special_ids=SPECIAL,
                           mlm_probability=1.0)
    assert one[0].shape == (64,) and (one[1][1:-1] != -100).all() and one[1][0] == one[1][-1] == -100


def test_mask_and_random_share_can_be_changed():
    ids = batch(200)
    special = torch.isin(ids, torch.tensor(SPECIAL))
    inputs, labels = masking.mlm_mask(ids, mask_token_id=MASK, vocab_size=VOCAB, special_ids=SPECIAL,
                                      mlm_probability=0.3, mask_replace_prob=1.0, random_replace_prob=0.0,
                                      generator=gen())
    r = rates(ids, inputs, labels, special)
    assert abs(r["selected"] - 0.3) < 0.02 and r["mask"] == 1.0


@pytest.mark.parametrize("kw,name,exc", [
    (dict(mlm_probability=1.5), "mlm_probability", ValueError), (dict(mlm_probability=-0.1), "mlm_probability", ValueError),
    (dict(mlm_probability="0.15"), "mlm_probability", TypeError),
    (dict(mask_replace_prob=0.95), "random_replace_prob", ValueError),
    (dict(random_replace_prob=-0.1), "random_replace_prob", ValueError),
    (dict(mask_token_id=VOCAB), "mask_token_id", ValueError), (dict(vocab_size=0), "vocab_size", ValueError),
])
def test_mlm_bad_arguments(kw, name, exc):
    args = dict(mask_token_id=MASK, vocab_size=VOCAB, special_ids=SPECIAL) | kw
    with pytest.raises(exc, match=name):
        masking.mlm_mask(batch(2), **args)


def test_mlm_requires_special_token_information():
    with pytest.raises(ValueError, match="special_tokens_mask"):
        masking.mlm_mask(batch(2), mask_token_id=MASK, vocab_size=VOCAB)
    with pytest.raises(ValueError, match="special_tokens_mask"):
        masking.mlm_mask(batch(2), mask_token_id=MASK, vocab_size=VOCAB, special_tokens_mask=torch.zeros(3, 64))
    with pytest.raises(TypeError, match="input_ids"):
        masking.mlm_mask(torch.rand(2, 4), mask_token_id=MASK, vocab_size=VOCAB, special_ids=SPECIAL)


# ---------------------------------------------------------------------------- agreement with transformers
@pytest.fixture(scope="module")
def bert_tokenizer():
    return AutoTokenizer.from_pretrained(models.minilm_path())


def test_same_maskable_positions_as_transformers_collator(bert_tokenizer):
    texts = ["The film was unwatchable.", "A masterpiece of slow cinema, beautifully shot!", "Meh."]
    enc = bert_tokenizer(texts, padding=True, return_special_tokens_mask=True, return_tensors="pt")
    ids, special = enc["input_ids"], enc["special_tokens_mask"].bool()
    hf = DataCollatorForLanguageModeling(bert_tokenizer, mlm_probability=1.0, seed=0)
    hf_batch = hf([{"input_ids": row} for row in ids.tolist()])  # the collator derives special tokens itself
    ours_inputs, ours_labels = masking.mlm_mask(ids, mask_token_id=bert_tokenizer.mask_token_id,
                                                vocab_size=len(bert_tokenizer),
                                                special_ids=bert_tokenizer.all_special_ids, mlm_probability=1.0)
    assert torch.equal(hf_batch["labels"] != -100, ours_labels != -100)
    assert torch.equal(ours_labels != -100, ~special & (enc["attention_mask"] == 1))
    # and with the tokenizer's own special_tokens_mask
    _, labels2 = masking.mlm_mask(ids, mask_token_id=bert_tokenizer.mask_token_id, vocab_size=len(bert_tokenizer),
                                  special_tokens_mask=special, mlm_probability=1.0)
    assert torch.equal(labels2, ours_labels)


def test_same_rates_as_transformers_collator(bert_tokenizer):
    ids = batch(400, 64)
    ids[ids >= 5] += 1000  # ordinary word pieces of the real vocabulary
    special_ids = bert_tokenizer.all_special_ids
    ids[:, 0], ids[:, -1] = bert_tokenizer.cls_token_id, bert_tokenizer.sep_token_id
    ids[200:, 47], ids[200:, 48:] = bert_tokenizer.sep_token_id, bert_tokenizer.pad_token_id
    hf = DataCollatorForLanguageModeling(bert_tokenizer, mlm_probability=0.15, seed=0)
    hf_batch = hf([{"input_ids": row} for row in ids.tolist()])
    ours = masking.mlm_mask(ids, mask_token_id=bert_tokenizer.mask_token_id, vocab_size=len(bert_tokenizer),
                            special_ids=special_ids, generator=gen())
    maskable = ~torch.isin(ids, torch.tensor(special_ids))
    assert maskable.sum().item() == 400 * 64 - 200 * 2 - 200 * 18
    for inputs, labels in [(hf_batch["input_ids"], hf_batch["labels"]), ours]:
        sel = labels != -100
        assert abs(sel.sum().item() / maskable.sum().item() - 0.15) < 0.02
        assert abs((inputs[sel] == bert_tokenizer.mask_token_id).float().mean().item() - 0.8) < 0.02
        assert not sel[torch.isin(ids, torch.tensor(special_ids))].any()


# ---------------------------------------------------------------------------- whole words
def test_wordpiece_word_ids():
    tokens = ["[CLS]", "un", "##watch", "##able", "film", "!", "[SEP]", "[PAD]"]
    assert masking.wordpiece_word_ids(tokens) == [None, 0, 0, 0, 1, 2, None, None]
    # explicit flags override the token strings
    assert masking.wordpiece_word_ids(["x", "[MASK]", "y"], special_tokens_mask=[1, 0, 0]) == [None, 0, 1]


def test_wordpiece_word_ids_without_boundary_raises():
    with pytest.raises(ValueError, match="no word"):
        masking.wordpiece_word_ids(["[CLS]", "##ing", "film"])
    with pytest.raises(ValueError, match="no word"):
        masking.wordpiece_word_ids(["##ing"])
    with pytest.raises(TypeError, match="tokens"):
        masking.wordpiece_word_ids("a string")
    with pytest.raises(ValueError, match="special_tokens_mask"):
        masking.wordpiece_word_ids(["a", "b"], special_tokens_mask=[0])


def test_whole_word_mask_selects_words_together_at_the_right_rate():
    g = torch.Generator().manual_seed(0)
    n, length = 300, 60
    ids = torch.randint(5, VOCAB, (n, length), generator=g)
    ids[:, 0], ids[:, -1] = 2, 3
    # words of 1-3 pieces
    word_ids = []
    for _ in range(n):
        row, w = [None], 0
        while len(row) < length - 1:
            row += [w] * min(int(torch.randint(1, 4, (1,), generator=g)), length - 1 - len(row))
            w += 1
        word_ids.append(row + [None])
    inputs, labels = masking.whole_word_mask(ids, word_ids, mask_token_id=MASK, vocab_size=VOCAB, generator=gen())
    selected = labels != -100
    words = torch.tensor([[-1 if w is None else w for w in r] for r in word_ids])
    for r in range(n):
        for w in words[r].unique():
            if w >= 0:
                flags = selected[r][words[r] == w]
                assert flags.all() or not flags.any(), "a word is masked entirely or not at all"
    assert not selected[:, [0, -1]].any()
    special = words < 0
    rate = rates(ids, inputs, labels, special)
    assert abs(rate["selected"] - 0.15) < 0.02 and abs(rate["mask"] - 0.8) < 0.02


def test_whole_word_mask_needs_word_ids(bert_tokenizer):
    ids = batch(2)
    with pytest.raises(ValueError, match="word_ids"):
        masking.whole_word_mask(ids, None, mask_token_id=MASK, vocab_size=VOCAB)
    with pytest.raises(ValueError, match="word_ids"):
        masking.whole_word_mask(ids, [[0] * 64], mask_token_id=MASK, vocab_size=VOCAB)
    # a fast tokenizer's word_ids work directly, for one 1-D sequence too
    enc = bert_tokenizer("unwatchable films")
    inputs, labels = masking.whole_word_mask(enc["input_ids"], enc.word_ids(), mask_token_id=bert_tokenizer.mask_token_id,
                                             vocab_size=len(bert_tokenizer), mlm_probability=1.0)
    assert labels[0] == labels[-1] == -100 and (labels[1:-1] != -100).all()


# ---------------------------------------------------------------------------- spans
def test_span_lengths_follow_the_truncated_geometric():
    lengths = masking.sample_span_lengths(200_000, p=0.2, max_span=10, generator=gen())
    assert lengths.min() >= 1 and lengths.max() <= 10
    q = 0.8
    pmf = np.array([0.2 * q ** (k - 1) for k in range(1, 11)]) / (1 - q**10)
    observed = np.bincount(lengths.numpy(), minlength=11)[1:] / len(lengths)
    assert np.abs(observed - pmf).max() < 0.005
    assert abs(lengths.float().mean().item() - 3.8) < 0.05  # SpanBERT's reported mean span length
    with pytest.raises(ValueError, match="p"):
        masking.sample_span_lengths(3, p=0)
    with pytest.raises(ValueError, match="max_span"):
        masking.sample_span_lengths(3, max_span=0)


def test_span_mask_budget_contiguity_and_span_level_decisions():
    ids = batch(300)
    special = torch.isin(ids, torch.tensor(SPECIAL))
    inputs, labels = masking.span_mask(ids, mask_token_id=MASK, vocab_size=VOCAB, special_ids=SPECIAL, generator=gen())
    selected = labels != -100
    per_row = selected.sum(1)
    budget = torch.round(0.15 * (~special).sum(1).double()).long()
    assert torch.equal(per_row, budget), "exactly round(p * n) tokens per sequence"
    assert not selected[special].any() and torch.equal(inputs[special], ids[special])
    # spans: the mean run length of selected positions is well above 1 (token masking gives ~1.2)
    runs = []
    for row in selected.tolist():
        n = 0
        for flag in row + [False]:
            if flag:
                n += 1
            elif n:
                runs.append(n)
                n = 0
    assert np.mean(runs) > 2.5
    r = rates(ids, inputs, labels, special)
    assert abs(r["mask"] - 0.8) < 0.04  # decisions per span: fewer independent draws, wider tolerance


def test_apply_replacement_groups_share_a_decision():
    ids = torch.arange(5, 45).reshape(1, 40)
    groups = torch.tensor([[0] * 20 + [1] * 20])
    for seed in range(20):
        inputs, labels = masking.apply_replacement(ids, torch.ones_like(ids, dtype=torch.bool), mask_token_id=MASK,
                                                   vocab_size=VOCAB, groups=groups, generator=gen(seed))
        for g in (0, 1):
            part = inputs[groups == g]
            kinds = {"mask" if t == MASK else "same" if t == o else "random"
                     for t, o in zip(part.tolist(), ids[groups == g].tolist())}
            assert len(kinds) == 1
    with pytest.raises(ValueError, match="selected"):
        masking.apply_replacement(ids, torch.ones(2, 2, dtype=torch.bool), mask_token_id=MASK, vocab_size=VOCAB)


# ---------------------------------------------------------------------------- causal LM
def test_causal_labels_and_shift_match_gpt2_loss():
    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=50, n_embd=16, n_layer=1, n_head=2, n_positions=16,
                                       bos_token_id=0, eos_token_id=0, pad_token_id=0)).eval()
    ids = torch.randint(1, 50, (3, 10))
    attention = torch.ones_like(ids)
    attention[1, 7:] = 0
    ids[1, 7:] = 0
    labels = masking.causal_lm_labels(ids, attention)
    assert (labels[1, 7:] == -100).all() and torch.equal(labels[0], ids[0])
    with torch.no_grad():
        out = model(input_ids=ids, attention_mask=attention, labels=labels)
    logits, targets = masking.shift_for_next_token(out.logits, labels)
    ours = torch.nn.functional.cross_entropy(logits.reshape(-1, 50), targets.reshape(-1), ignore_index=-100)
    assert torch.allclose(ours, out.loss, atol=1e-6)
    with pytest.raises(ValueError, match="attention_mask"):
        masking.causal_lm_labels(ids, attention[:, :5])
    with pytest.raises(ValueError, match="labels"):
        masking.shift_for_next_token(out.logits[:, :1], labels[:, :1])


def test_causal_labels_match_transformers_collator_without_mlm(bert_tokenizer):
    examples = [{"input_ids": bert_tokenizer(t)["input_ids"]} for t in ["A short one.", "A somewhat longer sentence here."]]
    hf = DataCollatorForLanguageModeling(bert_tokenizer, mlm=False)(examples)
    assert torch.equal(masking.causal_lm_labels(hf["input_ids"], hf["attention_mask"]), hf["labels"])


def test_causal_labels_keep_real_end_of_text_that_shares_the_pad_id():
    ids = torch.tensor([[7, 8, 0], [7, 0, 0]])  # id 0 is a real end-of-text in row 0, padding in row 1
    attention = torch.tensor([[1, 1, 1], [1, 1, 0]])
    assert masking.causal_lm_labels(ids, attention).tolist() == [[7, 8, 0], [7, 0, -100]]


# ---------------------------------------------------------------------------- NSP / SOP
DOCS = [["A1.", "A2.", "A3."], ["B1.", "B2."], ["C1."]]
MANY = [[f"d{d} s{i}" for i in range(d % 4)] for d in range(800)]  # 0-3 sentences each: 600 pairs


def where(sentence):
    doc, sent = sentence.split()
    return int(doc[1:]), int(sent[1:])


def test_nsp_pairs():
    pairs = masking.nsp_pairs(MANY, seed=0)
    assert len(pairs) == 600
    for p in pairs:
        (da, sa), (db, sb) = where(p.a), where(p.b)
        if p.label == 0:
            assert da == db and sb == sa + 1, "label 0: B is the sentence after A"
        else:
            assert da != db, "label 1: a random B from another document"
    assert abs(np.mean([p.label for p in pairs]) - 0.5) < 0.05
    assert all(p.label == 0 for p in masking.nsp_pairs(DOCS, random_prob=0.0))


def test_sop_pairs():
    pairs = masking.sop_pairs(MANY, seed=0)
    assert len(pairs) == 600
    for p in pairs:
        (da, sa), (db, sb) = where(p.a), where(p.b)
        assert da == db, "both sentences from the same document"
        assert sb == sa + 1 if p.label == 0 else sa == sb + 1
    assert abs(np.mean([p.label for p in pairs]) - 0.5) < 0.05


def test_sentence_pairs_bad_input():
    with pytest.raises(ValueError, match="two sentences"):
        masking.nsp_pairs([["one."], ["two."]])
    with pytest.raises(ValueError, match="two non-empty documents"):
        masking.nsp_pairs([["a.", "b."]])
    with pytest.raises(ValueError, match="random_prob"):
        masking.nsp_pairs(DOCS, random_prob=2)
    with pytest.raises(TypeError, match="documents"):
        masking.sop_pairs(["a. b.", "c. d."])
    with pytest.raises(ValueError, match="swap_prob"):
        masking.sop_pairs(DOCS, swap_prob=-1)


# ---------------------------------------------------------------------------- MAE
def test_patchify_matches_vitmae_and_round_trips():
    cfg = ViTMAEConfig(image_size=32, patch_size=8, num_channels=3, hidden_size=16, num_hidden_layers=1,
                       num_attention_heads=2, intermediate_size=32, decoder_hidden_size=16,
                       decoder_num_hidden_layers=1, decoder_num_attention_heads=2, decoder_intermediate_size=32)
    images = torch.randn(2, 3, 32, 32)
    ref = ViTMAEForPreTraining(cfg).patchify(images)
    ours = masking.patchify(images, 8)
    assert ours.shape == (2, 16, 192) and torch.equal(ours, ref)
    assert torch.equal(masking.unpatchify(ours, 8, 32, 32), images)
    with pytest.raises(ValueError, match="divisible"):
        masking.patchify(torch.randn(1, 3, 30, 32), 8)
    with pytest.raises(ValueError, match="patches"):
        masking.unpatchify(ours, 8, 32, 40)


def test_random_patch_masking_matches_vitmae():
    cfg = ViTMAEConfig(image_size=32, patch_size=8, hidden_size=16, mask_ratio=0.75)
    emb = ViTMAEEmbeddings(cfg)
    noise = torch.rand(4, 16, generator=gen())
    seq = torch.randn(4, 16, 5)
    ref_kept, ref_mask, ref_restore = emb.random_masking(seq, noise=noise)
    ours = masking.random_patch_masking(4, 16, 0.75, noise=noise)
    assert torch.equal(ours.mask, ref_mask) and torch.equal(ours.ids_restore, ref_restore)
    kept = torch.gather(seq, 1, ours.ids_keep[..., None].expand(-1, -1, 5))
    assert torch.equal(kept, ref_kept)


def test_random_patch_masking_invariants():
    m = masking.random_patch_masking(64, 196, 0.75, generator=gen())
    assert m.ids_keep.shape == (64, 49) and m.mask.shape == (64, 196)
    assert (m.mask.sum(1) == 147).all(), "75% of 196 patches hidden in every image"
    kept_flags = torch.zeros(64, 196).scatter(1, m.ids_keep, 1.0)
    assert torch.equal(kept_flags, 1 - m.mask), "ids_keep are exactly the unmasked patches"
    shuffled = torch.argsort(m.ids_restore, 1)  # = ids_shuffle
    assert torch.equal(torch.gather(shuffled, 1, m.ids_restore), torch.arange(196).expand(64, -1))
    # every patch is equally likely to be hidden
    assert abs(m.mask.mean(0).std().item()) < 0.1
    for kw, name in [(dict(mask_ratio=1.0), "mask_ratio"), (dict(batch_size=0), "batch_size"),
                     (dict(noise=torch.rand(1, 3)), "noise")]:
        args = dict(batch_size=1, num_patches=4) | kw
        with pytest.raises(ValueError, match=name):
            masking.random_patch_masking(**args)


# ---------------------------------------------------------------------------- collator
@pytest.mark.parametrize("strategy", masking.STRATEGIES)
def test_collator(bert_tokenizer, strategy):
    texts = ["An unwatchable, overlong film.", "Beautifully shot and acted; I loved every minute of it."] * 20
    examples = [{"input_ids": bert_tokenizer(t)["input_ids"]} for t in texts]
    out = masking.MLMCollator(bert_tokenizer, strategy=strategy, mlm_probability=0.3, seed=0)(examples)
    assert set(out) == {"input_ids", "attention_mask", "labels"}
    assert out["input_ids"].shape == out["labels"].shape == out["attention_mask"].shape
    pad = out["attention_mask"] == 0
    assert (out["labels"][pad] == -100).all() and (out["input_ids"][pad] == bert_tokenizer.pad_token_id).all()
    assert (out["labels"][:, 0] == -100).all()
    sel = (out["labels"] != -100).sum().item() / (out["attention_mask"].sum().item() - 2 * len(texts))
    assert 0.15 < sel < 0.45
    with pytest.raises(ValueError, match="strategy"):
        masking.MLMCollator(bert_tokenizer, strategy="pixels")


# ---------------------------------------------------------------------------- bad inputs (issue 16)
# Every class of bad input gets an error that names the argument; none is silently accepted.
MK = dict(mask_token_id=MASK, vocab_size=VOCAB)
ROW = torch.tensor([2, 10, 11, 12, 3])
WORDS = [None, 0, 1, 1, None]
BAD_NUMBERS = [(True, TypeError), ("0.15", TypeError), (None, TypeError), ([0.1], TypeError),
               (math.nan, ValueError), (math.inf, ValueError), (-math.inf, ValueError), (-0.1, ValueError),
               (1.5, ValueError)]
BAD_COUNTS = [(True, TypeError), (False, TypeError), ("3", TypeError), (2.0, TypeError), (None, TypeError),
              (math.nan, TypeError), (-1, ValueError)]


def _shape(ids):
    return tuple(ids.shape) if isinstance(ids, torch.Tensor) else (len(ids),) if isinstance(ids, list) else (5,)


def _strategies():
    """Each text strategy as ``f(input_ids, **kwargs)`` with valid defaults for the other arguments."""
    return {
        "mlm_mask": lambda ids, **kw: masking.mlm_mask(ids, **({"special_ids": [2, 3]} | MK | kw)),
        "whole_word_mask": lambda ids, **kw: masking.whole_word_mask(
            ids, kw.pop("word_ids", WORDS if len(_shape(ids)) == 1 else [WORDS] * _shape(ids)[0]), **(MK | kw)),
        "span_mask": lambda ids, **kw: masking.span_mask(ids, **({"special_ids": [2, 3]} | MK | kw)),
        "apply_replacement": lambda ids, **kw: masking.apply_replacement(
            ids, kw.pop("selected", torch.ones(_shape(ids), dtype=torch.bool)), **(MK | kw)),
    }


STRATEGY_NAMES = list(_strategies())


@pytest.mark.parametrize("fn", STRATEGY_NAMES)
@pytest.mark.parametrize("ids", [[2, -5, 99999, 3], [2, -1, 10, 3], [2, VOCAB, 10, 3], [2, 10**12, 10, 3]])
def test_ids_outside_the_vocabulary_are_refused(fn, ids):
    ids = torch.tensor(ids)
    kw = {"word_ids": [None, 0, 1, None]} if fn == "whole_word_mask" else {}
    with pytest.raises(ValueError, match="input_ids"):
        _strategies()[fn](ids, **kw)


@pytest.mark.parametrize("fn", STRATEGY_NAMES)
@pytest.mark.parametrize("ids,exc", [
    (["a", "b", "c", "d", "e"], TypeError), (torch.tensor([2.0, 10, 11, 12, 3]), TypeError),
    ([2.0, 10.5, 11, 12, 3], TypeError), (torch.ones(5, dtype=torch.bool), TypeError), (None, TypeError),
    (torch.zeros(1, 1, 5, dtype=torch.long), ValueError), (object(), TypeError),
])
def test_ids_that_are_not_integer_ids_are_refused(fn, ids, exc):
    with pytest.raises(exc, match="input_ids"):
        _strategies()[fn](ids)


@pytest.mark.parametrize("fn", STRATEGY_NAMES)
@pytest.mark.parametrize("mask_token_id,exc", [(-7, ValueError), (-1, ValueError), (VOCAB, ValueError),
                                               (10**12, ValueError), (True, TypeError), (4.0, TypeError),
                                               ("4", TypeError), (None, TypeError)])
def test_mask_token_id_must_be_an_id_of_the_vocabulary(fn, mask_token_id, exc):
    with pytest.raises(exc, match="mask_token_id"):
        _strategies()[fn](ROW, mask_token_id=mask_token_id)


@pytest.mark.parametrize("fn", STRATEGY_NAMES)
@pytest.mark.parametrize("vocab_size,exc", [(True, TypeError), (0, ValueError), (-3, ValueError),
                                            ("1000", TypeError), (1000.0, TypeError), (None, TypeError)])
def test_vocab_size_must_be_a_positive_int(fn, vocab_size, exc):
    with pytest.raises(exc, match="vocab_size"):
        _strategies()[fn](ROW, vocab_size=vocab_size)


@pytest.mark.parametrize("fn", ["mlm_mask", "whole_word_mask", "span_mask"])
@pytest.mark.parametrize("value,exc", BAD_NUMBERS)
def test_mlm_probability_bad_values(fn, value, exc):
    with pytest.raises(exc, match="mlm_probability"):
        _strategies()[fn](ROW, mlm_probability=value)


@pytest.mark.parametrize("fn", STRATEGY_NAMES)
@pytest.mark.parametrize("arg", ["mask_replace_prob", "random_replace_prob"])
@pytest.mark.parametrize("value,exc", BAD_NUMBERS)
def test_replacement_probabilities_bad_values(fn, arg, value, exc):
    with pytest.raises(exc, match=arg):
        _strategies()[fn](ROW, **{arg: value})


@pytest.mark.parametrize("fn", ["mlm_mask", "span_mask"])
@pytest.mark.parametrize("special_ids,exc", [([2, -1], ValueError), ([2, VOCAB], ValueError), ([2.0, 3.0], TypeError),
                                             (["[CLS]"], TypeError), (5, TypeError), ([[2], [3, 4]], TypeError)])
def test_special_ids_are_checked(fn, special_ids, exc):
    with pytest.raises(exc, match="special_ids"):
        _strategies()[fn](ROW, special_ids=special_ids)


@pytest.mark.parametrize("fn", ["mlm_mask", "span_mask"])
@pytest.mark.parametrize("mask,exc", [([1, 0, 2, 0, 1], ValueError), ([1.0, math.nan, 0, 0, 1], ValueError),
                                      ([1, 0, 0], ValueError), (["y", "n", "n", "n", "y"], TypeError)])
def test_special_tokens_mask_must_be_0_1_flags_of_the_right_shape(fn, mask, exc):
    with pytest.raises(exc, match="special_tokens_mask"):
        _strategies()[fn](ROW, special_tokens_mask=mask)


def test_empty_special_ids_mean_no_special_token():
    _, labels = masking.mlm_mask(ROW, special_ids=[], mlm_probability=1.0, **MK)
    assert (labels == ROW).all()


@pytest.mark.parametrize("word_ids,exc,where", [
    ([None, 0, 1.7, 1, None], TypeError, r"word_ids\[2\]"), ([None, -5, 1, 1, None], ValueError, r"word_ids\[1\]"),
    ([None, 0, "a", 1, None], TypeError, r"word_ids\[2\]"), ([None, True, 1, 1, None], TypeError, r"word_ids\[1\]"),
    ([None, 0, math.nan, 1, None], TypeError, r"word_ids\[2\]"),
    ([None, 0, 10**9, 1, None], ValueError, r"word_ids\[2\]"), ([None, 0, 10**12, 1, None], ValueError, r"word_ids\[2\]"),
    ([None, 0, 5, 1, None], ValueError, r"word_ids\[2\]"),  # a word id can never reach the sequence length
    (torch.tensor([-1, 0, 1, 1, -1]), TypeError, "word_ids"), (np.array([-1, 0, 1, 1, -1]), ValueError, r"word_ids\[0\]"),
    ("abcde", TypeError, "word_ids"), (7, TypeError, "word_ids"),
    ([None, 0, 1], ValueError, "word_ids"), ([[None, 0, 1, 1, None]] * 2, ValueError, "word_ids"),
    ([None, [0], 1, 1, None], ValueError, "word_ids"),
])
def test_whole_word_mask_bad_word_ids(word_ids, exc, where):
    with pytest.raises(exc, match=where):
        masking.whole_word_mask(ROW, word_ids, **MK)


def test_whole_word_mask_names_the_bad_row():
    with pytest.raises(TypeError, match=r"word_ids\[1\]"):
        masking.whole_word_mask(ROW.repeat(2, 1), [WORDS, None], **MK)
    with pytest.raises(ValueError, match=r"word_ids\[1\]\[2\]"):
        masking.whole_word_mask(ROW.repeat(2, 1), [WORDS, [None, 0, 7, 1, None]], **MK)


def test_huge_word_id_is_refused_before_anything_is_allocated():
    import resource

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ValueError, match="word_ids"):
        masking.whole_word_mask(ROW.repeat(2, 1), [WORDS, [None, 0, 10**9, 1, None]], **MK)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000  # KiB: far below 4 GB


@pytest.mark.parametrize("groups,exc", [([0, 0, 10**9, 1, 1], ValueError), ([0, 0, 5, 1, 1], ValueError),
                                        ([0, -2, 0, 1, 1], ValueError), ([0.0, 0, 1, 1, 1], TypeError),
                                        ([True, False, True, True, True], TypeError), ([0, 1], ValueError),
                                        (["a"] * 5, TypeError)])
def test_apply_replacement_bad_groups(groups, exc):
    with pytest.raises(exc, match="groups"):
        masking.apply_replacement(ROW, torch.ones(5, dtype=torch.bool), groups=groups, **MK)


@pytest.mark.parametrize("selected,exc", [([1, 1, 2, 0, 0], ValueError), ([1, 1], ValueError), ("yes", TypeError)])
def test_apply_replacement_bad_selected(selected, exc):
    with pytest.raises(exc, match="selected"):
        masking.apply_replacement(ROW, selected, **MK)


@pytest.mark.parametrize("value,exc", [(0, ValueError), (0.0, ValueError), (-0.2, ValueError), (1.2, ValueError),
                                       (math.nan, ValueError), (math.inf, ValueError), ("0.2", TypeError),
                                       (True, TypeError), (None, TypeError)])
def test_span_geometric_p_is_named(value, exc):
    with pytest.raises(exc, match="geometric_p"):
        masking.span_mask(ROW, special_ids=[2, 3], geometric_p=value, **MK)
    with pytest.raises(exc, match=r"^p:"):
        masking.sample_span_lengths(3, p=value)


@pytest.mark.parametrize("value,exc", BAD_COUNTS + [(0, ValueError)])
def test_span_counts(value, exc):
    with pytest.raises(exc, match="max_span"):
        masking.span_mask(ROW, special_ids=[2, 3], max_span=value, **MK)
    with pytest.raises(exc, match="max_span"):
        masking.sample_span_lengths(3, max_span=value)


@pytest.mark.parametrize("value,exc", BAD_COUNTS)
def test_sample_span_lengths_n(value, exc):
    with pytest.raises(exc, match="n:"):
        masking.sample_span_lengths(value)


def test_span_mask_with_nothing_to_mask_returns_the_input():
    inputs, labels = masking.span_mask(ROW, special_ids=[2, 3], mlm_probability=0.0, **MK)
    assert torch.equal(inputs, ROW) and (labels == -100).all()


@pytest.mark.parametrize("arg", ["batch_size", "num_patches"])
@pytest.mark.parametrize("value,exc", BAD_COUNTS + [(0, ValueError)])
def test_random_patch_masking_counts(arg, value, exc):
    args = dict(batch_size=2, num_patches=16) | {arg: value}
    with pytest.raises(exc, match=arg):
        masking.random_patch_masking(**args)


@pytest.mark.parametrize("value,exc", BAD_NUMBERS[:-2] + [(1.0, ValueError), (-0.5, ValueError)])
def test_random_patch_masking_ratio(value, exc):
    with pytest.raises(exc, match="mask_ratio"):
        masking.random_patch_masking(2, 16, value)


@pytest.mark.parametrize("noise,exc", [(torch.zeros(2, 16, dtype=torch.long), TypeError), ([[0.5] * 16] * 2, TypeError),
                                       (torch.rand(2, 15), ValueError)])
def test_random_patch_masking_noise(noise, exc):
    with pytest.raises(exc, match="noise"):
        masking.random_patch_masking(2, 16, noise=noise)


@pytest.mark.parametrize("value,exc", BAD_COUNTS + [(0, ValueError)])
def test_patch_size(value, exc):
    with pytest.raises(exc, match="patch_size"):
        masking.patchify(torch.zeros(1, 3, 8, 8), value)
    with pytest.raises(exc, match="patch_size"):
        masking.unpatchify(torch.zeros(1, 4, 48), value, 8, 8)


def test_patchify_needs_a_tensor():
    with pytest.raises(TypeError, match="images"):
        masking.patchify(np.zeros((1, 3, 8, 8)), 4)
    with pytest.raises(TypeError, match="height"):
        masking.unpatchify(torch.zeros(1, 4, 48), 4, 8.0, 8)


@pytest.mark.parametrize("tokens", [None, 5, "[CLS] film", ["[CLS]", 3, "film"], [b"film"]])
def test_wordpiece_word_ids_bad_tokens(tokens):
    with pytest.raises(TypeError, match="tokens"):
        masking.wordpiece_word_ids(tokens)


@pytest.mark.parametrize("flags,exc", [([1, 0, 2], ValueError), ([1, 0], ValueError), (["y", "n", "n"], TypeError)])
def test_wordpiece_word_ids_bad_flags(flags, exc):
    with pytest.raises(exc, match="special_tokens_mask"):
        masking.wordpiece_word_ids(["[CLS]", "film", "[SEP]"], special_tokens_mask=flags)


@pytest.mark.parametrize("ids,mask,exc,name", [
    ([7, -1, 0], None, ValueError, "input_ids"), ([7.5, 8, 0], None, TypeError, "input_ids"),
    ([7, 8, 0], [1, 2, 0], ValueError, "attention_mask"), ([7, 8, 0], [1, 1], ValueError, "attention_mask"),
    ([7, 8, 0], "110", TypeError, "attention_mask"),
])
def test_causal_lm_labels_bad_inputs(ids, mask, exc, name):
    with pytest.raises(exc, match=name):
        masking.causal_lm_labels(ids, mask)


@pytest.mark.parametrize("logits,labels,exc,name", [
    (torch.zeros(1, 3, 4), torch.tensor([[0, 9, 1]]), ValueError, "labels"),
    (torch.zeros(1, 3, 4), torch.tensor([[0, -5, 1]]), ValueError, "labels"),
    (torch.zeros(1, 3, 4), torch.tensor([[0.0, 1, 1]]), TypeError, "labels"),
    (torch.zeros(1, 3, 4, dtype=torch.long), torch.tensor([[0, 1, 1]]), TypeError, "logits"),
    ([[[0.0] * 4] * 3], torch.tensor([[0, 1, 1]]), TypeError, "logits"),
])
def test_shift_for_next_token_bad_inputs(logits, labels, exc, name):
    with pytest.raises(exc, match=name):
        masking.shift_for_next_token(logits, labels)


@pytest.mark.parametrize("fn,arg", [(masking.nsp_pairs, "random_prob"), (masking.sop_pairs, "swap_prob")])
@pytest.mark.parametrize("value,exc", BAD_NUMBERS)
def test_sentence_pair_probabilities(fn, arg, value, exc):
    with pytest.raises(exc, match=arg):
        fn(DOCS, **{arg: value})


@pytest.mark.parametrize("fn", [masking.nsp_pairs, masking.sop_pairs])
@pytest.mark.parametrize("documents,seed,name", [
    (None, 0, "documents"), (5, 0, "documents"), ("A1. A2.", 0, "documents"), ([["A1.", 3], ["B1."]], 0, r"documents\[0\]"),
    (DOCS, "0", "seed"), (DOCS, True, "seed"), (DOCS, 1.5, "seed"),
])
def test_sentence_pairs_bad_documents_and_seed(fn, documents, seed, name):
    with pytest.raises(TypeError, match=name):
        fn(documents, seed=seed)


@pytest.mark.parametrize("examples,exc,name", [
    ([], ValueError, "examples"), ({"input_ids": [2, 3]}, TypeError, "examples"), (None, TypeError, "examples"),
    ([[2, 3]], TypeError, r"examples\[0\]"), ([{"ids": [2, 3]}], TypeError, r"examples\[0\]"),
    ([{"input_ids": [101, 10**9, 102]}], ValueError, r"examples\[0\]\['input_ids'\]"),
    ([{"input_ids": [101, 2000, 102]}, {"input_ids": [101, -3, 102]}], ValueError, r"examples\[1\]"),
    ([{"input_ids": [101.0, 2000.5, 102.0]}], TypeError, r"examples\[0\]"),
    ([{"input_ids": ["[CLS]", "film"]}], TypeError, r"examples\[0\]"),
])
def test_collator_bad_batches(bert_tokenizer, examples, exc, name):
    for strategy in masking.STRATEGIES:
        with pytest.raises(exc, match=name):
            masking.MLMCollator(bert_tokenizer, strategy=strategy, seed=0)(examples)


@pytest.mark.parametrize("kw,exc,name", [
    (dict(mlm_probability=math.nan), ValueError, "mlm_probability"), (dict(mlm_probability="0.15"), TypeError, "mlm_probability"),
    (dict(seed=True), TypeError, "seed"), (dict(seed=-1), ValueError, "seed"), (dict(seed="0"), TypeError, "seed"),
    (dict(strategy=None), ValueError, "strategy"),
])
def test_collator_bad_arguments(bert_tokenizer, kw, exc, name):
    with pytest.raises(exc, match=name):
        masking.MLMCollator(bert_tokenizer, **kw)


def test_collator_gives_the_same_batches_as_the_public_functions(bert_tokenizer):
    """The collator calls the unchecked cores; the result must equal the public functions' on the same draws."""
    texts = ["An unwatchable, overlong film.", "Beautifully shot and acted."]
    examples = [{"input_ids": bert_tokenizer(t)["input_ids"]} for t in texts]
    common = dict(mask_token_id=bert_tokenizer.mask_token_id, vocab_size=len(bert_tokenizer), mlm_probability=0.5)
    for strategy in masking.STRATEGIES:
        out = masking.MLMCollator(bert_tokenizer, strategy=strategy, mlm_probability=0.5, seed=3)(examples)
        ids = torch.where(out["attention_mask"] == 1, out["labels"].clamp(min=0), 0)
        ids = torch.where(out["labels"] == -100, out["input_ids"], ids)  # the original ids
        special = torch.isin(ids, torch.tensor(bert_tokenizer.all_special_ids)) | (out["attention_mask"] == 0)
        g = torch.Generator().manual_seed(3)
        if strategy == "token":
            ref = masking.mlm_mask(ids, special_tokens_mask=special, generator=g, **common)
        elif strategy == "span":
            ref = masking.span_mask(ids, special_tokens_mask=special, generator=g, **common)
        else:
            words = [masking.wordpiece_word_ids(bert_tokenizer.convert_ids_to_tokens(r), special_tokens_mask=f)
                     for r, f in zip(ids.tolist(), special.tolist())]
            ref = masking.whole_word_mask(ids, words, generator=g, **common)
        assert torch.equal(ref[0], out["input_ids"]) and torch.equal(ref[1], out["labels"])


@pytest.mark.parametrize("noise,error", [(torch.full((2, 4), math.nan), ValueError),
                                         (torch.tensor([[0.1, math.inf, 0.2, 0.3]] * 2), ValueError),
                                         (torch.tensor([[0.1, -math.inf, 0.2, 0.3]] * 2), ValueError),
                                         (torch.zeros(2, 4, dtype=torch.long), TypeError),
                                         ([[0.1] * 4] * 2, TypeError), (torch.zeros(2, 3), ValueError)])
def test_random_patch_masking_bad_noise_is_named(noise, error):
    with pytest.raises(error, match="noise"):
        masking.random_patch_masking(2, 4, noise=noise)
