import math

import numpy as np
import pytest
import torch

from companion import checks


@pytest.mark.parametrize("bad", [True, False, 2.0, "3", None, np.bool_(True), torch.tensor(1.0)])
def test_integer_rejects_non_ints(bad):
    with pytest.raises(TypeError, match="n_steps"):
        checks.integer(bad, "n_steps")


def test_integer_range_and_numpy():
    assert checks.integer(np.int64(3), "n") == 3
    assert checks.integer(torch.tensor(4), "n") == 4
    assert checks.integer(0, "n", minimum=0) == 0
    with pytest.raises(ValueError, match="n: expected an int >= 1, got 0"):
        checks.integer(0, "n")
    with pytest.raises(ValueError, match="<= 5"):
        checks.integer(6, "n", maximum=5)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_number_rejects_non_finite(bad):
    with pytest.raises(ValueError, match="lr"):
        checks.number(bad, "lr")


@pytest.mark.parametrize("bad", ["1e-3", True, None, [1.0]])
def test_number_rejects_non_numbers(bad):
    with pytest.raises(TypeError, match="lr"):
        checks.number(bad, "lr")


def test_number_bounds():
    assert checks.number(1, "x") == 1.0
    assert checks.number(math.inf, "x", finite=False) == math.inf
    with pytest.raises(ValueError, match="NaN"):
        checks.number(math.nan, "x", finite=False)
    with pytest.raises(ValueError, match="> 0"):
        checks.number(0.0, "x", minimum=0, strict_minimum=True)
    with pytest.raises(ValueError, match="<= 1"):
        checks.number(1.5, "x", maximum=1)


def test_probability():
    assert checks.probability(0.0, "p") == 0.0
    for bad in (-0.1, 1.1, math.nan):
        with pytest.raises(ValueError, match="p"):
            checks.probability(bad, "p")
    with pytest.raises(ValueError):
        checks.probability(1.0, "p", allow_one=False)
    with pytest.raises(ValueError):
        checks.probability(0.0, "p", allow_zero=False)


def test_one_of_and_boolean():
    assert checks.one_of("a", "mode", ("a", "b")) == "a"
    with pytest.raises(ValueError, match="mode: expected one of"):
        checks.one_of("c", "mode", ("a", "b"))
    with pytest.raises(ValueError):
        checks.one_of([1], "mode", ("a",))
    with pytest.raises(ValueError):
        checks.one_of(True, "n", (1, 2))
    with pytest.raises(ValueError):
        checks.one_of(1.0, "n", (1, 2))
    with pytest.raises(ValueError):
        checks.one_of(1, "n", (1.0, "a"))
    with pytest.raises(ValueError):
        checks.one_of(np.array([1, 2]), "n", (1, 2))
    assert checks.one_of(np.int64(2), "n", (1, 2)) == 2
    assert checks.one_of(True, "flag", (True, None)) is True
    assert checks.boolean(np.bool_(False), "flag") is False
    for bad in (1, "yes", None):
        with pytest.raises(TypeError, match="flag"):
            checks.boolean(bad, "flag")


def test_texts():
    assert checks.texts(("a", "b"), "texts") == ["a", "b"]
    with pytest.raises(TypeError, match="one string"):
        checks.texts("one two", "texts")
    with pytest.raises(TypeError, match=r"texts\[1\]"):
        checks.texts(["a", 3], "texts")
    with pytest.raises(ValueError, match="empty"):
        checks.texts([], "texts")
    assert checks.texts([], "texts", allow_empty=True) == []
    with pytest.raises(TypeError):
        checks.texts(5, "texts")


