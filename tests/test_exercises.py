import numpy as np
import pytest
from sklearn.metrics import f1_score

from companion import exercises


def test_check_value(capsys):
    assert exercises.check_value(0.30000000001, 0.3, "x")
    assert not exercises.check_value(0.31, 0.3, "x", hint="round later")
    out = capsys.readouterr().out
    assert "got 0.31, expected 0.3" in out and "round later" in out
    assert not exercises.check_value(None, 1, show=False)
    assert exercises.check_value([1, 2], [1.0, 2.0], show=False)
    assert not exercises.check_value([1, 2], [1, 2, 3], show=False)


def test_check_function_reports_first_failure_and_errors():
    fb = exercises.check_function(lambda a, b: a + b, [((1, 2), 3), ((2, 2), 5)], name="add", show=False)
    assert not fb and "case 2" in fb.message and "returned 4" in fb.message
    fb = exercises.check_function(lambda a: 1 / a, [((0,), 1)], name="inv", show=False)
    assert not fb and "ZeroDivisionError" in fb.message

    def todo(*a):
        raise NotImplementedError

    assert "not implemented" in exercises.check_function(todo, [((1,), 1)], show=False).message
    with pytest.raises(TypeError, match="fn"):
        exercises.check_function(3, [])


def test_check_macro_f1_accepts_reference_and_rejects_classic_mistakes():
    assert exercises.check_macro_f1(lambda t, p: f1_score(t, p, average="macro", zero_division=0), show=False)
    micro = exercises.check_macro_f1(lambda t, p: f1_score(t, p, average="micro"), show=False)
    assert not micro


def test_check_lora_parameters():
    assert exercises.check_lora_parameters(lambda h, n, r, k: n * 4 * r * h + h * k + k, show=False)
    no_head = exercises.check_lora_parameters(lambda h, n, r, k: n * 4 * r * h, show=False)
    assert not no_head and "294,912" in no_head.message


# ---------------------------------------------------------------------------- 7 fine-tuning strategies
def test_check_linear_warmup_accepts_a_right_answer_and_explains_wrong_ones():
    def right(step, base_lr, warmup, total):
        if step < warmup:
            return base_lr * step / warmup
        return base_lr * max(0.0, (total - step) / max(1, total - warmup))

    assert exercises.check_linear_warmup(right, show=False)

    def no_warmup_guard(step, base_lr, warmup, total):  # divides by zero when warmup = 0
        return base_lr * min(step / warmup, max(0.0, (total - step) / (total - warmup)))

    fb = exercises.check_linear_warmup(no_warmup_guard, show=False)
    assert not fb and "ZeroDivisionError" in fb.message

    def negative_after_end(step, base_lr, warmup, total):
        return base_lr * step / warmup if step < warmup else base_lr * (total - step) / (total - warmup)

    fb = exercises.check_linear_warmup(negative_after_end, show=False)
    assert not fb and "never negative" in fb.message

    def todo(*args):
        raise NotImplementedError

    assert "not implemented" in exercises.check_linear_warmup(todo, show=False).message


def test_check_distillation_loss():
    import torch.nn.functional as F

    def right(s, t, T):
        return F.kl_div(F.log_softmax(s / T, -1), F.softmax(t / T, -1), reduction="batchmean") * T * T

    assert exercises.check_distillation_loss(right, show=False)

    def no_t_squared(s, t, T):
        return F.kl_div(F.log_softmax(s / T, -1), F.softmax(t / T, -1), reduction="batchmean")

    fb = exercises.check_distillation_loss(no_t_squared, show=False)
    assert not fb and "T**2" in fb.message

    def mean_reduction(s, t, T):
        return F.kl_div(F.log_softmax(s / T, -1), F.softmax(t / T, -1), reduction="mean") * T * T

    with pytest.warns(UserWarning, match="batchmean"):
        fb = exercises.check_distillation_loss(mean_reduction, show=False)
    assert not fb and "case 1" in fb.message

    def reversed_kl(s, t, T):
        return F.kl_div(F.log_softmax(t / T, -1), F.softmax(s / T, -1), reduction="batchmean") * T * T

    assert not exercises.check_distillation_loss(reversed_kl, show=False)


