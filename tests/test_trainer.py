"""Tests of companion.trainer: the arguments, the guarded Trainer, fit/resume and the checkpoint checks.

The kill-and-resume test runs this file as a script (see ``_worker`` at the bottom): a real training
process that is killed with SIGKILL, then re-run to completion, as a Colab disconnect would do it.
"""

import json
import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from datasets import Dataset
from transformers import TrainerCallback

from companion import data, models, trainer as T

HERE = Path(__file__).resolve()
WORKER_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
              "TOKENIZERS_PARALLELISM": "false", "PYTHONHASHSEED": "0", "PYTHONUNBUFFERED": "1"}


# ---------------------------------------------------------------------------- the worker (a real training run)
def _resume_setup(out, callbacks=None, **overrides):
    """48 fixture reviews, batch 8, 3 epochs = 18 steps, a checkpoint every 4, a log every 2; tiny BERT with
    dropout, the default length-grouped order. Returns the trainer."""
    ds = data.load_imdb("fixture", train_size=48)
    tok = data.train_wordpiece_tokenizer(list(ds["train"]["text"]), vocab_size=300)
    tds = data.tokenize(ds["train"], tok, 32)
    model, _ = models.build_model("tiny-random-bert", tokenizer=tok, seed=0)
    settings = dict(learning_rate=1e-3, batch_size=8, epochs=3, save_steps=4, logging_steps=2, seed=0)
    args = T.training_arguments(out, **{**settings, **overrides})
    return T.make_trainer(model, args, tds, tokenizer=tok, callbacks=callbacks)


class _KillAtStep(TrainerCallback):
    def __init__(self, step):
        self.step = step

    def on_step_end(self, args, state, control, **kw):
        if state.global_step == self.step:
            os.kill(os.getpid(), signal.SIGKILL)


def _worker(out: str, kill_step: int, mode: str) -> None:
    """``mode``: ``"step"`` dies right after optimiser step ``kill_step``; ``"save"`` dies while writing
    checkpoint-``kill_step``, after its weights and before its optimizer, RNG and trainer state;
    ``"none"`` trains to the end and writes ``final.safetensors`` and ``result.json``."""
    from safetensors.torch import save_file

    torch.set_num_threads(1)
    tr = _resume_setup(out, callbacks=[_KillAtStep(kill_step)] if mode == "step" else None)
    if mode == "save":
        save_model = tr.save_model

        def dying(output_dir=None, _internal_call=False):
            save_model(output_dir, _internal_call=_internal_call)
            if tr.state.global_step == kill_step and _internal_call:
                os.kill(os.getpid(), signal.SIGKILL)

        tr.save_model = dying
    print("resuming from", T.last_complete_checkpoint(out, 18, verbose=False), flush=True)
    result = T.fit(tr)
    save_file({k: v.contiguous() for k, v in tr.model.state_dict().items()}, os.path.join(out, "final.safetensors"))
    Path(out, "result.json").write_text(json.dumps(result))


def _run_worker(out, kill_step=0, mode="none"):
    env = {**os.environ, **WORKER_ENV, "PYTHONPATH": str(HERE.parents[1])}
    return subprocess.run([sys.executable, str(HERE), str(out), str(kill_step), mode], env=env,
                          capture_output=True, text=True, timeout=300)


# ---------------------------------------------------------------------------- kill and resume (issue 16)
#: The chain of runs: (what kills it, the checkpoint it must resume from). 18 steps, 6 per epoch, a checkpoint
#: every 4 steps: 4 and 5 lie in epoch 1, 8 and 10 in epoch 2, 12 ends epoch 2, 16 and 17 lie in epoch 3.
KILLS = [
    ((5, "step"), None),                # epoch 1
    ((10, "step"), "checkpoint-4"),     # resumes inside epoch 1
    ((14, "step"), "checkpoint-8"),     # resumes inside epoch 2
    ((16, "save"), "checkpoint-12"),    # resumes at the end of epoch 2; dies writing checkpoint-16
    ((17, "step"), "checkpoint-12"),    # checkpoint-16 lacks its optimizer and state: skipped
    ((0, "none"), "checkpoint-16"),     # resumes inside epoch 3, to the end
]


def _weights(path):
    from safetensors.torch import load_file

    return load_file(str(path))


