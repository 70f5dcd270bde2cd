import math
import numpy as np
import pytest
import torch
from torch import nn
from torch.nn.utils import prune
from transformers import BertConfig, BertForSequenceClassification

from companion import compression as C


def small_bert(**kw):
    torch.manual_seed(0)
    cfg = dict(vocab_size=60, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=40,
               hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    return BertForSequenceClassification(BertConfig(**{**cfg, **kw})).eval()


# ------------------------------------------------------------------ pruning field cases
def test_ten_by_ten_linear_field_case():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(10, 10))
    before = model[0].weight.detach().clone()
    assert C.prune_linear(model, 0.4, scope="local") == ["0"]
    state = model.state_dict()
    assert {"0.weight_orig", "0.weight_mask", "0.bias"} == set(state)
    assert int((model[0].weight == 0).sum()) == 40 and int((state["0.weight_mask"] == 0).sum()) == 40
    torch.testing.assert_close(state["0.weight_orig"], before)  # the original weights are kept
    # the 40 smallest magnitudes are the ones zeroed
    threshold = before.abs().flatten().sort().values[39]
    assert torch.all(before.abs()[model[0].weight == 0] <= threshold)
    assert C.make_permanent(model) == ["0"]
    state = model.state_dict()
    assert {"0.weight", "0.bias"} == set(state)
    assert int((state["0.weight"] == 0).sum()) == 40
    assert C.sparsity(model)["global"] == pytest.approx(0.4)


def test_pruning_matches_torch_prune_directly():
    a, b = small_bert(), small_bert()
    C.prune_linear(a, 0.3, scope="global", exclude=("classifier",))
    layers = [m for n, m in b.named_modules() if type(m) is nn.Linear and not n.startswith("classifier")]
    prune.global_unstructured([(m, "weight") for m in layers], pruning_method=prune.L1Unstructured, amount=0.3)
    for (na, ma), (nb, mb) in zip(C.linear_layers(a).items(), C.linear_layers(b).items()):
        torch.testing.assert_close(ma.weight, mb.weight)


def test_global_and_local_sparsity_are_reported_correctly():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(100, 100), nn.Linear(100, 10))
    with torch.no_grad():
        model[1].weight.mul_(100)  # the small layer has large weights: global pruning spares it
    C.prune_linear(model, 0.5, scope="global")
    s = C.sparsity(model)
    assert s["global"] == pytest.approx(0.5, abs=1e-3)
    assert s["per_layer"]["1"] < 0.01 and s["per_layer"]["0"] > 0.54
    naive = np.mean(list(s["per_layer"].values()))
    assert abs(naive - s["global"]) > 0.2  # averaging per-layer fractions would misreport it
    assert s["zeros"] == round(0.5 * s["weights"])

    local = nn.Sequential(nn.Linear(100, 100), nn.Linear(100, 10))
    C.prune_linear(local, 0.5, scope="local")
    assert all(v == pytest.approx(0.5) for v in C.sparsity(local)["per_layer"].values())


def test_dense_file_does_not_shrink_but_sparse_or_structured_does():
    model = small_bert(hidden_size=64, intermediate_size=256, vocab_size=30)
    dense = C.state_dict_bytes(model)
    C.prune_linear(model, 0.8, exclude=("classifier",))
    with pytest.raises(ValueError, match="make_permanent"):
        C.sparse_state_dict(model)
    C.make_permanent(model)
    assert C.state_dict_bytes(model) == pytest.approx(dense, rel=0.01)  # same bytes, more zeros
    sparse = C.sparse_state_dict(model)
    assert C.state_dict_bytes(sparse) < 0.7 * dense
    restored = {k: v.to_dense() if v.layout == torch.sparse_csr else v for k, v in sparse.items()}
    for k, v in model.state_dict().items():
        torch.testing.assert_close(restored[k], v)


