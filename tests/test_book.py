import numpy as np
import pytest
import torch

from companion import book

SIZES = {"smoke": dict(n=1, lr=3e-4), "cpu": dict(n=2, lr=1e-4), "gpu": dict(n=3, lr=2e-5)}


def test_setup_resolves_seeds_and_prints(capsys, monkeypatch):
    monkeypatch.delenv(book.ENV_VAR, raising=False)
    P, device = book.setup("smoke", SIZES, seed=3)
    assert P.name == "smoke" and P.n == 1 and P["lr"] == 3e-4 and dict(P)["n"] == 1
    assert device.type in ("cpu", "cuda")
    out = capsys.readouterr().out
    assert out.startswith("profile smoke (asked for by the notebook)") and "lr=0.0003" in out
    a = torch.rand(1)
    book.setup("smoke", SIZES, seed=3, show=False)
    assert torch.equal(a, torch.rand(1))
    with pytest.raises(AttributeError, match="no 'missing'"):
        P.missing
    with pytest.raises(AttributeError, match="read-only"):
        P.n = 5


def test_env_var_overrides(monkeypatch):
    monkeypatch.setenv(book.ENV_VAR, "cpu")
    P, _ = book.setup("smoke", SIZES, show=False)
    assert P.name == "cpu"
    monkeypatch.setenv(book.ENV_VAR, "tpu")
    with pytest.raises(ValueError, match="COMPANION_PROFILE"):
        book.resolve_profile("auto")


def test_auto_without_cuda(monkeypatch):
    monkeypatch.delenv(book.ENV_VAR, raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert book.resolve_profile("auto") == ("cpu", "auto: no CUDA device")


@pytest.mark.parametrize("bad,err", [(123, TypeError), ("fast", ValueError)])
def test_bad_profile(bad, err, monkeypatch):
    monkeypatch.delenv(book.ENV_VAR, raising=False)
    with pytest.raises(err, match="profile"):
        book.resolve_profile(bad)


def test_check_sizes():
    with pytest.raises(ValueError, match="exactly the profiles"):
        book.check_sizes({"smoke": {}, "cpu": {}})
    with pytest.raises(ValueError, match=r"sizes\['gpu'\]: missing \['lr'\]"):
        book.check_sizes({"smoke": dict(lr=1), "cpu": dict(lr=1), "gpu": dict()})
    with pytest.raises(TypeError):
        book.check_sizes([1, 2, 3])
    with pytest.raises(ValueError, match="reserved"):
        book.check_sizes({p: dict(name=1) for p in book.PROFILE_NAMES})
    with pytest.raises(TypeError, match="seed"):
        book.setup("smoke", SIZES, seed=1.5)


def test_glue_plain_numbers_and_provenance(monkeypatch):
    import myst_nb

    seen = {}
    monkeypatch.setattr(myst_nb, "glue", lambda name, value, display: seen.update({name: value}))
    assert book.glue("x", np.float64(0.5)) is None
    book.glue("y", torch.tensor(2))
    assert type(seen["x"]) is float and type(seen["y"]) is int
    assert type(book.plain(np.int64(3))) is int
    with pytest.raises(TypeError):
        book.glue("", 1)
    text = book.provenance("cpu")
    assert text.startswith("profile cpu;") and "torch " in text and "wall time" in text


def test_progress_off_unless_interactive(monkeypatch):
    monkeypatch.setenv(book.PROGRESS_ENV_VAR, "0")
    items = [1, 2]
    assert book.progress(items) is items
    monkeypatch.setenv(book.PROGRESS_ENV_VAR, "1")
    assert list(book.progress(items)) == items


# ---------------------------------------------------------------------------- ported from test_profiles (profiles.py went)
def test_auto_with_cuda_names_the_device(monkeypatch):
    monkeypatch.delenv(book.ENV_VAR, raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i=0: "Tesla T4")
    name, reason = book.resolve_profile("auto")
    assert name == "gpu" and "Tesla T4" in reason


def test_explicit_request_and_env_override(monkeypatch):
    monkeypatch.delenv(book.ENV_VAR, raising=False)
    assert book.resolve_profile(" SMOKE ")[0] == "smoke"
    monkeypatch.setenv(book.ENV_VAR, "smoke")
    name, reason = book.resolve_profile("gpu")
    assert name == "smoke" and "COMPANION_PROFILE" in reason


@pytest.mark.parametrize("bad,err", [("tpu", ValueError), ("", ValueError), (3, TypeError), (None, TypeError)])
def test_a_bad_request_is_an_error_even_when_the_environment_overrides(bad, err, monkeypatch):
    monkeypatch.setenv(book.ENV_VAR, "smoke")
    with pytest.raises(err, match="profile"):
        book.resolve_profile(bad)


def test_gpu_without_cuda_says_so(monkeypatch):
    monkeypatch.delenv(book.ENV_VAR, raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    name, reason = book.resolve_profile("gpu")
    assert name == "gpu" and "no CUDA device" in reason


# ---------------------------------------------------------------------------- bad inputs (review: bad-inputs.md)
ONE_SIZE = {p: {"n": 1} for p in ("smoke", "cpu", "gpu")}


@pytest.mark.parametrize("flag", [1, 0, "yes", None, 1.0])
def test_setup_show_and_glue_display_are_bools(flag):
    with pytest.raises(TypeError, match="show"):
        book.setup("smoke", ONE_SIZE, show=flag)
    with pytest.raises(TypeError, match="display"):
        book.glue("x", 1, display=flag)


@pytest.mark.parametrize("total,error", [(-1, ValueError), ("3", TypeError), (1.5, TypeError), (True, TypeError),
                                         (float("nan"), TypeError)])
def test_progress_checks_total(total, error):
    with pytest.raises(error, match="total"):
        book.progress([1], total=total)


@pytest.mark.parametrize("iterable", [None, 5, 1.5])
def test_progress_needs_an_iterable(iterable):
    with pytest.raises(TypeError, match="iterable"):
        book.progress(iterable)


@pytest.mark.parametrize("profile", [5, True, ["smoke"]])
def test_provenance_profile_is_a_string(profile):
    with pytest.raises(TypeError, match="profile"):
        book.provenance(profile)


@pytest.mark.parametrize("packages", ["sklearn", None, 5, [1], ["peft", None]])
def test_provenance_extra_packages_are_names(packages):
    with pytest.raises(TypeError, match="extra_packages"):
        book.provenance("smoke", packages)


def test_provenance_accepts_the_notebooks_forms():
    for packages in ((), ("sklearn",), ["peft", "trl"]):
        assert "companion" in book.provenance("smoke", packages)
    assert book.provenance(None)
