import math

import numpy as np
import pytest
import torch
from datasets import Dataset, DatasetDict

from companion import metrics, models, trainer as T, translation as tr
from companion.data import train_wordpiece_tokenizer


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """The models here are tiny: one thread is faster than two (no synchronisation), and much
    faster when other processes share the cores."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# ---------------------------------------------------------------------------- character vocabulary
def test_char_tokenizer_ids_roundtrip_and_unknowns():
    tok = tr.train_char_tokenizer(["你好。", "你们好！", "我想念Mary 的厨艺。"])
    assert [tok.convert_tokens_to_ids(t) for t in tr.CHAR_SPECIALS] == [0, 1, 2, 3]
    assert (tok.pad_token_id, tok.unk_token_id, tok.bos_token_id, tok.eos_token_id) == (0, 1, 2, 3)
    # most frequent first (你, 好, 。 twice each), ties by code point
    assert tok.convert_ids_to_tokens([4, 5, 6, 7]) == ["。", "你", "好", " "]
    ids = tok("你们好。")["input_ids"]
    assert len(ids) == 5 and ids[-1] == 3
    assert tok.decode(ids, skip_special_tokens=True) == "你们好。"
    assert tok.decode(tok("我想念Mary 的厨艺。")["input_ids"], skip_special_tokens=True) == "我想念Mary 的厨艺。"
    assert tok("猫")["input_ids"] == [1, 3]
    rare = tr.train_char_tokenizer(["你好", "你"], min_frequency=2)
    assert rare("好")["input_ids"][0] == rare.unk_token_id


def test_char_tokenizer_errors():
    with pytest.raises(ValueError, match="texts"):
        tr.train_char_tokenizer([])
    with pytest.raises(ValueError, match="min_frequency"):
        tr.train_char_tokenizer(["a"], min_frequency=0)


# ---------------------------------------------------------------------------- models
ENGLISH = ["He ran.", "We try.", "Why me?", "I am happy to see you today.", "Tom is a good boy.", "Stop!"] * 4
CHINESE = ["他跑了。", "我们来试试。", "为什么是我？", "今天我很高兴见到你。", "汤姆是个好孩子。", "住手！"] * 4


@pytest.fixture(scope="module")
def tiny():
    src = train_wordpiece_tokenizer(ENGLISH, vocab_size=120)
    tgt = tr.train_char_tokenizer(CHINESE)
    model = tr.build_encoder_decoder("tiny-random-bert", tgt, encoder_vocab_size=len(src), num_layers=1,
                                     hidden_size=32, num_heads=2, intermediate_size=64, max_new_tokens=12)
    return model, src, tgt


def test_decoder_config_validation():
    cfg = tr.decoder_config(100)
    assert cfg.is_decoder and cfg.add_cross_attention and cfg.pad_token_id == 0
    with pytest.raises(ValueError, match="num_heads"):
        tr.decoder_config(100, hidden_size=30, num_heads=4)
    with pytest.raises(ValueError, match="vocab_size"):
        tr.decoder_config(0)


def test_build_encoder_decoder_ids_and_projection(tiny):
    model, src, tgt = tiny
    assert model.config.decoder_start_token_id == 2 == model.generation_config.decoder_start_token_id
    assert model.generation_config.eos_token_id == 3 and model.generation_config.pad_token_id == 0
    assert model.decoder.config.vocab_size == len(tgt)
    assert not hasattr(model, "enc_to_dec_proj")  # both hidden sizes are 32
    with pytest.raises(ValueError, match="encoder_vocab_size"):
        tr.build_encoder_decoder("tiny-random-bert", tgt)
    bad = train_wordpiece_tokenizer(ENGLISH, vocab_size=120)
    with pytest.raises(ValueError, match="target_tokenizer"):
        tr.build_encoder_decoder("tiny-random-bert", bad, encoder_vocab_size=10)


def test_warm_start_keeps_pretrained_encoder_weights():
    from transformers import AutoModel

    tgt = tr.train_char_tokenizer(CHINESE)
    reference = AutoModel.from_pretrained(models.model_location("minilm"), add_pooling_layer=False).state_dict()
    warm = tr.build_encoder_decoder("minilm", tgt, pretrained=True, num_layers=1)
    cold = tr.build_encoder_decoder("minilm", tgt, pretrained=False, num_layers=1)
    for name in ("embeddings.word_embeddings.weight", "encoder.layer.5.attention.self.query.weight"):
        assert torch.equal(warm.encoder.state_dict()[name], reference[name])
        assert not torch.allclose(cold.encoder.state_dict()[name], reference[name])
    assert hasattr(warm, "enc_to_dec_proj")  # 384 -> 256
    # same architecture: identical parameter names and shapes
    assert {k: v.shape for k, v in warm.state_dict().items()} == {k: v.shape for k, v in cold.state_dict().items()}


def test_encode_pairs_and_collator_shift_labels(tiny):
    from transformers import DataCollatorForSeq2Seq

    model, src, tgt = tiny
    ds = Dataset.from_dict({"en": ENGLISH[:3], "zh": CHINESE[:3]})
    enc = tr.encode_pairs(ds, src, target_tokenizer=tgt, max_target_length=6)
    assert enc.column_names == ["input_ids", "attention_mask", "labels", "length"]
    assert enc[0]["labels"] == tgt("他跑了。")["input_ids"]
    assert enc[1]["labels"] == tgt("我们来试试。")["input_ids"][:5] + [3]  # truncated, still ends with [EOS]
    batch = DataCollatorForSeq2Seq(src, model=model, label_pad_token_id=-100)([enc[i] for i in range(3)])
    labels, dec_in = batch["labels"], batch["decoder_input_ids"]
    assert (labels == -100).any()  # the shorter targets are padded with -100
    assert torch.all(dec_in[:, 0] == 2)  # decoder input = [BOS] + labels shifted right
    assert torch.equal(dec_in[:, 1:], torch.where(labels[:, :-1] == -100, 0, labels[:, :-1]))
    with pytest.raises(ValueError, match="target"):
        tr.encode_pairs(ds, src, target="fr")
    with pytest.raises(ValueError, match="max_source_length"):
        tr.encode_pairs(ds, src, max_source_length=0)


def test_seq2seq_trainer_learns_and_predicts_with_generate(tmp_path):
    src = train_wordpiece_tokenizer(ENGLISH, vocab_size=120)
    tgt = tr.train_char_tokenizer(CHINESE)
    model = tr.build_encoder_decoder("tiny-random-bert", tgt, encoder_vocab_size=len(src), num_layers=1,
                                     hidden_size=32, num_heads=2, intermediate_size=64, max_new_tokens=12)
    ds = Dataset.from_dict({"en": ENGLISH[:6], "zh": CHINESE[:6]})
    enc = tr.encode_pairs(ds, src, target_tokenizer=tgt)
    args = T.training_arguments(tmp_path, seq2seq=True, learning_rate=3e-3, batch_size=6, max_steps=60, warmup=0,
                                generation_max_length=12, logging_steps=10)
    trainer = T.make_trainer(model, args, enc, enc, src, compute_metrics=tr.bleu_compute_metrics(tgt))
    trainer.train()
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    assert losses[-1] < 0.5 * losses[0]
    assert tr.train_steps_per_second(trainer.state.log_history) > 0
    out = trainer.evaluate()
    assert {"eval_bleu", "eval_chrf"} <= set(out) and 0 <= out["eval_bleu"] <= 100
    # the hook agrees with translate() + corpus BLEU on the same (greedy) outputs
    hyps = tr.translate(model, src, ENGLISH[:6], target_tokenizer=tgt, max_new_tokens=12)
    assert out["eval_bleu"] == pytest.approx(metrics.corpus_bleu(hyps, CHINESE[:6]).score, abs=1e-6)


def test_guarded_seq2seq_trainer_stops_on_nan(tmp_path):
    src = train_wordpiece_tokenizer(ENGLISH, vocab_size=120)
    tgt = tr.train_char_tokenizer(CHINESE)
    model = tr.build_encoder_decoder("tiny-random-bert", tgt, encoder_vocab_size=len(src), num_layers=1,
                                     hidden_size=32, num_heads=2, intermediate_size=64)
    with torch.no_grad():
        model.decoder.cls.predictions.decoder.weight.fill_(float("nan"))
    enc = tr.encode_pairs(Dataset.from_dict({"en": ENGLISH[:4], "zh": CHINESE[:4]}), src, target_tokenizer=tgt)
    args = T.training_arguments(tmp_path, seq2seq=True, learning_rate=1e-3, batch_size=4, max_steps=3)
    with pytest.raises(FloatingPointError, match="step 1"):
        T.make_trainer(model, args, enc, tokenizer=src).train()


def test_translate_batches_by_length_but_keeps_order(tiny):
    model, src, tgt = tiny
    texts = ["Why me?", "I am happy to see you today.", "Stop!"]
    batched = tr.translate(model, src, texts, target_tokenizer=tgt, batch_size=2, max_new_tokens=8)
    single = [tr.translate(model, src, [t], target_tokenizer=tgt, max_new_tokens=8)[0] for t in texts]
    assert batched == single
    beams = tr.translate(model, src, texts, target_tokenizer=tgt, num_beams=3, max_new_tokens=8)
    assert len(beams) == 3 and all(isinstance(b, str) for b in beams)
    with pytest.raises(TypeError, match="texts"):
        tr.translate(model, src, "Stop!", target_tokenizer=tgt)


def test_repeated_ngram_share():
    assert tr.repeated_ngram_share(["我我我", "你好", "我不知道我不知道"], n=2) == pytest.approx(2 / 3)
    assert tr.repeated_ngram_share(["谢谢你", "你好"], n=1) == pytest.approx(1 / 2)
    assert tr.repeated_ngram_share(["谢谢你", "你好"], n=2) == 0.0
    with pytest.raises(ValueError, match="n"):
        tr.repeated_ngram_share(["a"], n=0)
    with pytest.raises(TypeError, match="texts"):
        tr.repeated_ngram_share("我我")


def test_length_bucket():
    texts = ["Hi.", "one two three four", "a b c d e", "a b c d e f g h", "a " * 11 + "end"]
    assert tr.length_bucket(texts) == ["1-4", "1-4", "5-7", "8-10", "11+"]
    assert tr.length_bucket(["a", "a b"], edges=(1,)) == ["1", "2+"]
    with pytest.raises(ValueError, match="edges"):
        tr.length_bucket(texts, edges=(5, 3))
    assert tr.length_bucket([]) == []


@pytest.mark.parametrize("texts,edges,error,name", [
    ("one two three", (4, 7, 10), TypeError, "texts"), (None, (4, 7, 10), TypeError, "texts"),
    (["ok", 3], (4, 7, 10), TypeError, "texts"), ([b"bytes"], (4, 7, 10), TypeError, "texts"),
    (["a"], (), ValueError, "edges"), (["a"], (3, 3), ValueError, "edges"), (["a"], (0, 4), ValueError, "edges"),
    (["a"], (2.5,), TypeError, "edges"), (["a"], (True,), TypeError, "edges"), (["a"], ("4",), TypeError, "edges"),
])
def test_length_bucket_bad_inputs_are_named(texts, edges, error, name):
    with pytest.raises(error, match=rf"^{name}\b"):
        tr.length_bucket(texts, edges=edges)


@pytest.mark.parametrize("kw,error,name", [
    (dict(max_source_length=0), ValueError, "max_source_length"), (dict(max_target_length=-1), ValueError, "max_target_length"),
    (dict(max_source_length=True), TypeError, "max_source_length"), (dict(max_target_length=8.0), TypeError, "max_target_length"),
    (dict(source="de"), ValueError, "source"), (dict(target="fr"), ValueError, "target"),
])
def test_encode_pairs_bad_arguments_are_named(tiny, kw, error, name):
    _, src, tgt = tiny
    ds = Dataset.from_dict({"en": ENGLISH[:2], "zh": CHINESE[:2]})
    with pytest.raises(error, match=rf"^{name}\b"):
        tr.encode_pairs(ds, src, target_tokenizer=tgt, **kw)


# ---------------------------------------------------------------------------- MarianMT
@pytest.fixture(scope="module")
def marian(tmp_path_factory):
    return tr.tiny_marian(ENGLISH, CHINESE, workdir=tmp_path_factory.mktemp("marian"))


def test_tiny_marian_target_token_and_text_target(marian):
    model, tok = marian
    ids = tok(tr.MARIAN_TARGET_TOKEN + " Why me?")["input_ids"]
    assert tok.convert_ids_to_tokens(ids[0]) == tr.MARIAN_TARGET_TOKEN and ids[-1] == tok.eos_token_id
    without = tok("Why me?")["input_ids"]
    assert ids[1:] == without  # the token is one extra id in front, nothing else changes
    target = tok(text_target="为什么是我")["input_ids"]
    assert tok.decode(target, skip_special_tokens=True) == "为什么是我"
    assert target != tok("为什么是我")["input_ids"]  # the source vocabulary would split it differently


def test_encode_pairs_text_target_with_prefix(marian):
    _, tok = marian
    ds = DatasetDict({"train": Dataset.from_dict({"en": ENGLISH[:2], "zh": CHINESE[:2]})})
    enc = tr.encode_pairs(ds, tok, prefix=tr.MARIAN_TARGET_TOKEN + " ")
    assert enc["train"][0]["input_ids"][0] == tok.convert_tokens_to_ids(tr.MARIAN_TARGET_TOKEN)
    assert enc["train"][0]["labels"] == tok(text_target=CHINESE[0])["input_ids"]


def test_marian_fine_tunes_with_seq2seq_trainer_and_lora(marian, tmp_path):
    from companion import adapters

    model, tok = marian
    ds = Dataset.from_dict({"en": ENGLISH, "zh": CHINESE})
    enc = tr.encode_pairs(ds, tok, prefix=tr.MARIAN_TARGET_TOKEN + " ")
    lora = adapters.lora_for_seq2seq(model, r=2, lora_alpha=4)
    trainable, total = models.count_parameters(lora)
    # 1 encoder + 1 decoder layer: q/v of encoder self-, decoder self- and cross-attention = 6 matrices
    assert trainable == 6 * 2 * (32 + 32)
    args = T.training_arguments(tmp_path, seq2seq=True, learning_rate=1e-2, batch_size=8, max_steps=5, generation_max_length=16,
                                weight_decay=0.0)
    trainer = T.make_trainer(lora, args, enc, enc, tok, compute_metrics=tr.bleu_compute_metrics(tok))
    trainer.train()
    assert "eval_bleu" in trainer.evaluate()
    out = tr.translate(lora, tok, ENGLISH[:2], prefix=tr.MARIAN_TARGET_TOKEN + " ", max_new_tokens=8)
    assert len(out) == 2


def test_opus_mt_shape():
    cfg = tr.opus_mt_en_zh_config()
    assert (cfg.d_model, cfg.encoder_layers, cfg.decoder_layers, cfg.vocab_size, cfg.pad_token_id) == (512, 6, 6, 65001, 65000)


def test_tiny_marian_errors():
    with pytest.raises(ValueError, match="target_texts"):
        tr.tiny_marian(["a"], [])


def test_bleu_compute_metrics_replaces_minus_100():
    tgt = tr.train_char_tokenizer(CHINESE)
    labels = np.array([tgt("他跑了。")["input_ids"] + [-100, -100]])
    preds = np.array([tgt("他跑了。")["input_ids"] + [0, 0]])
    out = tr.bleu_compute_metrics(tgt)((preds, labels))
    assert out["bleu"] == pytest.approx(100.0) and out["chrf"] == pytest.approx(100.0)


# ---------------------------------------------------------------------------- a frozen, cached encoder
def _tiny_model(src, tgt, seed=0):
    return tr.build_encoder_decoder("tiny-random-bert", tgt, encoder_vocab_size=len(src), num_layers=1,
                                    hidden_size=32, num_heads=2, intermediate_size=64, max_new_tokens=12, seed=seed)


def test_freeze_encoder_leaves_only_the_decoder_trainable():
    src = train_wordpiece_tokenizer(ENGLISH, vocab_size=120)
    model = _tiny_model(src, tr.train_char_tokenizer(CHINESE))
    n_encoder = sum(p.numel() for p in model.encoder.parameters())
    assert tr.freeze_encoder(model) == n_encoder
    assert models.count_parameters(model)[0] == sum(p.numel() for p in model.decoder.parameters())
    assert not model.encoder.training


def test_cached_encoder_outputs_match_the_encoder_and_the_full_forward_pass(tiny):
    model, src, tgt = tiny
    model.eval()
    ds = Dataset.from_dict({"en": ENGLISH[:6], "zh": CHINESE[:6]})
    enc = tr.encode_pairs(ds, src, target_tokenizer=tgt)
    states = tr.cache_encoder_outputs(model, enc["input_ids"], pad_token_id=src.pad_token_id, batch_size=4)
    assert [s.shape for s in states] == [(len(ids), 32) for ids in enc["input_ids"]]
    with torch.no_grad():  # each sentence alone, unpadded: padding in the cache must not change anything
        alone = model.encoder(input_ids=torch.tensor([enc["input_ids"][3]])).last_hidden_state[0]
    torch.testing.assert_close(states[3], alone, rtol=1e-5, atol=1e-5)
    batch = tr.collate_cached(tr.cached_rows(states, enc["labels"]))
    assert batch["encoder_hidden_states"].shape[:2] == batch["attention_mask"].shape
    assert batch["attention_mask"].sum(1).tolist() == [len(ids) for ids in enc["input_ids"]]
    assert (batch["labels"] == -100).any()
    from transformers import DataCollatorForSeq2Seq

    full = DataCollatorForSeq2Seq(src, label_pad_token_id=-100)([enc[i] for i in range(6)])
    with torch.no_grad():  # the loss on cached outputs is the loss of the whole model on the same pairs
        cached_loss = tr.cached_decoder_loss(model, batch)
        full_loss = model(input_ids=full["input_ids"], attention_mask=full["attention_mask"],
                          labels=full["labels"]).loss
    torch.testing.assert_close(cached_loss, full_loss, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="input_ids"):
        tr.cache_encoder_outputs(model, [[101, 102], []])
    with pytest.raises(ValueError, match="labels"):
        tr.cached_rows(states, enc["labels"][:2])


def test_decoder_learns_from_cached_outputs_in_the_book_loop():
    from companion import data, loop

    src = train_wordpiece_tokenizer(ENGLISH, vocab_size=120)
    tgt = tr.train_char_tokenizer(CHINESE)
    model = _tiny_model(src, tgt)
    tr.freeze_encoder(model)
    frozen_before = {k: v.clone() for k, v in model.encoder.state_dict().items()}
    enc = tr.encode_pairs(Dataset.from_dict({"en": ENGLISH[:6], "zh": CHINESE[:6]}), src, target_tokenizer=tgt)
    states = tr.cache_encoder_outputs(model, enc["input_ids"], pad_token_id=src.pad_token_id)
    loader = data.dataloader(tr.cached_rows(states, enc["labels"]), src, 3, shuffle=True, group_by_length=True,
                             collator=tr.collate_cached, columns=("input_ids", "encoder_hidden_states", "labels"))
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=3e-3)
    result = loop.train(model, loader, optimizer, epochs=40, max_steps=60, loss_fn=tr.cached_decoder_loss)
    losses = [s["loss"] for s in result.steps]
    assert len(losses) == 60 and np.mean(losses[-5:]) < 0.5 * np.mean(losses[:5])
    for k, v in model.encoder.state_dict().items():
        assert torch.equal(v, frozen_before[k]), k


# ---------------------------------------------------------------------------- paired bootstrap
def test_paired_bootstrap_scores_and_standard_errors():
    import sacrebleu

    refs = CHINESE[:6] * 3
    a = ["他跑了。", "我们试试。", "为什么是我？", "我很高兴见到你。", "汤姆是好孩子。", "住手！"] * 3
    b = ["他了。", "我们。", "是我？", "今天我。", "汤姆。", "手！"] * 3
    out = tr.paired_bootstrap(a, b, refs, metric="bleu", n_resamples=200, seed=1)
    assert out["a"] == pytest.approx(metrics.corpus_bleu(a, refs).score, abs=1e-9)
    assert out["b"] == pytest.approx(metrics.corpus_bleu(b, refs).score, abs=1e-9)
    assert out["diff"] == pytest.approx(out["a"] - out["b"])
    # the same resamples scored the slow way, with sacreBLEU on each resampled corpus
    rng = np.random.default_rng(1)
    slow = []
    for _ in range(200):
        idx = rng.integers(0, len(refs), len(refs))
        sa = sacrebleu.corpus_bleu([a[i] for i in idx], [[refs[i] for i in idx]], tokenize="zh").score
        sb = sacrebleu.corpus_bleu([b[i] for i in idx], [[refs[i] for i in idx]], tokenize="zh").score
        slow.append((sa, sb))
    slow = np.array(slow)
    assert out["se_a"] == pytest.approx(slow[:, 0].std(ddof=1), rel=1e-9)
    assert out["se_diff"] == pytest.approx((slow[:, 0] - slow[:, 1]).std(ddof=1), rel=1e-9)
    chrf = tr.paired_bootstrap(a, b, refs, metric="chrf", n_resamples=50)
    assert chrf["a"] == pytest.approx(metrics.corpus_chrf(a, refs).score, abs=1e-9)
    same = tr.paired_bootstrap(a, a, refs, n_resamples=50)
    assert same["diff"] == 0 and same["se_diff"] == 0 and same["se_a"] > 0


@pytest.mark.parametrize("kw, error, name", [
    (dict(metric="ter"), ValueError, "metric"),
    (dict(n_resamples=1), ValueError, "n_resamples"),
])
def test_paired_bootstrap_bad_arguments_are_named(kw, error, name):
    with pytest.raises(error, match=name):
        tr.paired_bootstrap(["a"], ["b"], ["a"], **kw)
    with pytest.raises(ValueError, match="hypotheses_b"):
        tr.paired_bootstrap(["a"], ["b", "c"], ["a"])


# ---------------------------------------------------------------------------- bad inputs (probe classes)
BAD_COUNTS = [(True, TypeError), (2.0, TypeError), ("3", TypeError), (None, TypeError), (-1, ValueError),
              (0, ValueError)]


@pytest.mark.parametrize("value,error", BAD_COUNTS[:4] + [(-1, ValueError)])
def test_paired_bootstrap_seed_is_checked(value, error):
    with pytest.raises(error, match="seed"):
        tr.paired_bootstrap(["a b"], ["a c"], ["a b"], n_resamples=2, seed=value)


@pytest.mark.parametrize("value,error", BAD_COUNTS + [(math.nan, TypeError)])
def test_translate_max_source_length_is_checked(tiny, value, error):
    model, src, tgt = tiny
    with pytest.raises(error, match="max_source_length"):
        tr.translate(model, src, ENGLISH[:2], target_tokenizer=tgt, max_source_length=value)


@pytest.mark.parametrize("arg", ["encoder_vocab_size", "max_new_tokens", "seed"])
@pytest.mark.parametrize("value,error", BAD_COUNTS[:3] + [(-1, ValueError)])
def test_build_encoder_decoder_counts_are_checked(arg, value, error):
    tgt = tr.train_char_tokenizer(CHINESE)
    kwargs = dict(encoder_vocab_size=50) | {arg: value}
    with pytest.raises(error, match=arg):
        tr.build_encoder_decoder("tiny-random-bert", tgt, **kwargs)


@pytest.mark.parametrize("value,error", [(1, TypeError), ("yes", TypeError), (None, TypeError)])
def test_build_encoder_decoder_pretrained_is_a_bool(value, error):
    with pytest.raises(error, match="pretrained"):
        tr.build_encoder_decoder("tiny-random-bert", tr.train_char_tokenizer(CHINESE), encoder_vocab_size=50,
                                 pretrained=value)


@pytest.mark.parametrize("value,error", [(math.nan, ValueError), (math.inf, ValueError), (-0.1, ValueError),
                                         (1.0, ValueError), (1.5, ValueError), ("0.1", TypeError), (True, TypeError),
                                         (None, TypeError)])
def test_decoder_config_dropout_is_a_probability(value, error):
    with pytest.raises(error, match="dropout"):
        tr.decoder_config(10, dropout=value)


@pytest.mark.parametrize("ids,error", [([[2.0, 5.0]], TypeError), ([[True, False]], TypeError), ([[2, -1]], ValueError),
                                       ([[2, 10**9]], ValueError), ([["a", "b"]], TypeError), (None, TypeError),
                                       (5, TypeError), ("ab", TypeError), ([[5], []], ValueError), ([], ValueError)])
def test_cache_encoder_outputs_checks_the_ids_first(tiny, ids, error):
    with pytest.raises(error, match="input_ids"):
        tr.cache_encoder_outputs(tiny[0], ids)


@pytest.mark.parametrize("pad,error", [(True, TypeError), (-1, ValueError), (10**6, ValueError), (0.0, TypeError)])
def test_cache_encoder_outputs_checks_the_pad_id(tiny, pad, error):
    with pytest.raises(error, match="pad_token_id"):
        tr.cache_encoder_outputs(tiny[0], [[5, 6], [5]], pad_token_id=pad)


@pytest.mark.parametrize("states,labels,name,error", [
    ([torch.zeros(2, 4)], [[0.5, 1.5]], "labels", TypeError), ([torch.zeros(2, 4)], [[0, -7]], "labels", ValueError),
    ([torch.zeros(2, 4)], [["a"]], "labels", TypeError), ([[0.0, 1.0]], [[0, 1]], "states", TypeError),
    ([torch.zeros(2)], [[0, 1]], "states", ValueError), ([torch.zeros(2, 4, dtype=torch.long)], [[0]], "states", TypeError),
    (None, [[0]], "states", TypeError), ([torch.zeros(2, 4)], None, "labels", TypeError),
    ([], [], "states", ValueError), ([torch.zeros(2, 4)], [[0], [1]], "labels", ValueError),
])
def test_cached_rows_bad_inputs_are_named(states, labels, name, error):
    with pytest.raises(error, match=name):
        tr.cached_rows(states, labels)


def test_cached_rows_keep_the_ignore_index():
    rows = tr.cached_rows([torch.zeros(2, 4)], [[5, -100]])
    assert rows[0]["labels"] == [5, -100]


@pytest.mark.parametrize("rows,error", [
    ([], ValueError), (None, TypeError), ("rows", TypeError), ([[1, 2]], TypeError), ([{"labels": [1]}], TypeError),
    ([{"encoder_hidden_states": torch.zeros(2), "labels": [1]}], ValueError),
    ([{"encoder_hidden_states": [[0.0]], "labels": [1]}], TypeError),
    ([{"encoder_hidden_states": torch.zeros(2, 4), "labels": [1.5]}], TypeError),
    ([{"encoder_hidden_states": torch.zeros(2, 4), "labels": [1]},
      {"encoder_hidden_states": torch.zeros(2, 5), "labels": [1]}], ValueError),
])
def test_collate_cached_bad_rows_are_named(rows, error):
    with pytest.raises(error, match="rows"):
        tr.collate_cached(rows)


@pytest.mark.parametrize("history,error", [
    (None, TypeError), (5, TypeError), ("log", TypeError), ([1, 2], TypeError),
    ([{"step": 3, "train_runtime": 0.0}], ValueError), ([{"step": 3, "train_runtime": -1.0}], ValueError),
    ([{"step": 3, "train_runtime": math.nan}], ValueError), ([{"step": 3, "train_runtime": "2"}], TypeError),
    ([{"step": 3.5, "train_runtime": 2.0}], TypeError), ([{"step": 3}], ValueError),
])
def test_train_steps_per_second_bad_log_history_is_named(history, error):
    with pytest.raises(error, match="log_history"):
        tr.train_steps_per_second(history)


@pytest.mark.parametrize("edges,error", [(None, TypeError), (5, TypeError), ("47", TypeError), ([], ValueError),
                                         ([7, 4], ValueError), ([4.0, 7.0], TypeError), ([True, 4], TypeError)])
def test_length_bucket_bad_edges_are_named(edges, error):
    with pytest.raises(error, match="edges"):
        tr.length_bucket(["a b"], edges)
