import numpy as np
import pytest
from sklearn.metrics import f1_score

from companion import metrics


def test_accuracy_and_macro_f1_against_sklearn():
    rng = np.random.default_rng(0)
    t, p = rng.integers(0, 3, 200), rng.integers(0, 3, 200)
    assert metrics.accuracy(t, p) == pytest.approx((t == p).mean())
    assert metrics.macro_f1(t, p) == pytest.approx(f1_score(t, p, average="macro"))


def test_macro_f1_counts_never_predicted_class():
    # class 0 is never predicted: its F1 is 0 and it still counts in the mean
    assert metrics.macro_f1([0, 1, 1, 1], [1, 1, 1, 1]) == pytest.approx((0 + 2 * 0.75 / 1.75) / 2)


@pytest.mark.parametrize("t,p,name,exc", [
    ([0, 1], [0], "y_pred", ValueError), ([], [], "y_true", ValueError), ([[0, 1]], [[0, 1]], "y_true", ValueError),
    ([0.5, 1], [0, 1], "y_true", ValueError), ([0, 1], ["a", "b"], "y_pred", TypeError),
    ([0, -100], [0, 1], "y_true", ValueError), ([1e30, 0], [2e30, 0], "y_true", ValueError),
    ([0, float("nan")], [0, 1], "y_true", ValueError), ([0, None], [0, 1], "y_true", TypeError)])
def test_bad_inputs_name_the_argument(t, p, name, exc):
    with pytest.raises(exc, match=name):
        metrics.accuracy(t, p)


def test_float_labels_that_are_integers_are_accepted():
    assert metrics.accuracy(np.array([0.0, 1.0]), [0, 1]) == 1.0


def test_confusion_layout():
    c = metrics.confusion([0, 0, 1, 1], [0, 1, 1, 1])
    assert c.tolist() == [[1, 1], [0, 2]]


def test_compute_metrics_for_trainer():
    logits = np.array([[2.0, 0.0], [0.0, 1.0], [3.0, 1.0]])
    out = metrics.compute_metrics((logits, np.array([0, 1, 1])))
    assert out["accuracy"] == pytest.approx(2 / 3)
    assert out["macro_f1"] == pytest.approx(f1_score([0, 1, 1], [0, 1, 0], average="macro"))
    with pytest.raises(ValueError, match="eval_pred"):
        metrics.compute_metrics((np.zeros(3), np.zeros(3)))


@pytest.mark.parametrize("labels,exc", [([2, 3], ValueError), (["a"], TypeError), ([], ValueError), ([0], ValueError)])
def test_explicit_labels_must_cover_the_classes(labels, exc):
    with pytest.raises(exc, match="labels"):
        metrics.macro_f1([0, 1], [0, 1], labels=labels)
    with pytest.raises(exc, match="labels"):
        metrics.confusion([0, 1], [0, 1], labels=labels)


def test_explicit_labels_keep_an_absent_class():
    assert metrics.confusion([0, 0], [0, 0], labels=[0, 1]).tolist() == [[2, 0], [0, 0]]
    assert metrics.macro_f1([0, 1], [0, 1], labels=[0, 1, 2]) == pytest.approx(2 / 3)


@pytest.mark.parametrize("eval_pred,err,match", [
    (None, TypeError, "eval_pred"),
    ((np.zeros((2, 2)), np.array([0, -100])), ValueError, "-100"),
    ((np.zeros((2, 2)), np.array([0, 5])), ValueError, "only 2 classes"),
    ((np.full((2, 2), np.nan), np.array([0, 1])), ValueError, "NaN"),
    ((np.zeros((2, 1)), np.array([0, 0])), ValueError, "num_classes"),
    ((np.zeros((2, 2)), np.array([[1, 0], [0, 1]])), ValueError, "eval_pred labels")])
def test_compute_metrics_rejects_what_would_give_a_wrong_number(eval_pred, err, match):
    with pytest.raises(err, match=match):
        metrics.compute_metrics(eval_pred)


# ---------------------------------------------------------------------------- language models (chapter 2)
import math  # noqa: E402

