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
                                      ([0.5, 1], [0, 1], "y_true"), ([0, 1], ["a", "b"], "y_pred"),
                                      ([0, -100], [0, 1], "y_true"), ([1e30, 0], [2e30, 0], "y_true"),
                                      ([0, float("nan")], [0, 1], "y_true")])
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


@pytest.mark.parametrize("labels", [[2, 3], ["a"], [], [0]])
def test_explicit_labels_must_cover_the_classes(labels):
    with pytest.raises(ValueError, match="labels"):
        metrics.macro_f1([0, 1], [0, 1], labels=labels)
    with pytest.raises(ValueError, match="labels"):
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
