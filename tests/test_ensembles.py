import math
import numpy as np
import pytest
import torch
from scipy import stats
from torch.optim.swa_utils import AveragedModel
from transformers import BertConfig, BertForSequenceClassification

from companion import ensembles as E


def small_bert(seed):
    torch.manual_seed(seed)
    return BertForSequenceClassification(BertConfig(vocab_size=40, hidden_size=16, num_hidden_layers=1,
                                                    num_attention_heads=2, intermediate_size=32,
                                                    hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)).eval()


# ------------------------------------------------------------------ output ensembles
def test_average_logits_and_probabilities():
    a = np.array([[2.0, 0.0], [0.0, 1.0]])
    b = np.array([[0.0, 4.0], [1.0, 0.0]])
    np.testing.assert_allclose(E.average_logits([a, b]), [[1.0, 2.0], [0.5, 0.5]])
    np.testing.assert_allclose(E.average_logits([a, b], weights=[3, 1]), (3 * a + b) / 4)
    p = E.average_probabilities([a, b])
    ref = (torch.softmax(torch.tensor(a), -1) + torch.softmax(torch.tensor(b), -1)).numpy() / 2
    np.testing.assert_allclose(p, ref)
    # logit averaging and probability averaging can disagree
    x, y = np.array([[5.0, 0.0]]), np.array([[0.0, 0.5]])
    x2 = np.array([[0.0, 0.1]])
    assert E.average_logits([x2, y]).argmax() == E.average_probabilities([x2, y]).argmax() == 1
    assert E.average_logits([x, y]).argmax() == 0


def test_majority_vote_matches_scipy_mode_including_ties():
    rng = np.random.default_rng(0)
    preds = rng.integers(0, 3, size=(4, 500))  # 4 members: many ties
    ours = E.majority_vote(list(preds), num_classes=3)
    ref = stats.mode(preds, axis=0, keepdims=False).mode
    np.testing.assert_array_equal(ours, ref)


def test_weighted_vote():
    preds = [np.array([0, 0, 1]), np.array([1, 1, 1]), np.array([1, 0, 0])]
    np.testing.assert_array_equal(E.weighted_vote(preds), [1, 0, 1])
    np.testing.assert_array_equal(E.weighted_vote(preds, weights=[3, 1, 1]), [0, 0, 1])
    np.testing.assert_array_equal(E.weighted_vote(preds, weights=[1, 0, 0]), preds[0])
    with pytest.raises(ValueError, match="weights"):
        E.weighted_vote(preds, weights=[1, -1, 1])
    with pytest.raises(TypeError, match="predictions"):
        E.weighted_vote([np.array([0.5, 1.0])])
    with pytest.raises(ValueError, match="predictions"):
        E.majority_vote([np.array([0, 1]), np.array([0, 1, 1])])


# ------------------------------------------------------------------ soups
def test_uniform_soup_matches_torch_averaged_model():
    models = [small_bert(s) for s in range(3)]
    averaged = AveragedModel(models[0])
    for m in models:  # the first update copies, later ones keep a running mean
        averaged.update_parameters(m)
    soup = E.uniform_soup(models)
    for name, p in averaged.module.named_parameters():
        torch.testing.assert_close(soup[name], p.detach(), rtol=1e-5, atol=1e-6)
    target = small_bert(9)
    target.load_state_dict(soup)  # loads cleanly: same keys and shapes


def test_soup_of_identical_models_is_the_model_and_weights_work():
    m = small_bert(0)
    soup = E.uniform_soup([m, m, m])
    for k, v in m.state_dict().items():
        torch.testing.assert_close(soup[k], v)
    a, b = small_bert(0), small_bert(1)
    w = E.uniform_soup([a, b], weights=[1, 0])
    torch.testing.assert_close(w["classifier.weight"], a.state_dict()["classifier.weight"])


def test_soup_errors():
    with pytest.raises(ValueError, match="models"):
        E.uniform_soup([])
    a = small_bert(0).state_dict()
    b = dict(a)
    b.pop("classifier.bias")
    with pytest.raises(ValueError, match="keys"):
        E.uniform_soup([a, b])
    steps = [{"w": torch.ones(2), "count": torch.tensor([3])}, {"w": torch.zeros(2), "count": torch.tensor([3])}]
    soup = E.uniform_soup(steps)  # integer entries are copied, not averaged
    assert soup["count"].dtype == torch.int64 and int(soup["count"]) == 3
    steps[1]["count"] = torch.tensor([4])
    with pytest.raises(ValueError, match="count"):
        E.uniform_soup(steps)


