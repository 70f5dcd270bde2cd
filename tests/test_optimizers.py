import math

import pytest
import torch
from transformers import BertForSequenceClassification, Trainer

from companion import models, optimizers


def _tiny(seed=0):
    torch.manual_seed(seed)
    return BertForSequenceClassification(models.tiny_bert_config(50, 2))


# ---------------------------------------------------------------------------- parameter groups
def test_decay_names_match_the_trainer():
    model = _tiny()
    ours = optimizers.decay_parameter_names(model)
    reference = Trainer.get_decay_parameter_names(None, model)
    assert sorted(ours) == sorted(reference)
    assert not any("bias" in n or "LayerNorm" in n for n in ours)


def test_param_groups_split_and_skip_frozen():
    model = _tiny()
    model.bert.embeddings.requires_grad_(False)
    groups = optimizers.param_groups(model, 0.01)
    assert [g["weight_decay"] for g in groups] == [0.01, 0.0]
    in_groups = {id(p) for g in groups for p in g["params"]}
    assert in_groups == {id(p) for p in model.parameters() if p.requires_grad}
    with pytest.raises(ValueError, match="weight_decay"):
        optimizers.param_groups(model, -1.0)


def test_per_prefix_learning_rates_cover_every_parameter_once():
    """The encoder-decoder case of chapter 8.2: a pretrained encoder at a small rate, the new decoder at a large one."""
    model = _tiny()
    groups = optimizers.param_groups(model, 0.01, lr=1e-3, lr_by_prefix={"bert.": 1e-5, "bert.encoder.layer.1.": 1e-4})
    ids = [id(p) for g in groups for p in g["params"]]
    assert len(ids) == len(set(ids)) == len(list(model.parameters()))
    rate = {id(p): g["lr"] for g in groups for p in g["params"]}
    for name, p in model.named_parameters():
        expected = 1e-4 if name.startswith("bert.encoder.layer.1.") else 1e-5 if name.startswith("bert.") else 1e-3
        assert rate[id(p)] == expected, name  # the longest matching prefix wins
    decay = set(optimizers.decay_parameter_names(model))
    for g in groups:
        assert all((n in decay) == (g["weight_decay"] == 0.01) for n, p in model.named_parameters()
                   if id(p) in {id(q) for q in g["params"]})
    assert all("lr" not in g for g in optimizers.param_groups(model, 0.01))  # no rates given: the optimiser's


def test_a_scheduler_keeps_the_per_group_peaks():
    from transformers import get_linear_schedule_with_warmup

    model = _tiny()
    opt = torch.optim.AdamW(optimizers.param_groups(model, 0.01, lr=1e-3, lr_by_prefix={"bert.": 1e-4}))
    sched = get_linear_schedule_with_warmup(opt, 2, 10)
    lrs = []
    for _ in range(10):
        lrs.append(sorted({g["lr"] for g in opt.param_groups}))
        opt.step()
        sched.step()
    assert lrs[0] == [0.0]
    assert lrs[2] == pytest.approx([1e-4, 1e-3])  # the peaks, after warm-up
    assert lrs[6][1] / lrs[6][0] == pytest.approx(10.0) and lrs[6][1] < 1e-3


@pytest.mark.parametrize("kw,error,name", [
    (dict(lr=0.0), ValueError, "lr"), (dict(lr=float("inf")), ValueError, "lr"), (dict(lr="1e-3"), TypeError, "lr"),
    (dict(lr=True), TypeError, "lr"), (dict(lr_by_prefix={"decoder.": 1e-3}), ValueError, "lr_by_prefix"),
    (dict(lr_by_prefix={"bert.": 0}), ValueError, "lr_by_prefix"),
    (dict(lr_by_prefix={"bert.": float("nan")}), ValueError, "lr_by_prefix"),
    (dict(lr_by_prefix={"": 1e-3}), TypeError, "lr_by_prefix"), (dict(lr_by_prefix={3: 1e-3}), TypeError, "lr_by_prefix"),
])
def test_param_groups_bad_rates_are_named(kw, error, name):
    with pytest.raises(error, match=rf"^{name}\b"):
        optimizers.param_groups(_tiny(), 0.01, **kw)