def test_token_ids():
    ids = checks.token_ids([[1, 2, 3]], "input_ids", vocab_size=4, ndim=2)
    assert ids.dtype == torch.int64
    with pytest.raises(ValueError, match=">= 0"):
        checks.token_ids(torch.tensor([2, -5]), "input_ids", vocab_size=10)
    with pytest.raises(ValueError, match="vocab_size=10, found 99999"):
        checks.token_ids(torch.tensor([2, 99999]), "input_ids", vocab_size=10)
    with pytest.raises(TypeError, match="dtype"):
        checks.token_ids(torch.tensor([1.0]), "input_ids")
    with pytest.raises(TypeError):
        checks.token_ids(torch.tensor([True]), "input_ids")
    with pytest.raises(TypeError):
        checks.token_ids(["a", "b"], "input_ids")
    with pytest.raises(ValueError, match="dimensions"):
        checks.token_ids(torch.tensor([1, 2]), "input_ids", ndim=2)


def test_word_ids():
    assert checks.word_ids([None, 0, 1, 1, None], "word_ids", length=5) == [None, 0, 1, 1, None]
    with pytest.raises(TypeError, match=r"word_ids\[2\]"):
        checks.word_ids([None, 0, 1.7], "word_ids")
    with pytest.raises(ValueError, match=">= 0"):
        checks.word_ids([None, -5], "word_ids")
    with pytest.raises(ValueError, match="sequence length"):
        checks.word_ids([0, 10**9], "word_ids", length=2)
    with pytest.raises(TypeError):
        checks.word_ids(torch.tensor([0, 1]), "word_ids")
    with pytest.raises(TypeError):
        checks.word_ids([True], "word_ids")
    with pytest.raises(TypeError):
        checks.word_ids("ab", "word_ids")


def test_class_labels():
    assert checks.class_labels([0, 1, -100], "labels", num_labels=2, ignore_index=-100).tolist() == [0, 1, -100]
    with pytest.raises(ValueError, match="num_labels=2, found 5"):
        checks.class_labels([0, 5], "labels", num_labels=2)
    with pytest.raises(ValueError, match=">= 0"):
        checks.class_labels([0, -100], "labels", num_labels=2)
    with pytest.raises(TypeError):
        checks.class_labels([0.4, 1.6], "labels")


def test_finite_tensor_and_paths(tmp_path):
    checks.finite_tensor(torch.ones(2), "x")
    with pytest.raises(ValueError, match="NaN"):
        checks.finite_tensor(torch.tensor([1.0, math.nan]), "x")
    with pytest.raises(TypeError):
        checks.finite_tensor(torch.ones(2, dtype=torch.long), "x")
    f = tmp_path / "a.txt"
    f.write_text("x")
    assert checks.existing_path(f, "path", kind="file") == f
    with pytest.raises(FileNotFoundError, match="path: .* does not exist"):
        checks.existing_path(tmp_path / "missing", "path")
    with pytest.raises(NotADirectoryError):
        checks.existing_path(f, "path", kind="dir")
    with pytest.raises(IsADirectoryError):
        checks.existing_path(tmp_path, "path", kind="file")
    with pytest.raises(TypeError):
        checks.existing_path(3, "path")


def test_same_length():
    checks.same_length("texts", [1, 2], "labels", [0, 1])
    with pytest.raises(ValueError, match="labels: expected one entry per element of texts"):
        checks.same_length("texts", [1, 2], "labels", [0])


# ---------------------------------------------------------------------------- added with issue 16
def test_token_ids_empty_list_is_an_empty_long_tensor():
    t = checks.token_ids([], "special_ids", vocab_size=5)
    assert t.dtype == torch.int64 and t.numel() == 0


@pytest.mark.parametrize("bad,exc", [([0, 10**9], ValueError), ([-2, 0], ValueError), ([0.5, 1.0], TypeError),
                                     ([True, False], TypeError), (["a"], TypeError), (None, TypeError)])
def test_integers(bad, exc):
    assert checks.integers([-1, 0, 3], "groups", minimum=-1, maximum=3).tolist() == [-1, 0, 3]
    with pytest.raises(exc, match="groups"):
        checks.integers(bad, "groups", minimum=-1, maximum=3)


def test_integers_dims_and_dtype_kept():
    t = checks.integers(torch.tensor([[1, 2]], dtype=torch.int32), "x", ndim=2)
    assert t.dtype == torch.int32
    with pytest.raises(ValueError, match="dimensions"):
        checks.integers([1, 2], "x", ndim=2)