import torch  # noqa: E402
from transformers import BertConfig, BertForMaskedLM, GPT2Config, GPT2LMHeadModel  # noqa: E402

A = [0.1, 0.2, 0.1]
B = [0.3, 0.5, 0.1, 0.4, 0.2]


def test_perplexity_field_case_ragged_and_padded():
    # total NLL 1.9 over 8 real tokens: exp(1.9 / 8) = 1.2681
    assert metrics.perplexity([A, B]) == pytest.approx(1.2681, abs=5e-5)
    padded = np.array([A + [0.0, 0.0], B])
    labels = np.array([[5, 6, 7, -100, -100], [1, 2, 3, 4, 5]])
    assert metrics.perplexity(padded, labels) == pytest.approx(1.2681, abs=5e-5)
    assert metrics.perplexity(torch.tensor(padded), torch.tensor(labels)) == pytest.approx(1.2681, abs=5e-5)
    assert metrics.perplexity_from_sum(sum(A) + sum(B), 8) == pytest.approx(1.2681, abs=5e-5)
    # the classic wrong aggregations give different numbers
    wrong = {
        "mean of per-batch exp": np.mean([math.exp(np.mean(A)), math.exp(np.mean(B))]),
        "exp of mean per-sequence loss": math.exp(np.mean([np.mean(A), np.mean(B)])),
        "padding counted": math.exp(padded.sum() / padded.size),
    }
    assert [round(v, 4) for v in wrong.values()] == [1.2462, 1.2419, 1.2092]
    for value in wrong.values():
        assert abs(value - metrics.perplexity([A, B])) > 0.02


def test_perplexity_of_a_uniform_model_is_the_vocabulary_size():
    for V in (2, 10, 30522):
        assert metrics.perplexity([math.log(V)] * 17) == pytest.approx(V)
    logits = torch.zeros(2, 6, 50)  # uniform over 50 tokens
    labels = torch.randint(0, 50, (2, 6))
    labels[1, 4:] = -100
    nll, lab = metrics.token_nll(logits, labels)
    assert metrics.perplexity(nll, lab) == pytest.approx(50, rel=1e-5)
    nll, lab = metrics.token_nll(logits, labels, shift=True)
    assert nll.shape == (2, 5) and metrics.perplexity(nll, lab) == pytest.approx(50, rel=1e-5)


def test_token_nll_matches_gpt2_loss():
    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=40, n_embd=16, n_layer=1, n_head=2, n_positions=16,
                                       bos_token_id=0, eos_token_id=0)).eval()
    ids = torch.randint(0, 40, (3, 9))
    labels = ids.clone()
    labels[2, 6:] = -100
    with torch.no_grad():
        out = model(input_ids=ids, labels=labels)
    nll, lab = metrics.token_nll(out.logits, labels, shift=True)
    assert metrics.perplexity(nll, lab) == pytest.approx(math.exp(out.loss.item()), rel=1e-5)


@pytest.mark.parametrize("args,name", [
    (([],), "token_nll"), (([-0.1, 0.2],), "token_nll"), (([float("nan")],), "token_nll"),
    ((np.zeros((2, 3)), np.zeros((2, 4), dtype=int)), "labels"), ((np.ones((1, 2)), np.full((1, 2), -100)), "token_nll"),
])
def test_perplexity_bad_input(args, name):
    with pytest.raises(ValueError, match=name):
        metrics.perplexity(*args)


def test_perplexity_from_sum_bad_input():
    with pytest.raises(ValueError, match="n_tokens"):
        metrics.perplexity_from_sum(1.0, 0)
    with pytest.raises(ValueError, match="nll_sum"):
        metrics.perplexity_from_sum(-1.0, 3)