def test_structured_ffn_pruning_shrinks_and_reloads(tmp_path):
    model = small_bert()
    ids = torch.randint(5, 60, (3, 7))
    before_bytes = C.state_dict_bytes(model)
    out_full = model(input_ids=ids).logits
    C.prune_ffn_neurons(model, 0.0)
    torch.testing.assert_close(model(input_ids=ids).logits, out_full)  # nothing removed: same function
    C.prune_ffn_neurons(model, 0.5)
    assert model.config.intermediate_size == 20
    for layer in model.bert.encoder.layer:
        assert layer.intermediate.dense.weight.shape == (20, 16) and layer.output.dense.weight.shape == (16, 20)
    assert C.state_dict_bytes(model) < before_bytes
    model.save_pretrained(tmp_path)
    again = BertForSequenceClassification.from_pretrained(tmp_path).eval()
    torch.testing.assert_close(again(input_ids=ids).logits, model(input_ids=ids).logits)
    with pytest.raises(ValueError, match="amount"):
        C.prune_ffn_neurons(model, 1.0)
    with pytest.raises(TypeError, match="model"):
        C.prune_ffn_neurons(nn.Linear(2, 2), 0.5)


def test_ffn_pruning_removes_the_weakest_neuron():
    model = small_bert(num_hidden_layers=1)
    layer = model.bert.encoder.layer[0]
    with torch.no_grad():
        layer.intermediate.dense.weight[7].mul_(1e-3)
    keep_rows = [i for i in range(40) if i != 7]
    expected = layer.intermediate.dense.weight.detach()[keep_rows].clone()
    C.prune_ffn_neurons(model, 1 / 40)
    torch.testing.assert_close(layer.intermediate.dense.weight.detach(), expected)


def test_pruning_errors():
    with pytest.raises(ValueError, match="amount"):
        C.prune_linear(nn.Linear(3, 3), 1.5)
    with pytest.raises(ValueError, match="scope"):
        C.prune_linear(nn.Linear(3, 3), 0.5, scope="layer")
    with pytest.raises(ValueError, match="model"):
        C.prune_linear(nn.Sequential(nn.Linear(3, 3)), 0.5, exclude=("0",))
    with pytest.raises(TypeError, match="model"):
        C.linear_layers("bert")


# ------------------------------------------------------------------ quantisation
@pytest.fixture(scope="module")
def bert_base_pair():
    torch.manual_seed(0)
    model = BertForSequenceClassification(BertConfig(num_labels=2)).eval()  # bert-base-uncased's shapes
    return model, C.quantize_dynamic(model)


def test_bert_base_field_case(bert_base_pair):
    model, quantized = bert_base_pair
    paths = C.quantized_paths(quantized)
    assert len(paths) == 74  # 12 layers x (query, key, value, attention output, intermediate, output) + pooler + head
    assert set(paths) == set(C.linear_layers(model))  # exactly the float Linear layers, at the same paths
    # class names cannot tell them apart
    count_by_name = sum(type(m).__name__ == "Linear" for m in quantized.modules())
    assert count_by_name == 74 and len(C.linear_layers(quantized)) == 0
    assert C.state_dict_bytes(model) / 1e6 == pytest.approx(438, abs=2)
    assert C.state_dict_bytes(quantized) / 1e6 == pytest.approx(182, abs=2)
    assert type(quantized.bert.embeddings.word_embeddings) is nn.Embedding  # embeddings stay float
    assert quantized.bert.embeddings.word_embeddings.weight.dtype == torch.float32
    assert C.quantized_paths(model) == []


def test_quantized_model_is_close_and_original_untouched():
    model = small_bert(hidden_size=64, intermediate_size=128)
    ids = torch.randint(5, 60, (4, 12))
    q = C.quantize_dynamic(model)
    assert C.quantized_paths(model) == []
    ref, out = model(input_ids=ids).logits, q(input_ids=ids).logits
    assert (out - ref).abs().max() < 0.05 * ref.abs().max() + 0.02
    with pytest.raises(TypeError, match="model"):
        C.quantize_dynamic("bert")