@pytest.mark.parametrize("bad,exc", [([1, 2], ValueError), ([0.5, 1.0], ValueError), ([math.nan], ValueError),
                                     (["1", "0"], TypeError), ("10", TypeError), (None, TypeError),
                                     (torch.tensor([1j]), TypeError)])
def test_binary_mask_rejects(bad, exc):
    with pytest.raises(exc, match="attention_mask"):
        checks.binary_mask(bad, "attention_mask")


def test_binary_mask_accepts_bools_ints_and_floats_and_checks_shape():
    for good in ([1, 0], torch.tensor([True, False]), np.array([1.0, 0.0]), torch.tensor([1, 0], dtype=torch.uint8)):
        assert checks.binary_mask(good, "m").tolist() == [True, False]
    with pytest.raises(ValueError, match=r"m: expected shape \(3,\) \(that of input_ids\)"):
        checks.binary_mask([1, 0], "m", shape=(3,), like="input_ids")


def test_float_tensor():
    x = torch.zeros(2, 3)
    assert checks.float_tensor(x, "logits", ndim=2) is x
    with pytest.raises(TypeError, match="logits"):
        checks.float_tensor(torch.zeros(2, dtype=torch.long), "logits")
    with pytest.raises(TypeError, match="logits"):
        checks.float_tensor([[0.0]], "logits")
    with pytest.raises(ValueError, match="dimensions"):
        checks.float_tensor(x, "logits", ndim=3)
    with pytest.raises(ValueError, match="NaN"):
        checks.float_tensor(torch.tensor([math.nan]), "logits", finite=True)


@pytest.mark.parametrize("bad,exc,where", [
    (["1.0", "abc"], TypeError, r"w\[0\]"), ([1.0, "2"], TypeError, r"w\[1\]"), ([True, 1], TypeError, r"w\[0\]"),
    ([1.5, False], TypeError, r"w\[1\]"), ([1, None], TypeError, r"w\[1\]"), ("12", TypeError, "w"), (None, TypeError, "w"),
    (3.0, TypeError, "w"), ([[1], [2, 3]], TypeError, "w"), (np.array([True]), TypeError, "w"),
    (torch.tensor([True]), TypeError, "w"), ([math.nan, 1], ValueError, "NaN"), ([math.inf], ValueError, "infinite"),
    ([-math.inf], ValueError, "infinite"), ([], ValueError, "empty"), ([[1.0]], ValueError, "dimension"),
])
def test_numbers_rejects(bad, exc, where):
    with pytest.raises(exc, match=where):
        checks.numbers(bad, "w")


def test_numbers_accepts_and_bounds():
    assert checks.numbers((1, 2.5, np.float32(3)), "w").tolist() == [1.0, 2.5, 3.0]
    assert checks.numbers(torch.tensor([1, 2]), "w").dtype == np.float64
    assert checks.numbers([], "w", allow_empty=True).size == 0
    assert np.isnan(checks.numbers([1, math.nan, math.inf], "w", nan=True, finite=False)[1])
    assert checks.numbers([[1, 2]], "w", ndim=2).shape == (1, 2)
    with pytest.raises(ValueError, match=">= 0"):
        checks.numbers([1, -1], "w", minimum=0)
    with pytest.raises(ValueError, match="> 0"):
        checks.numbers([1, 0], "w", minimum=0, strict_minimum=True)
    with pytest.raises(ValueError, match="<= 1"):
        checks.numbers([2], "w", maximum=1)


def test_instance_and_function():
    assert checks.instance(3, "x", int) == 3
    with pytest.raises(TypeError, match="model: expected a torch.nn.Module, got str"):
        checks.instance("bert", "model", torch.nn.Module, what="a torch.nn.Module")
    with pytest.raises(TypeError, match="x: expected int or float, got str"):
        checks.instance("1", "x", (int, float))
    assert checks.function(len, "fn") is len
    for bad in (None, 3, "f"):
        with pytest.raises(TypeError, match="fn"):
            checks.function(bad, "fn")