def test_pseudo_perplexity_matches_a_brute_force_loop():
    torch.manual_seed(0)
    model = BertForMaskedLM(BertConfig(vocab_size=30, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                       intermediate_size=32, max_position_embeddings=16, pad_token_id=0)).eval()
    ids = torch.tensor([[2, 7, 8, 9, 3, 0], [2, 10, 11, 12, 13, 3]])
    special = torch.isin(ids, torch.tensor([0, 2, 3]))
    attention = (ids != 0).long()
    total, n = 0.0, 0
    with torch.no_grad():
        for r in range(2):
            for c in range(6):
                if special[r, c]:
                    continue
                masked = ids[r:r + 1].clone()
                masked[0, c] = 4
                logp = torch.log_softmax(model(input_ids=masked, attention_mask=attention[r:r + 1]).logits[0, c], -1)
                total -= logp[ids[r, c]].item()
                n += 1
    expected = math.exp(total / n)
    got, nll = metrics.pseudo_perplexity(model, ids, special, mask_token_id=4, batch_size=3, return_token_nll=True)
    assert n == 7 and nll.shape == (7,)
    assert got == pytest.approx(expected, rel=1e-5)
    assert metrics.pseudo_perplexity(model, ids, special, mask_token_id=4, attention_mask=attention) == pytest.approx(
        expected, rel=1e-5)
    with pytest.raises(ValueError, match="special_tokens_mask"):
        metrics.pseudo_perplexity(model, ids, torch.ones_like(ids), mask_token_id=4)
    with pytest.raises(ValueError, match="special_tokens_mask"):
        metrics.pseudo_perplexity(model, ids, special[:, :3], mask_token_id=4)


# ---------------------------------------------------------------------------- 8.2 machine translation
import sacrebleu  # noqa: E402


def test_field_case_tokenizer_13a_vs_zh():
    same = ["我今天很高兴见到你。"]
    assert metrics.corpus_bleu(same, same, tokenize="13a").score == pytest.approx(0.0)
    assert metrics.corpus_bleu(same, same).score == pytest.approx(100.0)


def test_field_case_reordered_sentence():
    hyp, ref = ["我今天很高兴见到你。"], ["今天我很高兴见到你。"]
    assert round(metrics.corpus_bleu(hyp, ref).score, 2) == 72.60
    assert round(metrics.corpus_chrf(hyp, ref).score, 2) == 64.57


def test_corpus_scores_match_sacrebleu_reference():
    hyps = ["他跑了。", "我们来试试吧。", "为什么是你？", "猫在桌子上睡觉。"]
    refs = ["他跑了。", "我们来试试。", "为什么是我？", "猫睡在桌子上。"]
    assert metrics.corpus_bleu(hyps, refs).score == pytest.approx(
        sacrebleu.corpus_bleu(hyps, [refs], tokenize="zh").score)
    assert metrics.corpus_chrf(hyps, refs).score == pytest.approx(sacrebleu.corpus_chrf(hyps, [refs]).score)
    # two reference streams: sacreBLEU's layout
    refs2 = ["他跑掉了。", "我们试试。", "为什么是我？", "桌子上有猫在睡觉。"]
    assert metrics.corpus_bleu(hyps, [refs, refs2]).score == pytest.approx(
        sacrebleu.corpus_bleu(hyps, [refs, refs2], tokenize="zh").score)


def test_corpus_bleu_is_not_mean_of_sentence_bleu():
    hyps = ["他跑了。", "我们来试试吧，好吗？现在就试。"]
    refs = ["他跑了。", "我们来试试。"]
    sentence_mean = np.mean([metrics.sentence_bleu(h, r) for h, r in zip(hyps, refs)])
    assert abs(metrics.corpus_bleu(hyps, refs).score - sentence_mean) > 1.0


def test_length_mismatch_raises_where_sacrebleu_truncates():
    hyps, refs = ["他跑了。", "我们来试试。"], ["他跑了。"]
    # the pitfall: sacreBLEU scores only the first pair (silently)
    assert sacrebleu.corpus_bleu(hyps, [refs], tokenize="zh").score == pytest.approx(100.0)
    with pytest.raises(ValueError, match="references"):
        metrics.corpus_bleu(hyps, refs)
    with pytest.raises(ValueError, match="references"):
        metrics.corpus_chrf(hyps, [refs, refs + ["x"]])