def test_greedy_soup_skips_a_harmful_ingredient():
    good = [{"w": torch.tensor([0.9, 1.1])}, {"w": torch.tensor([-5.0, 9.0])}, {"w": torch.tensor([1.2, 0.8])}]

    def score(state):  # best at w = (1, 1)
        return -float(((state["w"] - torch.tensor([1.0, 1.0])) ** 2).sum())

    soup, used = E.greedy_soup(good, score)
    assert used == [0, 2]  # the best first; the bad one would raise the loss and is left out
    torch.testing.assert_close(soup["w"], torch.tensor([1.05, 0.95]))


# ------------------------------------------------------------------ FGM
def _batch():
    torch.manual_seed(1)
    return torch.randint(5, 40, (4, 9)), torch.tensor([0, 1, 1, 0])


def test_fgm_perturbation_is_epsilon_times_the_normalised_gradient():
    model = small_bert(0)
    ids, y = _batch()
    # reference: the gradient of the loss with respect to the word-embedding output, by autograd
    emb = model.get_input_embeddings()(ids).detach().requires_grad_(True)
    handle = model.get_input_embeddings().register_forward_hook(lambda m, i, o: emb)
    loss = torch.nn.functional.cross_entropy(model(input_ids=ids).logits, y)
    (g,) = torch.autograd.grad(loss, emb)
    handle.remove()
    expected = 0.5 * g / g.flatten(1).norm(dim=1).view(-1, 1, 1)

    fgm = E.FGM(model, epsilon=0.5)
    with fgm.watch():
        clean = torch.nn.functional.cross_entropy(model(input_ids=ids).logits, y)
    clean.backward()
    r = fgm.perturbation()
    torch.testing.assert_close(r, expected, rtol=1e-4, atol=1e-7)
    torch.testing.assert_close(r.flatten(1).norm(dim=1), torch.full((4,), 0.5))


def test_fgm_increases_the_loss_more_than_random_noise_and_cleans_up():
    model = small_bert(0)
    ids, y = _batch()
    fgm = E.FGM(model, epsilon=0.3)
    with fgm.watch():
        clean = torch.nn.functional.cross_entropy(model(input_ids=ids).logits, y)
    clean.backward()
    r = fgm.perturbation()
    with fgm.perturb():
        adversarial = torch.nn.functional.cross_entropy(model(input_ids=ids).logits, y)
    assert adversarial.item() > clean.item()
    torch.manual_seed(0)
    noise = torch.randn_like(r)
    noise = 0.3 * noise / noise.flatten(1).norm(dim=1).view(-1, 1, 1)
    handle = model.get_input_embeddings().register_forward_hook(lambda m, i, o: o + noise)
    random_loss = torch.nn.functional.cross_entropy(model(input_ids=ids).logits, y)
    handle.remove()
    assert adversarial.item() > random_loss.item()
    after = torch.nn.functional.cross_entropy(model(input_ids=ids).logits, y)
    assert after.item() == pytest.approx(clean.item(), rel=1e-6)  # hooks removed
    with pytest.raises(RuntimeError, match="watch"):
        with fgm.perturb():
            pass


def test_fgm_errors():
    with pytest.raises(ValueError, match="epsilon"):
        E.FGM(small_bert(0), epsilon=0.0)
    with pytest.raises(TypeError, match="model"):
        E.FGM(torch.nn.Linear(2, 2))


# ------------------------------------------------------------------ bad inputs (issue 16)
A2 = np.array([[2.0, 0.0], [0.0, 1.0]])
B2 = np.array([[0.0, 1.0], [1.0, 0.0]])
BAD_WEIGHTS = [([math.nan, 1], ValueError), ([math.inf, 1], ValueError), ([-math.inf, 1], ValueError),
               (["a", "b"], TypeError), (["1", "1"], TypeError), ([True, 1], TypeError), ([None, 1], TypeError),
               ([-1, 2], ValueError), ([0, 0], ValueError), ([1], ValueError), ([1, 1, 1], ValueError),
               ("11", TypeError), (1.0, TypeError)]


@pytest.mark.parametrize("weights,exc", BAD_WEIGHTS)
def test_bad_weights_everywhere(weights, exc):
    with pytest.raises(exc, match="weights"):
        E.average_logits([A2, B2], weights=weights)
    with pytest.raises(exc, match="weights"):
        E.average_probabilities([A2, B2], weights=weights)
    with pytest.raises(exc, match="weights"):
        E.weighted_vote([np.array([0, 1]), np.array([1, 1])], weights=weights)
    with pytest.raises(exc, match="weights"):
        E.uniform_soup([{"w": torch.ones(2)}, {"w": torch.zeros(2)}], weights=weights)