# ---------------------------------------------------------------------------- chapters 1-2
import math  # noqa: E402

import torch  # noqa: E402

from companion import masking  # noqa: E402


def test_check_mean_pooling():
    def right(h, m):
        m = m.unsqueeze(-1).float()
        return (h * m).sum(1) / m.sum(1)

    assert exercises.check_mean_pooling(right, show=False)
    wrong = exercises.check_mean_pooling(lambda h, m: h.mean(1), show=False)
    assert not wrong and "real tokens" in wrong.message


def _perplexity_variants():
    def right(losses, mask):
        losses, mask = np.array(losses), np.array(mask)
        return math.exp((losses * mask).sum() / mask.sum())

    def per_sequence(losses, mask):
        losses, mask = np.array(losses), np.array(mask)
        return float(np.mean([math.exp(l[m == 1].mean()) for l, m in zip(losses, mask)]))

    def with_padding(losses, mask):
        return math.exp(np.mean(losses))

    def base_two(losses, mask):
        losses, mask = np.array(losses), np.array(mask)
        return 2 ** ((losses * mask).sum() / mask.sum())

    return right, per_sequence, with_padding, base_two


def test_check_perplexity_accepts_right_and_names_the_mistake():
    right, per_sequence, with_padding, base_two = _perplexity_variants()
    assert exercises.check_perplexity(right, show=False)
    assert exercises.check_perplexity(lambda l, m: metrics_perplexity(l, m), show=False)
    for fn, words in [(per_sequence, "sum the losses first"), (with_padding, "padding"), (base_two, "exp")]:
        fb = exercises.check_perplexity(fn, show=False)
        assert not fb and words in fb.message, fb.message
    assert "not implemented" in exercises.check_perplexity(_todo2, show=False).message
    assert not exercises.check_perplexity(lambda l, m: None, show=False)


def metrics_perplexity(losses, mask):
    from companion import metrics

    labels = np.where(np.array(mask) == 1, 1, -100)
    return metrics.perplexity(np.array(losses), labels)


def _todo2(a, b):
    raise NotImplementedError


def _package_masking(ids, special, mask_id, vocab, generator):
    return masking.mlm_mask(ids, mask_token_id=mask_id, vocab_size=vocab, special_tokens_mask=special,
                            generator=generator)


def test_check_mlm_masking_accepts_the_package_and_catches_mistakes():
    assert exercises.check_mlm_masking(_package_masking, show=False)

    def all_mask(ids, special, mask_id, vocab, g):  # 100% [MASK], no random / unchanged
        sel = (torch.rand(ids.shape, generator=g) < 0.15) & ~special
        inputs = ids.clone()
        inputs[sel] = mask_id
        return inputs, torch.where(sel, ids, torch.full_like(ids, -100))

    def masks_specials(ids, special, mask_id, vocab, g):
        return masking.mlm_mask(ids, mask_token_id=mask_id, vocab_size=vocab, special_ids=[], generator=g)

    def corrupted_labels(ids, special, mask_id, vocab, g):
        inputs, labels = _package_masking(ids, special, mask_id, vocab, g)
        return inputs, torch.where(labels != -100, inputs, labels)

    def unchanged_unlabelled(ids, special, mask_id, vocab, g):  # the 10% "unchanged" get no label
        inputs, labels = _package_masking(ids, special, mask_id, vocab, g)
        labels[inputs == ids] = -100
        return inputs, labels

    def rate_30(ids, special, mask_id, vocab, g):
        return masking.mlm_mask(ids, mask_token_id=mask_id, vocab_size=vocab, special_tokens_mask=special,
                                mlm_probability=0.3, generator=g)

    expected = {all_mask: "80/10/10", masks_specials: "special", corrupted_labels: "ORIGINAL",
                unchanged_unlabelled: "80/10/10", rate_30: "expected about 15%"}
    for fn, words in expected.items():
        fb = exercises.check_mlm_masking(fn, show=False)
        assert not fb and words in fb.message, (fn.__name__, fb.message)
    assert "not implemented" in exercises.check_mlm_masking(_todo5, show=False).message
    assert "pair" in exercises.check_mlm_masking(lambda *a: a[0], show=False).message