@pytest.mark.parametrize("hyps,refs,exc,name", [
    ("他跑了。", ["他跑了。"], TypeError, "hypotheses"),
    ([], [], ValueError, "hypotheses"),
    ([1], ["a"], TypeError, "hypotheses"),
    (["a"], "a", TypeError, "references"),
    (["a"], [[1]], TypeError, "references"),
    (["a"], [], ValueError, "references"),
])
def test_bad_translation_inputs_name_the_argument(hyps, refs, exc, name):
    with pytest.raises(exc, match=name):
        metrics.corpus_bleu(hyps, refs)


def test_unknown_tokenizer_and_word_order():
    with pytest.raises(ValueError, match="tokenize"):
        metrics.corpus_bleu(["a"], ["a"], tokenize="jieba")
    with pytest.raises(ValueError, match="word_order"):
        metrics.corpus_chrf(["a"], ["a"], word_order=3)


def test_signatures_show_the_tokenizer():
    assert "tok:zh" in metrics.bleu_signature()
    assert "tok:13a" in metrics.bleu_signature("13a")
    assert "nc:6" in metrics.chrf_signature() and "nw:2" in metrics.chrf_signature(2)


def test_sentence_bleu():
    assert metrics.sentence_bleu("我今天很高兴见到你。", "今天我很高兴见到你。") == pytest.approx(72.60, abs=0.01)
    with pytest.raises(TypeError, match="hypothesis"):
        metrics.sentence_bleu(["a"], "a")
    with pytest.raises(ValueError, match="references"):
        metrics.sentence_bleu("a", [])


def test_corpus_bleu_by_group():
    hyps = ["他跑了。", "我们来试试。", "为什么是你？"]
    refs = ["他跑了。", "我们来试试。", "为什么是我？"]
    out = metrics.corpus_bleu_by_group(hyps, refs, ["b", "a", "b"])
    assert list(out) == ["a", "b"]
    assert out["a"] == (1, pytest.approx(100.0))
    assert out["b"][0] == 2 and out["b"][1] == pytest.approx(metrics.corpus_bleu([hyps[0], hyps[2]], [refs[0], refs[2]]).score)
    with pytest.raises(ValueError, match="groups"):
        metrics.corpus_bleu_by_group(hyps, refs, ["a"])


def test_signature_counts_references():
    assert metrics.bleu_signature(nrefs=2).startswith("nrefs:2|")
    with pytest.raises(ValueError, match="nrefs"):
        metrics.chrf_signature(nrefs=0)


# ---------------------------------------------------------------------------- bad inputs (issue 16)
@pytest.mark.parametrize("token_nll,exc,where", [
    (["1.0", "abc"], TypeError, r"token_nll\[0\]"), ([0.1, "0.2"], TypeError, r"token_nll\[1\]"),
    ([True, 0.1], TypeError, r"token_nll\[0\]"), ([0.1, None], TypeError, r"token_nll\[1\]"),
    ("0.5", TypeError, "token_nll"), (None, TypeError, "token_nll"), (True, TypeError, "token_nll"),
    ([[0.1, 0.2], ["x"]], TypeError, r"token_nll\[1\]"), (np.array(["0.1"]), TypeError, "token_nll"),
    ([0.1, math.inf], ValueError, "token_nll"), ([0.1, -math.inf], ValueError, "token_nll"),
    (math.nan, ValueError, "token_nll"), (-0.5, ValueError, "token_nll"), (torch.tensor([0.1, math.nan]), ValueError, "token_nll"),
])
def test_perplexity_refuses_non_numbers(token_nll, exc, where):
    with pytest.raises(exc, match=where):
        metrics.perplexity(token_nll)


def test_perplexity_of_one_loss_and_of_tensors():
    assert metrics.perplexity(math.log(7)) == pytest.approx(7)
    assert metrics.perplexity(torch.tensor([[0.1, 0.2], [0.3, 9.0]]), torch.tensor([[1, 1], [1, -100]])) == \
        pytest.approx(math.exp(0.2))