def test_layer_index_and_llrd_rates():
    model = _tiny()  # 2 encoder blocks
    assert optimizers.num_encoder_layers(model) == 2
    assert optimizers.layer_index("bert.embeddings.word_embeddings.weight", 2) == 0
    assert optimizers.layer_index("bert.encoder.layer.1.output.dense.weight", 2) == 2
    assert optimizers.layer_index("classifier.weight", 2) == 3
    groups = optimizers.layerwise_lr_groups(model, lr=1.0, decay=0.5, weight_decay=0.1)
    rates = {g["depth"]: g["lr"] for g in groups}
    assert rates == {0: 0.125, 1: 0.25, 2: 0.5, 3: 1.0}
    assert {id(p) for g in groups for p in g["params"]} == {id(p) for p in model.parameters()}
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))
    assert all(g["weight_decay"] in (0.0, 0.1) for g in groups)
    # a scheduler scales every group by the same factor
    initial = [g["lr"] for g in groups]
    opt = torch.optim.AdamW(groups, lr=1.0)
    torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 0.5)
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([lr * 0.5 for lr in initial])
    with pytest.raises(ValueError, match="decay"):
        optimizers.layerwise_lr_groups(model, lr=1.0, decay=0.0)
    with pytest.raises(ValueError, match="model"):
        optimizers.layerwise_lr_groups(torch.nn.Linear(2, 2), lr=1.0, decay=0.9)


def test_freeze_lower_layers():
    model = _tiny()
    n_emb = sum(p.numel() for p in model.bert.embeddings.parameters())
    n_l0 = sum(p.numel() for p in model.bert.encoder.layer[0].parameters())
    assert optimizers.freeze_lower_layers(model, 1) == n_emb + n_l0
    assert not any(p.requires_grad for p in model.bert.encoder.layer[0].parameters())
    assert all(p.requires_grad for p in model.bert.encoder.layer[1].parameters())
    assert all(p.requires_grad for p in model.classifier.parameters())
    with pytest.raises(ValueError, match="n_layers"):
        optimizers.freeze_lower_layers(_tiny(), 3)


# ---------------------------------------------------------------------------- optimisers
def test_adam_couples_l2_and_adamw_decouples_it():
    """With a zero gradient, AdamW shrinks w by lr*wd*w; Adam's L2 term goes through the adaptive
    denominator and moves w by about lr, whatever its size."""
    lr, wd = 0.01, 0.1
    for name, expected in [("adamw", 5.0 * (1 - lr * wd)), ("adam", 5.0 - lr)]:
        w = torch.nn.Parameter(torch.tensor([5.0]))
        opt = optimizers.make_optimizer(name, [w], lr=lr, weight_decay=wd)
        w.grad = torch.zeros(1)
        opt.step()
        assert float(w.detach()) == pytest.approx(expected, rel=1e-5), name
    with pytest.raises(ValueError, match="name"):
        optimizers.make_optimizer("lion", [w], lr=1e-3)
    assert isinstance(optimizers.make_optimizer("adafactor", [w], lr=1e-2), torch.optim.Adafactor)
    assert isinstance(optimizers.make_optimizer("sgd", [w], lr=1e-2), torch.optim.SGD)


def test_optimizer_state_bytes_adamw_vs_adafactor():
    m, n = 64, 32
    sizes = {}
    for name in ("adamw", "adafactor", "sgd"):
        w = torch.nn.Parameter(torch.randn(m, n))
        opt = optimizers.make_optimizer(name, [w], lr=1e-3)
        assert optimizers.optimizer_state_bytes(opt) == 0  # state is created by the first step
        w.grad = torch.randn(m, n)
        opt.step()
        sizes[name] = optimizers.optimizer_state_bytes(opt)
    assert sizes["adamw"] == 2 * m * n * 4 + 4          # two moments + the step counter
    assert sizes["adafactor"] == (m + n) * 4 + 4        # a row and a column vector + the step counter
    assert sizes["sgd"] == m * n * 4                    # the momentum buffer


# ---------------------------------------------------------------------------- MeZO
def _problem(seed=0):
    g = torch.Generator().manual_seed(seed)
    X, y = torch.randn(40, 6, generator=g, dtype=torch.float64), torch.randn(40, generator=g, dtype=torch.float64)
    w = torch.nn.Parameter(torch.randn(6, 3, generator=g, dtype=torch.float64) * 0.3)
    v = torch.nn.Parameter(torch.randn(3, generator=g, dtype=torch.float64) * 0.3)

    def loss():
        return ((torch.tanh(X @ w) @ v - y) ** 2).mean()

    return [w, v], loss


def _z(params, seed):
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(p.shape, generator=gen, dtype=p.dtype) for p in params]


def test_mezo_projected_gradient_is_the_directional_derivative():
    params, loss = _problem()
    loss().backward()
    z = _z(params, seed=123)
    directional = sum(float((p.grad * zi).sum()) for p, zi in zip(params, z))
    start = [p.detach().clone() for p in params]
    lr = 1e-3
    value, g = optimizers.mezo_step(params, loss, lr=lr, eps=1e-5, seed=123)
    assert g == pytest.approx(directional, rel=1e-6)
    for p, p0, zi in zip(params, start, z):  # θ ← θ − lr · g · z, with z regenerated from the seed
        assert torch.allclose(p.detach(), p0 - lr * g * zi, atol=1e-12)
    assert isinstance(value, float)