def _todo5(a, b, c, d, e):
    raise NotImplementedError


# ---------------------------------------------------------------------------- 8.2 machine translation
def _char_bleu(hyps, refs, pooled=True, brevity=True):
    """A from-scratch character BLEU (the exercise's solution)."""
    import math
    from collections import Counter

    def grams(s, n):
        return Counter(s[i:i + n] for i in range(len(s) - n + 1))

    def score(pairs):
        match, total = [0] * 4, [0] * 4
        for h, r in pairs:
            for n in range(1, 5):
                gh, gr = grams(h, n), grams(r, n)
                match[n - 1] += sum(min(c, gr[g]) for g, c in gh.items())
                total[n - 1] += max(len(h) - n + 1, 0)
        c, r = sum(len(h) for h, _ in pairs), sum(len(x) for _, x in pairs)
        bp = 1.0 if (c > r or not brevity) else math.exp(1 - r / c)
        return 100 * bp * math.exp(sum(math.log(m / t) for m, t in zip(match, total)) / 4)

    pairs = list(zip(hyps, refs))
    return score(pairs) if pooled else sum(score([p]) for p in pairs) / len(pairs)


def test_bleu_cases_have_no_zero_precision():
    from sacrebleu.metrics import BLEU

    for h, r in exercises.BLEU_CASES:
        assert all(p > 0 for p in BLEU(tokenize="zh").corpus_score(h, [r]).precisions)


def test_check_corpus_bleu_accepts_reference_and_rejects_classic_mistakes():
    assert exercises.check_corpus_bleu(_char_bleu, show=False)
    import sacrebleu

    def mean_sentence_bleu(h, r):
        return sum(sacrebleu.sentence_bleu(x, [y], tokenize="zh").score for x, y in zip(h, r)) / len(h)

    mean = exercises.check_corpus_bleu(mean_sentence_bleu, show=False)
    assert not mean and "pool" in mean.message
    no_bp = exercises.check_corpus_bleu(lambda h, r: _char_bleu(h, r, brevity=False), show=False)
    assert not no_bp and "brevity" in no_bp.message

    wrong_tok = exercises.check_corpus_bleu(lambda h, r: sacrebleu.corpus_bleu(h, [r]).score, show=False)
    assert not wrong_tok
def test_feedback_is_displayed_once_in_ipython(capsys):
    fb = exercises.check_value(1, 1, "x")
    fb._ipython_display_()  # what IPython calls when the check is a cell's last line
    assert capsys.readouterr().out.count("x: correct") == 1
    quiet = exercises.check_value(1, 2, "y", show=False)
    quiet._ipython_display_()
    assert capsys.readouterr().out.count("y: got 1") == 1


@pytest.mark.parametrize("answer,expected", [("0.5", 0.5), (True, 1), (["1", "2"], [1, 2]), (np.array(["a", "b"]), [1, 2]),
                                             (1, True), ("a", b"a")])
def test_check_value_type_mismatch_is_a_wrong_answer(answer, expected):
    assert not exercises.check_value(answer, expected, show=False)


def test_check_value_accepts_numbers_in_any_numeric_container():
    import torch

    assert exercises.check_value(np.float32(0.5), 0.5, show=False)
    assert exercises.check_value(torch.tensor(0.5), 0.5, show=False)
    assert exercises.check_value(np.array([1.0, 2.0]), [1, 2], show=False)


def test_check_function_needs_cases_and_one_hint_per_case():
    with pytest.raises(ValueError, match="cases"):
        exercises.check_function(abs, [])
    with pytest.raises(ValueError, match="hints"):
        exercises.check_function(abs, [((1,), 1), ((-2,), 2)], hints=["h"])


def test_check_macro_f1_rejects_a_string_result():
    from companion import metrics

    assert not exercises.check_macro_f1(lambda t, p: str(metrics.macro_f1(t, p)), show=False)