@pytest.mark.parametrize("labels,exc", [(np.zeros((1, 2)), TypeError), ([["a", "b"]], TypeError),
                                        (np.zeros((1, 3), dtype=int), ValueError)])
def test_perplexity_labels(labels, exc):
    with pytest.raises(exc, match="labels"):
        metrics.perplexity(np.ones((1, 2)), labels)
    with pytest.raises(TypeError, match="ignore_index"):
        metrics.perplexity(np.ones((1, 2)), np.zeros((1, 2), dtype=int), ignore_index=None)


@pytest.mark.parametrize("nll_sum,n_tokens,exc,name", [
    ("abc", 10, TypeError, "nll_sum"), ("1.0", 10, TypeError, "nll_sum"), (True, 10, TypeError, "nll_sum"),
    (None, 10, TypeError, "nll_sum"), (math.nan, 10, ValueError, "nll_sum"), (math.inf, 10, ValueError, "nll_sum"),
    (1.0, True, TypeError, "n_tokens"), (1.0, 10.0, TypeError, "n_tokens"), (1.0, "10", TypeError, "n_tokens"),
    (1.0, -3, ValueError, "n_tokens"),
])
def test_perplexity_from_sum_bad_types(nll_sum, n_tokens, exc, name):
    with pytest.raises(exc, match=name):
        metrics.perplexity_from_sum(nll_sum, n_tokens)


@pytest.mark.parametrize("logits,labels,exc,name", [
    (torch.zeros(1, 3, 4), torch.tensor([[0, 9, 1]]), ValueError, "labels"),
    (torch.zeros(1, 3, 4), torch.tensor([[0, 4, 1]]), ValueError, "labels"),
    (torch.zeros(1, 3, 4), torch.tensor([[0, -5, 1]]), ValueError, "labels"),
    (torch.zeros(1, 3, 4), torch.tensor([[0, 10**12, 1]]), ValueError, "labels"),
    (torch.zeros(1, 3, 4), torch.tensor([[0.0, 1.0, 1.0]]), TypeError, "labels"),
    (torch.zeros(1, 3, 4), [["a", "b", "c"]], TypeError, "labels"),
    (torch.zeros(1, 3, 4, dtype=torch.long), torch.tensor([[0, 1, 1]]), TypeError, "logits"),
    (np.zeros((1, 3, 4)), torch.tensor([[0, 1, 1]]), TypeError, "logits"),
    (torch.zeros(1, 3, 4), torch.tensor([[0, 1]]), ValueError, "logits"),
])
def test_token_nll_bad_inputs(logits, labels, exc, name):
    with pytest.raises(exc, match=name):
        metrics.token_nll(logits, labels)
    with pytest.raises(exc, match=name):
        metrics.token_nll(logits, labels, shift=True)


def test_token_nll_keeps_ignored_positions_and_checks_flags():
    nll, lab = metrics.token_nll(torch.zeros(1, 3, 4), torch.tensor([[0, -100, 3]]))
    assert nll[0].tolist() == pytest.approx([math.log(4), 0.0, math.log(4)])
    with pytest.raises(TypeError, match="shift"):
        metrics.token_nll(torch.zeros(1, 3, 4), torch.tensor([[0, 1, 3]]), shift=1)


def _tiny_mlm():
    torch.manual_seed(0)
    return BertForMaskedLM(BertConfig(vocab_size=30, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                      intermediate_size=32, max_position_embeddings=16, pad_token_id=0)).eval()