def test_kill_and_resume_is_bit_exact_in_every_epoch(tmp_path):
    """A real training process killed with SIGKILL in epochs 1, 2 and 3 and while writing a checkpoint, and
    re-run each time, ends with exactly the weights, checkpoints, logged losses and whole-run training loss
    of an uninterrupted run (CPU, default length-grouped batches, dropout on)."""
    full = _run_worker(tmp_path / "full")
    assert full.returncode == 0, full.stderr[-3000:]
    cut = tmp_path / "cut"
    for (kill_step, mode), resumed_from in KILLS:
        run = _run_worker(cut, kill_step, mode)
        if mode == "none":
            assert run.returncode == 0, run.stderr[-3000:]
        else:
            assert run.returncode == -signal.SIGKILL, (kill_step, mode, run.returncode, run.stderr[-3000:])
        assert f"resuming from {resumed_from if resumed_from is None else cut / resumed_from}\n" in run.stdout, run.stdout
        if resumed_from is None:
            assert "skipping" not in run.stdout
        if mode == "save":  # the weights were written, the rest not
            assert (cut / "checkpoint-16" / "model.safetensors").exists()
            assert not (cut / "checkpoint-16" / "trainer_state.json").exists()
        if (kill_step, mode) == (17, "step"):
            assert "skipping checkpoint-16" in run.stdout and "trainer_state.json" in run.stdout
    result = json.loads((cut / "result.json").read_text())
    expected = json.loads((tmp_path / "full" / "result.json").read_text())
    assert result["resumed_from"].endswith(KILLS[-1][1]) and result["steps"] == expected["steps"] == 18
    # every checkpoint (written by a different resumed process) and the final weights are bit-identical
    for name in ("checkpoint-4", "checkpoint-8", "checkpoint-12", "checkpoint-16", "checkpoint-18"):
        a, b = _weights(tmp_path / "full" / name / "model.safetensors"), _weights(cut / name / "model.safetensors")
        assert a.keys() == b.keys()
        assert all(torch.equal(a[k], b[k]) for k in a), f"{name} differs from the uninterrupted run's"
    a, b = _weights(tmp_path / "full" / "final.safetensors"), _weights(cut / "final.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)
    logs = [json.loads((d / "checkpoint-18" / "trainer_state.json").read_text())["log_history"]
            for d in (tmp_path / "full", cut)]
    losses = [[(e["step"], e["loss"]) for e in log if "loss" in e] for log in logs]
    assert len(losses[0]) == 9 and losses[0] == losses[1]
    assert result["train_loss"] == pytest.approx(expected["train_loss"], rel=1e-12)


# ---------------------------------------------------------------------------- a small run shared by the tests
@pytest.fixture(scope="module")
def smoke():
    ds = data.load_imdb("fixture", train_size=48, validation_size=16, test_size=16)
    tok = data.train_wordpiece_tokenizer(list(ds["train"]["text"]), vocab_size=300)
    return data.tokenize(ds, tok, 32), tok


def _trainer(smoke, out, *, model_seed=0, dataset=None, callbacks=None, **overrides):
    tds, tok = smoke
    model, _ = models.build_model("tiny-random-bert", tokenizer=tok, seed=model_seed,
                                  **overrides.pop("model_kw", {}))
    settings = dict(learning_rate=1e-3, batch_size=8, max_steps=4, save_steps=2, logging_steps=2, seed=0)
    args = T.training_arguments(out, **{**settings, **overrides})
    return T.make_trainer(model, args, tds["train"] if dataset is None else dataset, tokenizer=tok, callbacks=callbacks)


@pytest.fixture(scope="module")
def finished(smoke, tmp_path_factory):
    """A finished 4-step run with checkpoints 2 and 4: (directory, fit's result, final weights)."""
    out = tmp_path_factory.mktemp("finished") / "run"
    tr = _trainer(smoke, out)
    result = T.fit(tr)
    return out, result, {k: v.clone() for k, v in tr.model.state_dict().items()}


def _copy_run(finished, tmp_path):
    import shutil

    out = tmp_path / "run"
    shutil.copytree(finished[0], out)
    return out


def test_fit_reports_and_records_the_run(finished):
    out, result, _ = finished
    assert result["steps"] == 4 and result["resumed_from"] is None and math.isfinite(result["train_loss"])
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint-2", "checkpoint-4", T.RUN_CONFIG]
    assert T.checkpoint_problem(out / "checkpoint-4", 4) is None  # what the Trainer writes counts as complete
    assert T.last_complete_checkpoint(out, 4).endswith("checkpoint-4")
    config = json.loads((out / T.RUN_CONFIG).read_text())
    assert config["learning_rate"] == 1e-3 and config["max_steps"] == 4 and config["model"] == "BertForSequenceClassification"


def test_fit_on_a_finished_run_trains_nothing_and_reports_the_whole_run(smoke, finished, tmp_path):
    out = _copy_run(finished, tmp_path)
    tr = _trainer(smoke, out, model_seed=5)  # other initial weights: the checkpoint's must be loaded
    result = T.fit(tr)
    assert result["steps"] == 4 and result["resumed_from"].endswith("checkpoint-4")
    assert result["train_loss"] == pytest.approx(finished[1]["train_loss"], rel=1e-12)
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint-2", "checkpoint-4", T.RUN_CONFIG]
    for k, v in finished[2].items():
        assert torch.equal(tr.model.state_dict()[k], v), k


def test_fit_resumes_a_half_finished_run_and_reports_the_whole_run(smoke, finished, tmp_path):
    import shutil

    out = _copy_run(finished, tmp_path)
    shutil.rmtree(out / "checkpoint-4")
    tr = _trainer(smoke, out)
    result = T.fit(tr)
    assert result["resumed_from"].endswith("checkpoint-2") and result["steps"] == 4
    assert result["train_loss"] == pytest.approx(finished[1]["train_loss"], rel=1e-9)
    for k, v in finished[2].items():
        assert torch.equal(tr.model.state_dict()[k], v), k


@pytest.mark.parametrize("change", ["learning_rate", "batch_size", "max_steps", "data", "model", "seed", "weight_decay"])
def test_fit_refuses_a_directory_of_another_run(smoke, finished, tmp_path, change):
    out = _copy_run(finished, tmp_path)
    tds, _ = smoke
    kw = {"learning_rate": dict(learning_rate=2e-3), "batch_size": dict(batch_size=4), "max_steps": dict(max_steps=6),
          "data": dict(dataset=tds["train"].select(range(40))), "model": dict(model_kw=dict(num_layers=1)),
          "seed": dict(seed=1), "weight_decay": dict(weight_decay=0.0)}[change]
    tr = _trainer(smoke, out, **kw)
    with pytest.raises(ValueError, match=f"output_dir: {out}.*different configuration"):
        T.fit(tr)
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint-2", "checkpoint-4", T.RUN_CONFIG]  # untouched


def test_fit_refuses_checkpoints_without_a_record_and_a_fresh_start_over_checkpoints(smoke, finished, tmp_path):
    out = _copy_run(finished, tmp_path)
    with pytest.raises(ValueError, match="output_dir.*already holds checkpoints"):
        T.fit(_trainer(smoke, out), resume=False)
    (out / T.RUN_CONFIG).unlink()
    with pytest.raises(ValueError, match=f"output_dir: {out}.*{T.RUN_CONFIG}"):
        T.fit(_trainer(smoke, out))
    (out / T.RUN_CONFIG).write_text("{not json")
    with pytest.raises(ValueError, match="output_dir"):
        T.fit(_trainer(smoke, out))


def test_fit_without_checkpoints_starts_afresh(smoke, tmp_path):
    tr = _trainer(smoke, tmp_path / "run", max_steps=2, save_steps=None)
    result = T.fit(tr, resume=False)
    assert result["steps"] == 2 and result["resumed_from"] is None
    assert not any(p.name.startswith("checkpoint-") for p in (tmp_path / "run").iterdir())


def test_fit_argument_types(smoke, tmp_path):
    with pytest.raises(TypeError, match="trainer"):
        T.fit(None)
    for bad in (1, "yes", None):
        with pytest.raises(TypeError, match="resume"):
            T.fit(_trainer(smoke, tmp_path / "run"), resume=bad)


# ---------------------------------------------------------------------------- what counts as a complete checkpoint
def _break(ckpt, how):
    """Damage a copy of a complete checkpoint; return the file the message must name."""
    state = ckpt / "trainer_state.json"
    weights = ckpt / "model.safetensors"
    if how.startswith("missing "):
        (ckpt / how.split()[1]).unlink()
        return how.split()[1]
    if how == "truncated weights":
        weights.write_bytes(weights.read_bytes()[:-100])
        return "model.safetensors"
    if how == "random-bytes weights":
        weights.write_bytes(os.urandom(weights.stat().st_size))
        return "model.safetensors"
    if how == "empty weights":
        weights.write_bytes(b"")
        return "model.safetensors"
    if how == "padded weights":
        weights.write_bytes(weights.read_bytes() + b"\0" * 16)
        return "model.safetensors"
    if how == "no weights":
        weights.unlink()
        return "safetensors"
    if how in ("truncated optimizer.pt", "random-bytes rng_state.pth", "empty scheduler.pt"):
        name = how.split()[1]
        f = ckpt / name
        f.write_bytes({"truncated": f.read_bytes()[: f.stat().st_size // 2], "random-bytes": os.urandom(300),
                       "empty": b""}[how.split()[0]])
        return name
    if how == "truncated trainer_state.json":
        state.write_text(state.read_text()[:40])
        return "trainer_state.json"
    value = json.loads(state.read_text())
    if how == "null trainer_state.json":
        value = None
    elif how == "list trainer_state.json":
        value = [value]
    else:
        value["global_step"] = json.loads(how.split("=", 1)[1])
    state.write_text(json.dumps(value))
    return "trainer_state.json"


DAMAGE = ["missing optimizer.pt", "missing scheduler.pt", "missing rng_state.pth", "missing trainer_state.json",
          "truncated weights", "random-bytes weights", "empty weights", "padded weights", "no weights",
          "truncated optimizer.pt", "random-bytes rng_state.pth", "empty scheduler.pt", "truncated trainer_state.json",
          "null trainer_state.json", "list trainer_state.json", "global_step=-3", "global_step=0",
          "global_step=1000000", "global_step=\"4\"", "global_step=4.0", "global_step=true", "global_step=null",
          "global_step=2"]


@pytest.mark.parametrize("how", DAMAGE)
def test_an_incomplete_checkpoint_is_skipped_with_a_message_naming_the_file(finished, tmp_path, capsys, how):
    out = _copy_run(finished, tmp_path)
    name = _break(out / "checkpoint-4", how)
    problem = T.checkpoint_problem(out / "checkpoint-4", 4)
    assert problem is not None and name in problem
    assert T.last_complete_checkpoint(out, 4).endswith("checkpoint-2")
    printed = capsys.readouterr().out
    assert "skipping checkpoint-4" in printed and name in printed
    assert T.last_complete_checkpoint(out, 4, verbose=False).endswith("checkpoint-2")
    assert capsys.readouterr().out == ""


def test_a_step_beyond_the_run_is_refused_only_when_max_steps_is_known(finished, tmp_path):
    out = _copy_run(finished, tmp_path)
    assert T.checkpoint_problem(out / "checkpoint-4", 3) is not None and "global_step 4" in T.checkpoint_problem(
        out / "checkpoint-4", 3)
    assert T.checkpoint_problem(out / "checkpoint-4") is None
    (out / "checkpoint-4").rename(out / "checkpoint-7")  # the directory's step and the state's disagree
    assert "trainer_state.json" in T.checkpoint_problem(out / "checkpoint-7", 10)
    assert "not a checkpoint" in T.checkpoint_problem(out / T.RUN_CONFIG)


def test_fit_resumes_from_the_last_complete_checkpoint(smoke, finished, tmp_path, capsys):
    out = _copy_run(finished, tmp_path)
    _break(out / "checkpoint-4", "missing optimizer.pt")
    tr = _trainer(smoke, out)
    result = T.fit(tr)
    assert "skipping checkpoint-4" in capsys.readouterr().out
    assert result["resumed_from"].endswith("checkpoint-2") and result["steps"] == 4
    for k, v in finished[2].items():
        assert torch.equal(tr.model.state_dict()[k], v), k
    assert T.checkpoint_problem(out / "checkpoint-4", 4) is None  # rewritten whole


def test_last_complete_checkpoint_bad_paths(tmp_path):
    assert T.last_complete_checkpoint(tmp_path / "missing") is None
    assert T.last_complete_checkpoint(tmp_path) is None
    (tmp_path / "f.txt").write_text("x")
    with pytest.raises(NotADirectoryError, match="output_dir"):
        T.last_complete_checkpoint(tmp_path / "f.txt")
    for bad in (None, 3, ["a"]):
        with pytest.raises(TypeError, match="output_dir"):
            T.last_complete_checkpoint(bad)


# ---------------------------------------------------------------------------- the guarded trainer
def test_non_finite_loss_stops_with_clear_message(smoke, tmp_path):
    tr = _trainer(smoke, tmp_path, save_steps=None, max_steps=3)
    with torch.no_grad():
        tr.model.classifier.weight.fill_(float("nan"))
    with pytest.raises(FloatingPointError, match="step 1"):
        T.fit(tr)


def test_smoke_training_lowers_loss(smoke, tmp_path):
    tr = _trainer(smoke, tmp_path, learning_rate=3e-3, max_steps=30, save_steps=None, logging_steps=5)
    T.fit(tr)
    losses = [h["loss"] for h in tr.state.log_history if "loss" in h]
    assert losses[-1] < losses[0] and losses[0] == pytest.approx(math.log(2), abs=0.1)


def test_predictions_come_back_in_dataset_order(smoke, tmp_path):
    """transformers groups evaluation batches by length too; the guarded trainer must not."""
    tds, _ = smoke
    tr = _trainer(smoke, tmp_path, batch_size=4, save_steps=None)
    out = tr.predict(tds["test"])
    assert list(out.label_ids) == list(tds["test"]["label"])
    tr.model.eval()
    with torch.no_grad():
        first = tr.model(input_ids=torch.tensor([tds["test"][0]["input_ids"]])).logits[0]
    assert torch.allclose(torch.tensor(out.predictions[0]), first, atol=1e-5)


def test_the_training_order_is_an_epoch_sampler_of_the_run_seed(smoke, tmp_path):
    tds, _ = smoke
    for strategy, shuffle, grouped in [("group_by_length", True, True), ("random", True, False),
                                       ("sequential", False, False)]:
        tr = _trainer(smoke, tmp_path, seed=3, train_sampling_strategy=strategy)
        sampler = tr._get_train_sampler()
        assert isinstance(sampler, data.EpochSampler) and sampler.seed == 3
        assert sampler.shuffle == shuffle and (sampler.lengths is not None) == grouped
        if grouped:
            assert sampler.lengths == list(tds["train"]["length"])


def test_make_trainer_argument_checks_and_transformers5_names(smoke, tmp_path):
    tds, tok = smoke
    model, _ = models.build_model("tiny-random-bert", tokenizer=tok)
    with pytest.raises(TypeError, match="args"):
        T.make_trainer(model, {"learning_rate": 1e-3}, tds["train"], tokenizer=tok)
    args = T.training_arguments(tmp_path, learning_rate=1e-3, batch_size=8, eval_strategy="epoch")
    assert args.eval_strategy == "epoch" and args.optim == "adamw_torch" and args.report_to == []
    assert args.train_sampling_strategy == "group_by_length" and args.save_strategy == "no"
    tr = T.make_trainer(model, args, tds["train"], tds["validation"], tokenizer=tok)
    assert type(tr).__name__ == "GuardedTrainer" and tr.processing_class is tok


def test_seq2seq_arguments(tmp_path):
    from transformers import Seq2SeqTrainingArguments

    args = T.training_arguments(tmp_path, learning_rate=1e-3, batch_size=8, seq2seq=True, generation_max_length=12,
                                generation_num_beams=2)
    assert isinstance(args, Seq2SeqTrainingArguments) and args.predict_with_generate
    assert (args.generation_max_length, args.generation_num_beams) == (12, 2)
    for name in ("generation_max_length", "generation_num_beams"):
        with pytest.raises(ValueError, match=rf"^{name}\b"):
            T.training_arguments(tmp_path, learning_rate=1e-3, batch_size=8, seq2seq=True, **{name: 0})


def test_run_config_names_what_identifies_a_run(smoke, tmp_path):
    a = T.run_config(_trainer(smoke, tmp_path))
    assert a == T.run_config(_trainer(smoke, tmp_path, model_seed=9))  # initial weights are not configuration
    assert a != T.run_config(_trainer(smoke, tmp_path, learning_rate=5e-4))
    assert {"model", "model_config", "train_data", "learning_rate", "per_device_train_batch_size", "max_steps"} <= set(a)


def test_steps_per_epoch():
    assert T.steps_per_epoch(1000, 16) == 63 and T.steps_per_epoch(33, 16) == 3 and T.steps_per_epoch(1, 8) == 1


# ---------------------------------------------------------------------------- bad inputs (issue 16)
BASE = dict(learning_rate=1e-3, batch_size=8)


@pytest.mark.parametrize("kw,error,name", [
    (dict(learning_rate=0), ValueError, "learning_rate"), (dict(learning_rate=-1e-3), ValueError, "learning_rate"),
    (dict(learning_rate=float("nan")), ValueError, "learning_rate"),
    (dict(learning_rate=float("inf")), ValueError, "learning_rate"),
    (dict(learning_rate="1e-3"), TypeError, "learning_rate"), (dict(learning_rate=True), TypeError, "learning_rate"),
    (dict(batch_size=0), ValueError, "batch_size"), (dict(batch_size=-8), ValueError, "batch_size"),
    (dict(batch_size=True), TypeError, "batch_size"), (dict(batch_size=8.0), TypeError, "batch_size"),
    (dict(epochs=0), ValueError, "epochs"), (dict(epochs=float("nan")), ValueError, "epochs"),
    (dict(epochs="3"), TypeError, "epochs"),
    (dict(max_steps=0), ValueError, "max_steps"), (dict(max_steps=-2), ValueError, "max_steps"),
    (dict(max_steps=2.5), TypeError, "max_steps"), (dict(max_steps=True), TypeError, "max_steps"),
    (dict(precision="fp8"), ValueError, "precision"), (dict(precision="bf16"), ValueError, "precision"),
    (dict(precision=None), ValueError, "precision"),
    (dict(weight_decay=float("nan")), ValueError, "weight_decay"), (dict(weight_decay=-0.01), ValueError, "weight_decay"),
    (dict(weight_decay=float("inf")), ValueError, "weight_decay"), (dict(weight_decay="0.01"), TypeError, "weight_decay"),
    (dict(warmup=-1), ValueError, "warmup"), (dict(warmup=float("nan")), ValueError, "warmup"),
    (dict(warmup=float("inf")), ValueError, "warmup"),
    (dict(save_steps=-5), ValueError, "save_steps"), (dict(save_steps=0), ValueError, "save_steps"),
    (dict(save_steps=2.5), TypeError, "save_steps"), (dict(save_steps=True), TypeError, "save_steps"),
    (dict(save_steps=15, logging_steps=10), ValueError, "save_steps"),
    (dict(logging_steps=0), ValueError, "logging_steps"), (dict(logging_steps=-1), ValueError, "logging_steps"),
    (dict(logging_steps=1.0), TypeError, "logging_steps"),
    (dict(seed=-1), ValueError, "seed"), (dict(seed="0"), TypeError, "seed"),
    (dict(eval_strategy="never"), ValueError, "eval_strategy"), (dict(group_by_length=1), TypeError, "group_by_length"),
    (dict(seq2seq="yes"), TypeError, "seq2seq"),
])
def test_training_arguments_bad_inputs_are_named(tmp_path, monkeypatch, kw, error, name):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(error, match=rf"^{name}\b"):
        T.training_arguments(tmp_path, **{**BASE, **kw})


@pytest.mark.parametrize("bad", [None, 3, ["out"]])
def test_training_arguments_output_dir_must_be_a_path(bad):
    with pytest.raises(TypeError, match="output_dir"):
        T.training_arguments(bad, **BASE)


@pytest.mark.parametrize("n,bs,error,name", [
    (0, 16, ValueError, "n_examples"), (-10, 4, ValueError, "n_examples"), (10.5, 2, TypeError, "n_examples"),
    (True, 2, TypeError, "n_examples"), ("10", 2, TypeError, "n_examples"), (10, 0, ValueError, "batch_size"),
    (10, -4, ValueError, "batch_size"), (10, 2.0, TypeError, "batch_size"), (10, None, TypeError, "batch_size"),
])
def test_steps_per_epoch_bad_inputs_are_named(n, bs, error, name):
    with pytest.raises(error, match=rf"^{name}\b"):
        T.steps_per_epoch(n, bs)


@pytest.mark.parametrize("labels,error", [([0, 2], ValueError), ([5, 1], ValueError), ([-1, 0], ValueError),
                                          ([0, 10**6], ValueError), ([0.4, 1.6], TypeError), (["pos", "neg"], TypeError)])
def test_fit_refuses_labels_outside_the_classes_before_training(smoke, tmp_path, labels, error):
    tds, _ = smoke
    bad = tds["train"].select(range(8)).remove_columns("label").add_column("label", labels * 4)
    tr = _trainer(smoke, tmp_path / "run", dataset=bad, save_steps=None)
    with pytest.raises(error, match=r"^train_dataset\['label'\]"):
        T.fit(tr)
    assert not (tmp_path / "run").exists() or not any((tmp_path / "run").iterdir())


def test_fit_refuses_an_empty_training_set(smoke, tmp_path):
    tds, _ = smoke
    for empty in (tds["train"].select([]), []):
        tr = _trainer(smoke, tmp_path / "run", dataset=empty, save_steps=None)
        with pytest.raises(ValueError, match="train_dataset"):
            T.fit(tr)


if __name__ == "__main__":
    _worker(sys.argv[1], int(sys.argv[2]), sys.argv[3])


# ---------------------------------------------------------------------------- bad inputs (review: bad-inputs.md)
@pytest.mark.parametrize("bad_id", [300, 301, 10**6, -1, -100])
def test_fit_refuses_token_ids_outside_the_vocabulary_before_training(smoke, tmp_path, bad_id):
    tds, _ = smoke
    rows = tds["train"].select(range(8)).to_list()
    rows[5]["input_ids"][3] = bad_id
    tr = _trainer(smoke, tmp_path / "run", dataset=Dataset.from_list(rows), save_steps=None)
    with pytest.raises(ValueError, match=r"^train_dataset\['input_ids'\]") as info:
        T.fit(tr)
    assert str(bad_id) in str(info.value)
    assert not (tmp_path / "run").exists() or not any((tmp_path / "run").iterdir())  # nothing half-written


@pytest.mark.parametrize("max_steps,error", [(True, TypeError), ("3", TypeError), (1.5, TypeError),
                                             (float("nan"), TypeError), (-2, ValueError)])
def test_checkpoint_functions_check_max_steps(tmp_path, max_steps, error):
    with pytest.raises(error, match="max_steps"):
        T.last_complete_checkpoint(tmp_path, max_steps)
    with pytest.raises(error, match="max_steps"):
        T.checkpoint_problem(tmp_path / "checkpoint-1", max_steps)


@pytest.mark.parametrize("bad", [None, 5, 1.5, ["dir"]])
def test_checkpoint_functions_check_their_paths(bad):
    with pytest.raises(TypeError, match="path"):
        T.checkpoint_problem(bad)
    with pytest.raises(TypeError, match="output_dir"):
        T.last_complete_checkpoint(bad)


@pytest.mark.parametrize("verbose", [1, "yes", None])
def test_last_complete_checkpoint_verbose_is_a_bool(tmp_path, verbose):
    with pytest.raises(TypeError, match="verbose"):
        T.last_complete_checkpoint(tmp_path, verbose=verbose)


def test_training_arguments_refuse_a_file_as_output_dir(tmp_path):
    f = tmp_path / "a_file"
    f.write_text("x")
    with pytest.raises(NotADirectoryError, match="output_dir"):
        T.training_arguments(f, learning_rate=1e-3, batch_size=4)


# ---------------------------------------------------------------------------- bad inputs (issue 16, round 2)
def _rows(smoke, n=8):
    tds, _ = smoke
    return tds["train"].select(range(n)).select_columns(["input_ids", "attention_mask", "label"]).to_list()


def _nothing_written(path):
    return not path.exists() or not any(path.iterdir())


@pytest.mark.parametrize("bad", [lambda ids: ids[:2] + [True] + ids[3:], lambda ids: ids[:2] + [np.array(True)] + ids[3:],
                                 lambda ids: ids[:2] + [torch.tensor(False)] + ids[3:], lambda ids: np.array(ids) > 5,
                                 lambda ids: torch.tensor(ids, dtype=torch.float32), lambda ids: [float(i) for i in ids]],
                         ids=["bool", "np-bool-0d", "tensor-bool-0d", "bool-array", "float-tensor", "floats"])
@pytest.mark.parametrize("where", ["train", "eval"])
def test_fit_reads_the_raw_ids_of_a_list_dataset(bad, where, smoke, tmp_path):
    rows = _rows(smoke)
    rows[5]["input_ids"] = bad(rows[5]["input_ids"])
    train, evals = (rows, None) if where == "train" else (_rows(smoke), rows)
    tr = _trainer(smoke, tmp_path / "run", dataset=train, save_steps=None)
    tr.eval_dataset = evals
    with pytest.raises(TypeError, match=rf"^{where}_dataset\[5\]\['input_ids'\]: expected"):
        T.fit(tr)
    assert _nothing_written(tmp_path / "run")


@pytest.mark.parametrize("form", ["dataset", "list", "tensor-list", "numpy-list", "dict-of-datasets"])
@pytest.mark.parametrize("bad_id", [300, 10**6, -1])
def test_fit_checks_the_evaluation_set_ids_too(form, bad_id, smoke, tmp_path):
    tds, _ = smoke
    rows = tds["validation"].select(range(8)).select_columns(["input_ids", "attention_mask", "label"]).to_list()
    rows[3]["input_ids"][2] = bad_id
    convert = {"tensor-list": torch.tensor, "numpy-list": np.array}.get(form)
    if convert:
        rows = [{**r, "input_ids": convert(r["input_ids"])} for r in rows]
    evals = Dataset.from_list(rows) if form in ("dataset", "dict-of-datasets") else rows
    if form == "dict-of-datasets":
        evals = {"validation": tds["validation"], "shifted": evals}
    tr = _trainer(smoke, tmp_path / "run", save_steps=None)
    tr.eval_dataset = evals
    name = r"eval_dataset\['shifted'\]" if form == "dict-of-datasets" else "eval_dataset"
    with pytest.raises(ValueError, match=rf"^{name}\['input_ids'\]: token id {bad_id} "):
        T.fit(tr)
    assert _nothing_written(tmp_path / "run")


@pytest.mark.parametrize("convert", [torch.tensor, np.array, lambda ids: [np.int64(i) for i in ids],
                                     lambda ids: np.array(ids, dtype=np.uint64)],
                         ids=["tensor", "numpy", "np.int64-list", "uint64"])
def test_fit_trains_on_numpy_and_tensor_ids_and_range_checks_them(convert, smoke, tmp_path):
    rows = [{**r, "input_ids": convert(r["input_ids"])} for r in _rows(smoke)]
    result = T.fit(_trainer(smoke, tmp_path / "ok", dataset=rows, save_steps=None, max_steps=2))
    assert result["steps"] == 2 and math.isfinite(result["train_loss"])
    rows[5]["input_ids"] = convert([2, 999, 3])
    with pytest.raises(ValueError, match=r"^train_dataset\['input_ids'\]: token id 999 "):
        T.fit(_trainer(smoke, tmp_path / "bad", dataset=rows, save_steps=None))
    assert _nothing_written(tmp_path / "bad")


def _token_rows(smoke, labels):
    return [{"input_ids": r["input_ids"], "attention_mask": r["attention_mask"],
             "labels": [labels(i, j) for j in range(len(r["input_ids"]))]} for i, r in enumerate(_rows(smoke))]


@pytest.mark.parametrize("form", ["dataset", "list", "tensor-list", "classification"])
def test_fit_refuses_a_training_set_whose_every_label_is_ignored(form, smoke, tmp_path):
    if form == "classification":
        rows = [{**r, "label": -100} for r in _rows(smoke)]
        kw = {}
    else:
        rows = _token_rows(smoke, lambda i, j: -100)
        if form == "tensor-list":
            rows = [{**r, "labels": torch.tensor(r["labels"])} for r in rows]
        kw = dict(model_kw=dict(task="token_classification", num_labels=3))
    dataset = Dataset.from_list(rows) if form == "dataset" else rows
    tr = _trainer(smoke, tmp_path / "run", dataset=dataset, save_steps=None, **kw)
    if form != "classification":
        from transformers import DataCollatorForTokenClassification
        tr.data_collator = DataCollatorForTokenClassification(smoke[1])
    with pytest.raises(ValueError, match=r"^train_dataset\['labels?'\]: every label equals ignore_index \(-100\)"):
        T.fit(tr)
    assert _nothing_written(tmp_path / "run")


def test_a_batch_whose_every_label_is_ignored_is_named_not_blamed_on_the_learning_rate(smoke, tmp_path):
    from transformers import DataCollatorForTokenClassification

    rows = _token_rows(smoke, lambda i, j: -100 if i < 4 else j % 3)  # the first batch of 4: nothing to learn
    tr = _trainer(smoke, tmp_path / "run", dataset=rows, save_steps=None, batch_size=4, max_steps=2,
                  group_by_length=False, train_sampling_strategy="sequential",
                  model_kw=dict(task="token_classification", num_labels=3))
    tr.data_collator = DataCollatorForTokenClassification(smoke[1])
    with pytest.raises(ValueError, match=r"^labels: every label of the batch at step 1 equals ignore_index") as info:
        T.fit(tr)
    assert "learning rate" not in str(info.value)


@pytest.mark.parametrize("bad", [2, 5, -1])
@pytest.mark.parametrize("form", ["dataset", "list"])
def test_fit_names_token_type_ids_outside_the_models_types(bad, form, smoke, tmp_path):
    rows = [{**r, "token_type_ids": [0] * len(r["input_ids"])} for r in _rows(smoke)]
    rows[6]["token_type_ids"][1] = bad
    tr = _trainer(smoke, tmp_path / "run", dataset=Dataset.from_list(rows) if form == "dataset" else rows,
                  save_steps=None)
    with pytest.raises(ValueError, match=rf"^train_dataset\['token_type_ids'\]: token type {bad} .*\[0, 2\)"):
        T.fit(tr)
    assert _nothing_written(tmp_path / "run")


@pytest.mark.parametrize("length", [129, 300])
@pytest.mark.parametrize("form", ["dataset", "list", "eval"])
def test_fit_names_sequences_longer_than_the_models_positions(length, form, smoke, tmp_path):
    rows = _rows(smoke)
    rows[2] = {**rows[2], "input_ids": [5] * length, "attention_mask": [1] * length}
    train = Dataset.from_list(rows) if form == "dataset" else rows if form == "list" else None
    tr = _trainer(smoke, tmp_path / "run", dataset=train, save_steps=None)
    if form == "eval":
        tr.eval_dataset = rows
    name = "eval_dataset" if form == "eval" else "train_dataset"
    with pytest.raises(ValueError, match=rf"^{name}\['input_ids'\]: a sequence of {length} tokens .* 128 positions"):
        T.fit(tr)
    assert _nothing_written(tmp_path / "run")