@pytest.mark.parametrize("logits,exc", [
    ([A2, np.array([[math.nan, 0.0], [0.0, 1.0]])], ValueError), ([A2, np.full((2, 2), math.inf)], ValueError),
    ([A2, np.array([["a", "b"], ["c", "d"]])], TypeError), ([A2, np.array([[True, False], [False, True]])], TypeError),
    ([A2, [[1.0, None], [0.0, 1.0]]], TypeError), ([], ValueError), ([A2, np.zeros((2, 3))], ValueError),
    ([np.zeros(2)], ValueError), ("logits", TypeError), (None, TypeError),
])
def test_bad_logits(logits, exc):
    for fn in (E.average_logits, E.average_probabilities):
        with pytest.raises(exc, match="logits"):
            fn(logits)


def test_logits_as_tensors_give_the_same_answer():
    ref = E.average_probabilities([A2.astype(np.float32), B2.astype(np.float32)])
    ours = E.average_probabilities([torch.tensor(A2, dtype=torch.float32), torch.tensor(B2, dtype=torch.float32)])
    np.testing.assert_array_equal(ours, ref)


@pytest.mark.parametrize("num_classes,exc", [(0, ValueError), (-1, ValueError), (True, TypeError), (2.0, TypeError),
                                             ("3", TypeError), (1, ValueError)])  # 1: the id 1 is not below it
def test_num_classes(num_classes, exc):
    with pytest.raises(exc, match="num_classes"):
        E.weighted_vote([np.array([0, 1])], num_classes=num_classes)
    with pytest.raises(exc, match="num_classes"):
        E.majority_vote([np.array([0, 1])], num_classes=num_classes)


@pytest.mark.parametrize("predictions,exc", [
    ([np.array([0, 3])], ValueError),  # with num_classes=2: the reproducer of bad-inputs.md
    ([np.array([0, -1])], ValueError), ([np.array([0.0, 1.0])], TypeError), ([np.array([True, False])], TypeError),
    ([np.array(["0", "1"])], TypeError), ([], ValueError), ([np.array([[0, 1]])], ValueError), (None, TypeError),
])
def test_bad_predictions(predictions, exc):
    with pytest.raises(exc, match="predictions"):
        E.weighted_vote(predictions, num_classes=2)


def test_huge_class_ids_allocate_nothing_and_vote_right():
    preds = [np.array([10**12, 0, 7]), np.array([10**12, 5, 5]), np.array([3, 5, 7])]
    np.testing.assert_array_equal(E.majority_vote(preds), [10**12, 5, 7])


def test_vote_matches_a_dense_tally_on_random_votes():
    rng = np.random.default_rng(1)
    preds = rng.integers(0, 6, size=(5, 300))
    w = rng.random(5)
    dense = np.zeros((300, 6))
    for member, weight in zip(preds, w / w.sum()):
        dense[np.arange(300), member] += weight
    np.testing.assert_array_equal(E.weighted_vote(list(preds), weights=w, num_classes=6), dense.argmax(1))


@pytest.mark.parametrize("epsilon,exc", [(math.nan, ValueError), (math.inf, ValueError), (0.0, ValueError),
                                         (-1.0, ValueError), ("1.0", TypeError), (True, TypeError), (None, TypeError)])
def test_fgm_epsilon(epsilon, exc):
    with pytest.raises(exc, match="epsilon"):
        E.FGM(small_bert(0), epsilon)


@pytest.mark.parametrize("models,exc,name", [
    ([], ValueError, "models"), ("ab", TypeError, "models"), ({"w": torch.ones(1)}, TypeError, "models"),
    ([{"w": torch.ones(1)}, [torch.ones(1)]], TypeError, r"models\[1\]"), (None, TypeError, "models"),
])
def test_soup_bad_models(models, exc, name):
    with pytest.raises(exc, match=name):
        E.uniform_soup(models)
    with pytest.raises(exc, match=name):
        E.greedy_soup(models, lambda s: 0.0)


@pytest.mark.parametrize("evaluate,exc", [("accuracy", TypeError), (lambda s: "0.9", TypeError),
                                          (lambda s: math.nan, ValueError), (lambda s: None, TypeError)])
def test_greedy_soup_bad_evaluate(evaluate, exc):
    with pytest.raises(exc, match="evaluate"):
        E.greedy_soup([{"w": torch.ones(1)}, {"w": torch.zeros(1)}], evaluate)