# ---------------------------------------------------------------------------- chapters 3 and 4
def test_check_lsh_probability():
    assert exercises.check_lsh_probability(lambda s, b, r: 1 - (1 - s**r) ** b, show=False)
    swapped = exercises.check_lsh_probability(lambda s, b, r: 1 - (1 - s**b) ** r, show=False)
    assert not swapped and "case 1" in swapped.message
    assert not exercises.check_lsh_probability(lambda s, b, r: s**r, show=False)


def test_check_encoder_layer_parameters():
    def right(d, f):
        return (4 * d * d + 4 * d) + (2 * d * f + f + d) + 4 * d

    assert exercises.check_encoder_layer_parameters(right, show=False)
    no_bias = exercises.check_encoder_layer_parameters(lambda d, f: 4 * d * d + 2 * d * f, show=False)
    assert not no_bias and "case 1" in no_bias.message
    no_norm = exercises.check_encoder_layer_parameters(lambda d, f: right(d, f) - 4 * d, show=False)
    assert not no_norm


def test_check_lora_forward():
    def right(x, W, b, A, B, alpha):
        return x @ W.T + b + (alpha / A.shape[0]) * (x @ A.T @ B.T)

    assert exercises.check_lora_forward(right, show=False)
    wrong_scale = exercises.check_lora_forward(lambda x, W, b, A, B, alpha: x @ W.T + b + alpha * (x @ A.T @ B.T),
                                               show=False)
    assert not wrong_scale and "lora_alpha / r" in wrong_scale.message
    assert not exercises.check_lora_forward(lambda x, W, b, A, B, alpha: x @ W.T + b, show=False)


# ---------------------------------------------------------------------------- 5 and 6: fine-tuning
def test_check_layerwise_lrs():
    assert exercises.check_layerwise_lrs(lambda lr, d, n: [lr * d ** (n + 1 - k) for k in range(n + 2)], show=False)
    no_embeddings = exercises.check_layerwise_lrs(lambda lr, d, n: [lr * d ** (n - k) for k in range(n + 1)],
                                                  show=False)
    assert not no_embeddings and "num_layers + 2" in no_embeddings.message
    upside_down = exercises.check_layerwise_lrs(lambda lr, d, n: [lr * d ** k for k in range(n + 2)], show=False)
    assert not upside_down


def test_check_accumulated_loss():
    from companion.loop import naive_accumulated_mean, token_weighted_mean

    assert exercises.check_accumulated_loss(token_weighted_mean, show=False)
    naive = exercises.check_accumulated_loss(naive_accumulated_mean, show=False)
    assert not naive and "1.75" in naive.message


# ---------------------------------------------------------------------------- bad inputs (issue 16)
CHECKS_TAKING_FN = [name for name in dir(exercises) if name.startswith("check_") and name not in ("check_value", "check_function")]


def test_every_reader_check_is_listed():
    assert len(CHECKS_TAKING_FN) >= 13


@pytest.mark.parametrize("check", CHECKS_TAKING_FN)
@pytest.mark.parametrize("fn", [None, 3, "my_function", [abs]])
def test_reader_checks_need_a_function(check, fn):
    with pytest.raises(TypeError, match="fn"):
        getattr(exercises, check)(fn, show=False)


@pytest.mark.parametrize("check", CHECKS_TAKING_FN)
@pytest.mark.parametrize("show", [1, "yes", None])
def test_reader_checks_show_is_a_bool(check, show):
    with pytest.raises(TypeError, match="show"):
        getattr(exercises, check)(lambda *a: 0, show=show)


@pytest.mark.parametrize("kw,exc,name", [(dict(n=0), ValueError, "n:"), (dict(n=True), TypeError, "n:"),
                                         (dict(seq_len=3), ValueError, "seq_len"), (dict(seq_len=64.0), TypeError, "seq_len")])
def test_check_mlm_masking_sizes(kw, exc, name):
    with pytest.raises(exc, match=name):
        exercises.check_mlm_masking(lambda *a: None, show=False, **kw)