@pytest.fixture
def one_thread():
    """Thousands of tiny tensor operations run much faster on one thread than on a busy pool."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_mezo_estimate_is_unbiased_on_average(one_thread):
    """The MeZO update direction g·z averages to the true gradient (autograd) over many seeds."""
    params, loss = _problem(seed=1)
    loss().backward()
    grad = torch.cat([p.grad.reshape(-1) for p in params])
    start = [p.detach().clone() for p in params]
    lr, estimates = 1e-8, []
    for seed in range(2000):
        optimizers.mezo_step(params, loss, lr=lr, eps=1e-4, seed=seed)
        with torch.no_grad():
            estimates.append(torch.cat([(p0 - p).reshape(-1) / lr for p, p0 in zip(params, start)]))
            for p, p0 in zip(params, start):
                p.copy_(p0)
    mean = torch.stack(estimates).mean(0)
    assert float(torch.nn.functional.cosine_similarity(mean, grad, dim=0)) > 0.95


def test_mezo_optimiser_reduces_the_loss_without_state(one_thread):
    params, loss = _problem(seed=2)
    start = float(loss())
    opt = optimizers.MeZO(params, lr=2e-3, eps=1e-3, seed=0)
    for _ in range(400):
        opt.step(loss)
    assert float(loss()) < 0.8 * start
    assert opt.state == {} and all(p.grad is None for p in params)
    with pytest.raises(ValueError, match="lr"):
        optimizers.mezo_step(params, loss, lr=0.0, seed=0)
    with pytest.raises(ValueError, match="eps"):
        optimizers.mezo_step(params, loss, lr=1e-3, eps=-1.0, seed=0)
    with pytest.raises(ValueError, match="params"):
        optimizers.MeZO([], lr=1e-3)
    assert math.isfinite(float(loss()))


# ---------------------------------------------------------------------------- bad input (newcomer probes)
@pytest.mark.parametrize("bad,error", [(-1.0, ValueError), (float("nan"), ValueError), (float("inf"), ValueError),
                                       (True, TypeError), ("0.01", TypeError), (None, TypeError)])
def test_weight_decay_must_be_a_finite_non_negative_number(bad, error):
    w = torch.nn.Parameter(torch.zeros(2))
    with pytest.raises(error, match="weight_decay"):
        optimizers.param_groups(_tiny(), bad)
    with pytest.raises(error, match="weight_decay"):
        optimizers.layerwise_lr_groups(_tiny(), 1e-3, 0.9, weight_decay=bad)
    with pytest.raises(error, match="weight_decay"):
        optimizers.make_optimizer("adamw", [w], 1e-3, weight_decay=bad)


@pytest.mark.parametrize("bad,error", [(0.0, ValueError), (-1e-3, ValueError), (float("inf"), ValueError),
                                       (float("nan"), ValueError), ("1e-3", TypeError), (True, TypeError)])
def test_learning_rates_must_be_positive_finite_numbers(bad, error):
    w = torch.nn.Parameter(torch.zeros(2))
    with pytest.raises(error, match="lr"):
        optimizers.make_optimizer("adamw", [w], bad)
    with pytest.raises(error, match="lr"):
        optimizers.layerwise_lr_groups(_tiny(), bad, 0.9)


@pytest.mark.parametrize("bad,error", [(0.0, ValueError), (1.5, ValueError), (float("nan"), ValueError),
                                       ("0.9", TypeError), (True, TypeError)])
def test_llrd_decay_must_be_in_0_1(bad, error):
    with pytest.raises(error, match="decay"):
        optimizers.layerwise_lr_groups(_tiny(), 1e-3, bad)


@pytest.mark.parametrize("bad,error", [(True, TypeError), (0, ValueError), (-2, ValueError), (2.0, TypeError)])
def test_layer_index_and_freezing_count_layers_as_ints(bad, error):
    with pytest.raises(error, match="num_layers"):
        optimizers.layer_index("bert.encoder.layer.0.output.dense.weight", bad)
    if bad != 0:
        with pytest.raises(error, match="n_layers"):
            optimizers.freeze_lower_layers(_tiny(), bad)


@pytest.mark.parametrize("result", [float("nan"), float("inf"), torch.tensor([1.0, 2.0]), "raise"])
def test_mezo_step_restores_the_parameters_when_the_loss_is_unusable(result):
    params, _ = _problem()
    start = [p.detach().clone() for p in params]

    def loss_fn():
        if isinstance(result, str):
            raise RuntimeError("out of memory")
        return result

    with pytest.raises((ValueError, RuntimeError)):
        optimizers.mezo_step(params, loss_fn, lr=1e-3, seed=0)
    for p, s in zip(params, start):
        assert torch.allclose(p, s, atol=1e-12)  # back where they started (up to rounding)


def test_mezo_rejects_infinite_rates_and_parameter_groups():
    params, loss = _problem()
    for lr, error in ((float("inf"), ValueError), (float("nan"), ValueError), (True, TypeError), ("1", TypeError)):
        with pytest.raises(error, match="lr"):
            optimizers.mezo_step(params, loss, lr=lr, seed=0)
    for seed, error in ((-1, ValueError), (1.5, TypeError), (None, TypeError)):
        with pytest.raises(error, match="seed"):
            optimizers.mezo_step(params, loss, lr=1e-3, seed=seed)
    with pytest.raises(TypeError, match="params"):
        optimizers.MeZO([{"params": params}], lr=1e-3)


# ---------------------------------------------------------------------------- bad inputs (review: bad-inputs.md)
@pytest.mark.parametrize("model", [None, 5, "bert", [torch.nn.Linear(2, 2)]])
def test_functions_of_a_model_need_a_module(model):
    for call in (lambda: optimizers.decay_parameter_names(model), lambda: optimizers.num_encoder_layers(model),
                 lambda: optimizers.param_groups(model, 0.01), lambda: optimizers.freeze_lower_layers(model, 0),
                 lambda: optimizers.layerwise_lr_groups(model, 1e-3, 0.9)):
        with pytest.raises(TypeError, match="model"):
            call()


@pytest.mark.parametrize("name", [None, 5, 1.5, True, ["layer.0."]])
def test_layer_index_needs_a_parameter_name(name):
    with pytest.raises(TypeError, match="name"):
        optimizers.layer_index(name, 2)


@pytest.mark.parametrize("groups,error", [([], ValueError), (None, TypeError), ([1, 2], TypeError), ("abc", TypeError),
                                          (5, TypeError), ([None], TypeError), (torch.zeros(2), TypeError)])
def test_make_optimizer_checks_its_groups(groups, error):
    with pytest.raises(error, match="groups"):
        optimizers.make_optimizer("adamw", groups, 1e-3)


@pytest.mark.parametrize("prefixes", [[1], "bert.", 5, [("bert.", 1e-3)]])
def test_lr_by_prefix_must_be_a_dict(prefixes):
    model = torch.nn.Linear(2, 2)
    with pytest.raises(TypeError, match="lr_by_prefix"):
        optimizers.param_groups(model, 0.0, lr=1e-3, lr_by_prefix=prefixes)


@pytest.mark.parametrize("optimizer", [None, 5, "adamw", [1]])
def test_optimizer_state_bytes_needs_an_optimizer(optimizer):
    with pytest.raises(TypeError, match="optimizer"):
        optimizers.optimizer_state_bytes(optimizer)


@pytest.mark.parametrize("seed,error", [(True, TypeError), ("1", TypeError), (1.5, TypeError), (-1, ValueError),
                                        (None, TypeError), (float("nan"), TypeError)])
def test_mezo_seed_is_checked(seed, error):
    with pytest.raises(error, match="seed"):
        optimizers.MeZO(torch.nn.Linear(2, 1).parameters(), lr=1e-3, seed=seed)


@pytest.mark.parametrize("params", [None, 5, [1.0], ["w"], [None]])
def test_mezo_params_must_be_tensors(params):
    loss = lambda: 0.0  # noqa: E731
    with pytest.raises(TypeError, match="params"):
        optimizers.MeZO(params, lr=1e-3)
    with pytest.raises(TypeError, match="params"):
        optimizers.mezo_step(params, loss, lr=1e-3, seed=0)


@pytest.mark.parametrize("loss_fn", [5, None, "loss", [lambda: 0.0]])
def test_mezo_loss_fn_must_be_callable_and_params_stay(loss_fn):
    lin = torch.nn.Linear(2, 1)
    before = [p.detach().clone() for p in lin.parameters()]
    with pytest.raises(TypeError, match="loss_fn"):
        optimizers.mezo_step(list(lin.parameters()), loss_fn, lr=1e-3, seed=0)
    with pytest.raises(TypeError, match="loss_fn"):
        optimizers.MeZO(lin.parameters(), lr=1e-3).step(loss_fn)
    assert all(torch.equal(a, b) for a, b in zip(before, lin.parameters()))


@pytest.mark.parametrize("value", ["abc", None, [1.0], True])
def test_mezo_a_loss_that_is_not_a_number_is_named_and_params_restored(value):
    lin = torch.nn.Linear(2, 1)
    before = [p.detach().clone() for p in lin.parameters()]
    with pytest.raises(TypeError, match="loss_fn"):
        optimizers.mezo_step(list(lin.parameters()), lambda: value, lr=1e-3, seed=0)
    assert all(torch.allclose(a, b) for a, b in zip(before, lin.parameters()))