# ------------------------------------------------------------------ distillation
def test_distillation_loss_is_t_squared_times_kl():
    torch.manual_seed(0)
    s, t = torch.randn(8, 5), torch.randn(8, 5)
    T = 3.0
    p_t = torch.softmax(t / T, -1)
    kl = (p_t * (p_t.log() - torch.log_softmax(s / T, -1))).sum(-1).mean()
    assert C.distillation_loss(s, t, T).item() == pytest.approx(T * T * kl.item(), rel=1e-5)
    assert C.distillation_loss(t, t, T).item() == pytest.approx(0.0, abs=1e-6)
    assert C.distillation_loss(s, t, T, reduction="sum").item() == pytest.approx(8 * T * T * kl.item(), rel=1e-5)


def test_distillation_gradient_scale_does_not_fall_with_temperature():
    torch.manual_seed(0)
    s = torch.randn(64, 10, requires_grad=True)
    t = torch.randn(64, 10)

    def grad_norm(T, scaled=True):
        s.grad = None
        loss = C.distillation_loss(s, t, T)
        (loss if scaled else loss / (T * T)).backward()
        return s.grad.norm().item()

    ratio = grad_norm(4.0) / grad_norm(1.0)
    assert 0.8 <= ratio <= 1.25
    unscaled = grad_norm(4.0, scaled=False) / grad_norm(1.0, scaled=False)
    assert unscaled < 0.1  # without T^2 the gradient shrinks about 16-fold


def test_distillation_teacher_gets_no_gradient_and_errors():
    t = torch.randn(4, 3, requires_grad=True)
    s = torch.randn(4, 3, requires_grad=True)
    C.distillation_loss(s, t, 2.0).backward()
    assert t.grad is None and s.grad is not None
    with pytest.raises(ValueError, match="temperature"):
        C.distillation_loss(s, t, 0.0)
    with pytest.raises(ValueError, match="teacher_logits"):
        C.distillation_loss(s, torch.randn(4, 2), 2.0)
    with pytest.raises(ValueError, match="reduction"):
        C.distillation_loss(s, t, 2.0, reduction="mean")


def test_latency_is_measured():
    from datasets import Dataset

    from companion.data import train_wordpiece_tokenizer

    model = small_bert()
    tok = train_wordpiece_tokenizer(["a b c d e f g h"] * 5, vocab_size=55)
    ds = Dataset.from_dict({"input_ids": [[2, 10, 11, 12, 3], [2, 10, 3]] * 5})
    ms = C.latency_ms(model, ds, tok, batch_size=4, repeats=2)
    assert 0 < ms < 1000
    assert 0 < C.latency_ms(model, [{"input_ids": [2, 10, 11, 3]}] * 3, tok, batch_size=2, repeats=1) < 1000
    for kw, error, name in [(dict(repeats=0), ValueError, "repeats"), (dict(repeats=True), TypeError, "repeats"),
                            (dict(batch_size=0), ValueError, "batch_size"), (dict(batch_size=2.0), TypeError, "batch_size")]:
        with pytest.raises(error, match=rf"^{name}\b"):
            C.latency_ms(model, ds, tok, **kw)
    with pytest.raises(ValueError, match="dataset"):
        C.latency_ms(model, ds.select([]), tok)


# ------------------------------------------------------------------ bad inputs (issue 16)
BAD_FRACTION = [("0.5", TypeError), (True, TypeError), (None, TypeError), (math.nan, ValueError), (math.inf, ValueError),
                (-0.1, ValueError), (1.5, ValueError), ([0.5], TypeError)]


@pytest.mark.parametrize("value,exc", BAD_FRACTION)
def test_fractions(value, exc):
    with pytest.raises(exc, match="min_sparsity"):
        C.sparse_state_dict(nn.Linear(3, 3), value)
    with pytest.raises(exc, match="amount"):
        C.prune_linear(nn.Linear(3, 3), value)
    with pytest.raises(exc, match="amount"):
        C.prune_ffn_neurons(small_bert(num_hidden_layers=1), value)