@pytest.mark.parametrize("kw,exc,name", [
    (dict(rel_tol=-1e-6), ValueError, "rel_tol"), (dict(rel_tol=float("nan")), ValueError, "rel_tol"),
    (dict(rel_tol="1e-6"), TypeError, "rel_tol"), (dict(abs_tol=True), TypeError, "abs_tol"),
    (dict(name=None), TypeError, "name"), (dict(name=3), TypeError, "name"), (dict(hint=["h"]), TypeError, "hint"),
    (dict(show=1), TypeError, "show"),
])
def test_check_value_bad_arguments(kw, exc, name):
    with pytest.raises(exc, match=name):
        exercises.check_value(1.0, 1.0, **kw)


@pytest.mark.parametrize("cases,exc,name", [
    ([((1,), 1), (1, 1)], TypeError, r"cases\[1\]"), ([((1,), 1, 2)], TypeError, r"cases\[0\]"),
    ([(1, 1)], TypeError, r"cases\[0\]"), ("cases", TypeError, "cases"), (None, TypeError, "cases"),
    ([], ValueError, "cases"),
])
def test_check_function_bad_cases(cases, exc, name):
    with pytest.raises(exc, match=name):
        exercises.check_function(abs, cases)


@pytest.mark.parametrize("kw,exc,name", [
    (dict(hints="one hint"), TypeError, "hints"), (dict(hints=[3]), TypeError, r"hints\[0\]"),
    (dict(hints=[None, None]), ValueError, "hints"), (dict(name=5), TypeError, "name"),
    (dict(rel_tol=-1.0), ValueError, "rel_tol"), (dict(abs_tol="0"), TypeError, "abs_tol"), (dict(show=0), TypeError, "show"),
])
def test_check_function_bad_arguments(kw, exc, name):
    with pytest.raises(exc, match=name):
        exercises.check_function(abs, [((-1,), 1)], **kw)


def test_check_function_gives_the_same_feedback_as_before():
    fb = exercises.check_function(abs, [((-1,), 1), ((2,), 2)], hints=[None, "h"], show=False)
    assert fb and fb.message == "abs: all 2 cases pass"
    fb = exercises.check_function(lambda x: x, [((-1,), 1)], name="absolute", hints=["use abs"], show=False)
    assert not fb and fb.message == "case 1: absolute(-1) returned -1, expected 1. Hint: use abs"


def _adam_step_reference_formula(param, grad, m, v, t, lr, beta1, beta2, eps):
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad**2
    m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
    return param - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


def test_check_adam_step_accepts_the_paper_update_and_names_the_usual_mistakes(capsys):
    assert exercises.check_adam_step(_adam_step_reference_formula, show=False)

    def no_bias_correction(param, grad, m, v, t, lr, beta1, beta2, eps):
        m = beta1 * m + (1 - beta1) * grad
        v = beta2 * v + (1 - beta2) * grad**2
        return param - lr * m / (np.sqrt(v) + eps), m, v

    def keras_style(param, grad, m, v, t, lr, beta1, beta2, eps):
        m = beta1 * m + (1 - beta1) * grad
        v = beta2 * v + (1 - beta2) * grad**2
        alpha = lr * np.sqrt(1 - beta2**t) / (1 - beta1**t)
        return param - alpha * m / (np.sqrt(v) + eps), m, v

    def params_only(*args):
        return _adam_step_reference_formula(*args)[0]

    fb = exercises.check_adam_step(no_bias_correction, show=False)
    assert not fb and "case 1" in fb.message and "bias correction" in fb.message
    fb = exercises.check_adam_step(keras_style, show=False)
    assert not fb and "case 3" in fb.message and "Keras" in fb.message
    fb = exercises.check_adam_step(params_only, show=False)
    assert not fb and "tuple (param, m, v)" in fb.message
    exercises.check_adam_step(_adam_step_reference_formula)
    assert "all 4 cases pass" in capsys.readouterr().out