@pytest.mark.parametrize("bad", [[2, True, 3], [[2, 3], [False, 4]], (1, np.bool_(True)), [0, 1, False]])
@pytest.mark.parametrize("check", [
    lambda v: checks.token_ids(v, "ids", vocab_size=10),
    lambda v: checks.integers(v, "groups"),
    lambda v: checks.class_labels(v, "labels", num_labels=5),
])
def test_a_bool_mixed_into_a_list_of_ints_is_refused(bad, check):
    with pytest.raises(TypeError, match=r"(ids|groups|labels): expected integers, found a bool"):
        check(bad)


def test_lists_of_plain_ints_still_pass():
    assert checks.token_ids([[2, 3], [4, 5]], "ids", vocab_size=10).tolist() == [[2, 3], [4, 5]]
    assert checks.class_labels((0, 1, 1), "labels", num_labels=2).tolist() == [0, 1, 1]


ID_CHECKS = [
    lambda v: checks.token_ids(v, "ids", vocab_size=10),
    lambda v: checks.integers(v, "groups"),
    lambda v: checks.class_labels(v, "labels", num_labels=5),
]


@pytest.mark.parametrize("bad", [
    [2, np.array(True)], [2, torch.tensor(True)], [[2, 3], [4, np.array(False)]], [[2, torch.tensor(True)], [3, 4]],
    [np.array([2, 3]), np.array([True, False])], [torch.tensor([2, 3]), torch.tensor([True, False])],
    (1, np.array(True)), [[2, 3], [np.bool_(True), np.array(4)]],
])
@pytest.mark.parametrize("check", ID_CHECKS)
def test_a_bool_array_or_tensor_inside_a_list_is_refused(bad, check):
    with pytest.raises(TypeError, match=r"(ids|groups|labels): expected integers, found a bool"):
        check(bad)


@pytest.mark.parametrize("value", [[2, np.array(3)], [2, torch.tensor(3)], [np.array([2, 3]), np.array([4, 1])],
                                   [torch.tensor(2), torch.tensor(3)], [np.int64(2), np.int32(3)]])
@pytest.mark.parametrize("check", ID_CHECKS)
def test_integer_arrays_and_tensors_inside_a_list_still_pass(value, check):
    assert check(value).flatten().tolist() == np.asarray(value).flatten().tolist()


@pytest.mark.parametrize("value", [
    np.array([1, 4], dtype=np.uint64), np.array([1, 4], dtype=np.uint32), np.array([1, 4], dtype=np.uint16),
    np.array([[1], [4]], dtype=np.uint64), torch.tensor([1, 4], dtype=torch.uint64),
    torch.tensor([1, 4], dtype=torch.uint32), [np.uint64(1), np.uint64(4)], [np.uint64(1), 4],
])
@pytest.mark.parametrize("check", ID_CHECKS)
def test_unsigned_ids_are_range_checked(value, check):
    assert check(value).flatten().tolist() == [1, 4]
    bigger = np.asarray(value if not isinstance(value, torch.Tensor) else value.numpy()).astype(np.uint64) * 3
    with pytest.raises(ValueError, match=r"(ids|groups|labels): .*12"):  # 12 is past vocab 10, max 5 labels
        checks.token_ids(bigger, "ids", vocab_size=10) if check is ID_CHECKS[0] else \
            checks.integers(bigger, "groups", maximum=10) if check is ID_CHECKS[1] else \
            checks.class_labels(bigger, "labels", num_labels=5)


@pytest.mark.parametrize("value", [np.array([1, 2**63], dtype=np.uint64), np.array([2**64 - 1], dtype=np.uint64),
                                   [np.uint64(2**64 - 1), 2], [2**63], [2**64], [-2**63 - 1],
                                   torch.tensor([1, 2**63], dtype=torch.uint64)])
@pytest.mark.parametrize("check", ID_CHECKS)
def test_a_value_past_int64_is_a_clear_value_error(value, check):
    with pytest.raises(ValueError, match=r"^(ids|groups|labels): values must fit in int64.*found -?\d{19}"):
        check(value)