@pytest.mark.parametrize("kw,exc,name", [
    (dict(input_ids=torch.tensor([[2, 7, 30, 3]])), ValueError, "input_ids"),
    (dict(input_ids=torch.tensor([[2, 7, -1, 3]])), ValueError, "input_ids"),
    (dict(input_ids=torch.tensor([[2.0, 7.0, 8.0, 3.0]])), TypeError, "input_ids"),
    (dict(mask_token_id=30), ValueError, "mask_token_id"), (dict(mask_token_id=-1), ValueError, "mask_token_id"),
    (dict(mask_token_id=True), TypeError, "mask_token_id"), (dict(special_tokens_mask=[[1, 0, 2, 1]]), ValueError, "special_tokens_mask"),
    (dict(attention_mask=[[1, 1, 1]]), ValueError, "attention_mask"), (dict(batch_size=0), ValueError, "batch_size"),
    (dict(batch_size=True), TypeError, "batch_size"), (dict(return_token_nll=1), TypeError, "return_token_nll"),
    (dict(model="bert"), TypeError, "model"),
])
def test_pseudo_perplexity_bad_arguments(kw, exc, name):
    args = dict(model=_tiny_mlm(), input_ids=torch.tensor([[2, 7, 8, 3]]), special_tokens_mask=[[1, 0, 0, 1]],
                mask_token_id=4) | kw
    with pytest.raises(exc, match=name):
        metrics.pseudo_perplexity(args.pop("model"), args.pop("input_ids"), args.pop("special_tokens_mask"), **args)


@pytest.mark.parametrize("nrefs,exc", [(True, TypeError), (0, ValueError), (-1, ValueError), (2.0, TypeError),
                                       ("1", TypeError), (None, TypeError)])
def test_signature_nrefs(nrefs, exc):
    with pytest.raises(exc, match="nrefs"):
        metrics.bleu_signature(nrefs=nrefs)
    with pytest.raises(exc, match="nrefs"):
        metrics.chrf_signature(nrefs=nrefs)


@pytest.mark.parametrize("word_order", [True, 3, -1, "2", None, 1.0])
def test_word_order(word_order):
    with pytest.raises(ValueError, match="word_order"):
        metrics.corpus_chrf(["a"], ["a"], word_order=word_order)
    with pytest.raises(ValueError, match="word_order"):
        metrics.chrf_signature(word_order)


@pytest.mark.parametrize("tokenize", [None, 13, "ZH", ["zh"]])
def test_tokenize(tokenize):
    with pytest.raises(ValueError, match="tokenize"):
        metrics.corpus_bleu(["a"], ["a"], tokenize=tokenize)
    with pytest.raises(ValueError, match="tokenize"):
        metrics.corpus_bleu_by_group(["a"], ["a"], [0], tokenize=tokenize)


@pytest.mark.parametrize("hyps,refs,groups,exc,name", [
    (["a", "b"], ["a", "b"], [[1], [2]], TypeError, r"groups\[0\]"),
    (["a", "b"], ["a", "b"], [{"g": 1}, 2], TypeError, r"groups\[0\]"),
    (["a", "b"], ["a", "b"], "ab", TypeError, "groups"), (["a", "b"], ["a", "b"], 5, TypeError, "groups"),
    (["a", "b"], ["a", "b"], [1, 2, 3], ValueError, "groups"), (["a", "b"], ["a"], [1, 2], ValueError, "references"),
    (["a", "b"], [["a", "b"], ["a", "b"]], [1, 2], TypeError, "references"),
    (["a", 2], ["a", "b"], [1, 2], TypeError, "hypotheses"), ([], [], [], ValueError, "hypotheses"),
])
def test_corpus_bleu_by_group_bad_inputs(hyps, refs, groups, exc, name):
    with pytest.raises(exc, match=name):
        metrics.corpus_bleu_by_group(hyps, refs, groups)


@pytest.mark.parametrize("refs,exc", [(None, TypeError), (5, TypeError), ([None], TypeError), ([["a"], "a"], TypeError)])
def test_reference_streams_bad(refs, exc):
    with pytest.raises(exc, match="references"):
        metrics.corpus_bleu(["a"], refs)
    with pytest.raises(exc, match="references"):
        metrics.sentence_bleu("a", refs if refs is not None else None)


@pytest.mark.parametrize("logits", [np.array([["a", "b"], ["c", "d"]]), [["1.0", "2.0"], ["0", "1"]],
                                    np.array([[None, 1.0], [0.0, 1.0]], dtype=object)])
def test_compute_metrics_names_non_numeric_logits(logits):
    with pytest.raises(TypeError, match="eval_pred"):
        metrics.compute_metrics((logits, np.array([0, 1])))
