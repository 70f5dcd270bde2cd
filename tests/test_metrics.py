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


@pytest.mark.parametrize("t,p,name", [([0, 1], [0], "y_pred"), ([], [], "y_true"), ([[0, 1]], [[0, 1]], "y_true"),
                                      ([0.5, 1], [0, 1], "y_true"), ([0, 1], ["a", "b"], "y_pred")])
def test_bad_inputs_name_the_argument(t, p, name):
    with pytest.raises(ValueError, match=name):
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