def test_check_adam_step_does_not_let_the_answer_change_the_cases():
    def in_place(param, grad, m, v, t, lr, beta1, beta2, eps):
        m *= beta1
        m += (1 - beta1) * grad
        v *= beta2
        v += (1 - beta2) * grad**2
        param -= lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps)
        return param, m, v

    assert exercises.check_adam_step(in_place, show=False)


def _tensorboard_smoothing(values, weight):
    """Transcribed from TensorBoard's line chart (resmoothDataset): debiased EMA starting at 0."""
    last, out = 0.0, []
    for k, x in enumerate(values, start=1):
        last = last * weight + (1 - weight) * x
        out.append(last / (1 - weight**k) if weight != 1 else last)
    return out


def test_check_ema_smoothing_accepts_tensorboard_and_rejects_the_undebiased_average():
    assert exercises.check_ema_smoothing(_tensorboard_smoothing, show=False)

    def undebiased(values, weight):
        last, out = 0.0, []
        for x in values:
            last = last * weight + (1 - weight) * x
            out.append(last)
        return out

    def starts_at_first(values, weight):
        last, out = values[0], []
        for x in values:
            last = last * weight + (1 - weight) * x
            out.append(last)
        return out

    fb = exercises.check_ema_smoothing(undebiased, show=False)
    assert not fb and "case 1" in fb.message and "constant" in fb.message
    fb = exercises.check_ema_smoothing(starts_at_first, show=False)
    assert not fb and "case 2" in fb.message


# ---------------------------------------------------------------------------- 9 chat LLMs
def test_check_llama_parameters():
    from companion.llm import llama_parameter_count

    assert exercises.check_llama_parameters(llama_parameter_count, show=False)

    def mha_kv(config):  # forgets grouped-query attention: k and v as large as q
        return llama_parameter_count({**config, "num_key_value_heads": config["num_attention_heads"]})

    wrong = exercises.check_llama_parameters(mha_kv, show=False)
    assert not wrong and "num_key_value_heads" in wrong.message

    def always_tied(config):
        return llama_parameter_count({**config, "tie_word_embeddings": True})

    assert not exercises.check_llama_parameters(always_tied, show=False)


def test_check_kv_cache_bytes():
    def right(n, kv, hd, t, b, nbytes):
        return 2 * n * b * t * kv * hd * nbytes

    assert exercises.check_kv_cache_bytes(right, show=False)
    keys_only = exercises.check_kv_cache_bytes(lambda n, kv, hd, t, b, nbytes: n * b * t * kv * hd * nbytes, show=False)
    assert not keys_only and "K and V" in keys_only.message


def test_check_paired_se():
    import numpy as np

    def right(a, b):
        d = np.asarray(a, float) - np.asarray(b, float)
        return d.std(ddof=1) / np.sqrt(len(d))

    assert exercises.check_paired_se(right, show=False)
    unpaired = exercises.check_paired_se(
        lambda a, b: float(np.hypot(np.std(a, ddof=1) / np.sqrt(len(a)), np.std(b, ddof=1) / np.sqrt(len(b)))),
        show=False)
    assert not unpaired
    population = exercises.check_paired_se(lambda a, b: (np.asarray(a) - np.asarray(b)).std() / np.sqrt(len(a)),
                                           show=False)
    assert not population and "ddof" in population.message


def test_check_dpo_loss():
    import torch.nn.functional as F

    def right(pc, pr, rc, rr, beta):
        return -F.logsigmoid(beta * ((pc - rc) - (pr - rr))).mean()

    assert exercises.check_dpo_loss(right, show=False)
    summed = exercises.check_dpo_loss(lambda pc, pr, rc, rr, beta: -F.logsigmoid(beta * ((pc - rc) - (pr - rr))).sum(),
                                      show=False)
    assert not summed and "log 2" in summed.message
    flipped = exercises.check_dpo_loss(lambda pc, pr, rc, rr, beta: -F.logsigmoid(beta * ((pr - rr) - (pc - rc))).mean(),
                                       show=False)
    assert not flipped
    unimplemented = exercises.check_dpo_loss(lambda *a: (_ for _ in ()).throw(NotImplementedError()), show=False)
    assert not unimplemented and "not implemented" in unimplemented.message