@pytest.mark.parametrize("value,exc", [(math.nan, ValueError), (math.inf, ValueError), (0, ValueError), (-2.0, ValueError),
                                       ("2.0", TypeError), (True, TypeError), (None, TypeError)])
def test_distillation_temperature(value, exc):
    s, t = torch.randn(4, 3), torch.randn(4, 3)
    with pytest.raises(exc, match="temperature"):
        C.distillation_loss(s, t, value)


@pytest.mark.parametrize("student,teacher,exc,name", [
    (torch.randn(4, 3).long(), torch.randn(4, 3), TypeError, "student_logits"),
    ([[0.0, 1.0]], torch.randn(1, 2), TypeError, "student_logits"),
    (torch.randn(4, 3), np.zeros((4, 3)), TypeError, "teacher_logits"),
    (torch.randn(4, 3, 2), torch.randn(4, 3, 2), ValueError, "student_logits"),
    (torch.randn(4, 3), torch.randn(3, 4), ValueError, "teacher_logits"),
])
def test_distillation_logits(student, teacher, exc, name):
    with pytest.raises(exc, match=name):
        C.distillation_loss(student, teacher, 2.0)
    with pytest.raises(ValueError, match="reduction"):
        C.distillation_loss(torch.randn(2, 2), torch.randn(2, 2), 2.0, reduction=None)


@pytest.mark.parametrize("model", ["bert", None, {"w": torch.ones(1)}])
def test_model_must_be_a_module(model):
    for fn in (lambda: C.sparse_state_dict(model), lambda: C.prune_linear(model, 0.5), lambda: C.make_permanent(model),
               lambda: C.sparsity(model), lambda: C.quantize_dynamic(model), lambda: C.quantized_paths(model),
               lambda: C.latency_ms(model, [[2, 3]], None)):
        with pytest.raises(TypeError, match="model"):
            fn()
    if model is not None and not isinstance(model, dict):
        with pytest.raises(TypeError, match="model_or_state"):
            C.state_dict_bytes(model)


def test_exclude_as_one_string_is_one_prefix():
    model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2))
    assert list(C.linear_layers(model, exclude="1")) == ["0"]  # not the characters of the string
    with pytest.raises(TypeError, match="exclude"):
        C.linear_layers(model, exclude=[1])
    with pytest.raises(ValueError, match="scope"):
        C.prune_linear(model, 0.5, scope=None)
    with pytest.raises(ValueError, match="dtype"):
        C.quantize_dynamic(model, dtype=torch.float32)


# ---------------------------------------------------------------------------- bad inputs (probe classes)
@pytest.mark.parametrize("name", ["student_logits", "teacher_logits"])
@pytest.mark.parametrize("bad,error", [
    (torch.tensor([[math.nan, 0.0, 0.0], [0.0, 0.0, 0.0]]), ValueError),
    (torch.tensor([[math.inf, 0.0, 0.0], [0.0, 0.0, 0.0]]), ValueError),
    (torch.tensor([[0.0, -math.inf, 0.0], [0.0, 0.0, 0.0]]), ValueError),
    (torch.zeros(2, 3, dtype=torch.long), TypeError), ([[0.0] * 3] * 2, TypeError), (None, TypeError),
    (torch.zeros(2, 4), ValueError),
])
def test_distillation_loss_bad_logits_are_named(name, bad, error):
    args = dict(student_logits=torch.zeros(2, 3), teacher_logits=torch.zeros(2, 3)) | {name: bad}
    with pytest.raises(error, match=name):
        C.distillation_loss(**args)


@pytest.mark.parametrize("dataset,error", [(None, TypeError), (5, TypeError), ("text", TypeError), ([], ValueError)])
def test_latency_ms_bad_dataset_is_named(dataset, error):
    with pytest.raises(error, match="dataset"):
        C.latency_ms(small_bert(), dataset, None)
