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
    with pytest.raises(ValueError, match="predictions"):
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
