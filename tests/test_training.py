import math

import pytest
import torch
from transformers import TrainerCallback

from companion import data, training


@pytest.fixture(scope="module")
def smoke():
    ds = data.load_imdb("fixture")
    model, tok = training.build_classifier("tiny-random-bert", texts=list(ds["train"]["text"]), seed=0)
    return data.tokenize(ds, tok, max_length=32), tok


class StopAt(TrainerCallback):
    """Simulate a Colab disconnect: raise at a given step."""

    def __init__(self, step):
        self.step = step

    def on_step_end(self, args, state, control, **kw):
        if state.global_step == self.step:
            raise KeyboardInterrupt("disconnected")


def _train(tds, tok, out, callbacks=None, resume=True):
    torch.manual_seed(1)
    model = training.BertForSequenceClassification(training.tiny_bert_config(len(tok)))
    args = training.training_arguments(out, learning_rate=1e-3, batch_size=16, max_steps=10, save_steps=4,
                                       logging_steps=5, seed=0)
    trainer = training.make_trainer(model, args, tds["train"], tokenizer=tok, callbacks=callbacks)
    return trainer, training.fit(trainer, resume=resume)


def test_resume_reproduces_uninterrupted_run(smoke, tmp_path):
    tds, tok = smoke
    full, res_full = _train(tds, tok, tmp_path / "full")
    with pytest.raises(KeyboardInterrupt):
        _train(tds, tok, tmp_path / "cut", callbacks=[StopAt(6)])
    assert training.last_complete_checkpoint(tmp_path / "cut").endswith("checkpoint-4")
    resumed, res = _train(tds, tok, tmp_path / "cut")
    assert res["resumed_from"].endswith("checkpoint-4") and res["steps"] == res_full["steps"] == 10
    for (n, a), (_, b) in zip(full.model.state_dict().items(), resumed.model.state_dict().items()):
        assert torch.allclose(a, b, atol=1e-6), n


def test_last_complete_checkpoint_skips_half_written(tmp_path):
    assert training.last_complete_checkpoint(tmp_path / "missing") is None
    for step, complete in [(4, True), (8, True), (12, False)]:
        d = tmp_path / f"checkpoint-{step}"
        d.mkdir()
        (d / "model.safetensors").write_bytes(b"x")
        if complete:
            (d / "trainer_state.json").write_text(f'{{"global_step": {step}}}')
    (tmp_path / "checkpoint-10").mkdir()
    (tmp_path / "checkpoint-10" / "trainer_state.json").write_text('{"trunc')  # interrupted json write
    (tmp_path / "checkpoint-11").mkdir()
    (tmp_path / "checkpoint-11" / "trainer_state.json").write_text("null")  # not a state object
    (tmp_path / "checkpoint-11" / "model.safetensors").write_bytes(b"x")
    (tmp_path / "checkpoint-13").mkdir()
    (tmp_path / "checkpoint-13" / "trainer_state.json").write_text('{"global_step": 13}')
    (tmp_path / "checkpoint-13" / "model.safetensors").write_bytes(b"")  # weights never written
    assert training.last_complete_checkpoint(tmp_path).endswith("checkpoint-8")


def test_last_complete_checkpoint_bad_paths(tmp_path):
    (tmp_path / "f.txt").write_text("x")
    with pytest.raises(NotADirectoryError, match="output_dir"):
        training.last_complete_checkpoint(tmp_path / "f.txt")
    with pytest.raises(TypeError, match="output_dir"):
        training.last_complete_checkpoint(None)


def test_fit_on_a_finished_run_trains_no_further(smoke, tmp_path):
    tds, tok = smoke
    full, res_full = _train(tds, tok, tmp_path / "run")
    again, res = _train(tds, tok, tmp_path / "run")
    assert res_full["steps"] == res["steps"] == 10 and res["train_loss"] is None
    assert res["resumed_from"].endswith("checkpoint-10")
    assert not (tmp_path / "run" / "checkpoint-11").exists()
    for (n, a), (_, b) in zip(full.model.state_dict().items(), again.model.state_dict().items()):
        assert torch.allclose(a, b, atol=1e-6), n
    with pytest.raises(TypeError, match="trainer"):
        training.fit(None)


def test_non_finite_loss_stops_with_clear_message(smoke, tmp_path):
    tds, tok = smoke
    torch.manual_seed(0)
    model = training.BertForSequenceClassification(training.tiny_bert_config(len(tok)))
    with torch.no_grad():
        model.classifier.weight.fill_(float("nan"))
    args = training.training_arguments(tmp_path, learning_rate=1e-3, batch_size=8, max_steps=3)
    trainer = training.make_trainer(model, args, tds["train"], tokenizer=tok)
    with pytest.raises(FloatingPointError, match="step 1"):
        training.fit(trainer)


def test_smoke_training_lowers_loss(smoke, tmp_path):
    tds, tok = smoke
    torch.manual_seed(0)
    model = training.BertForSequenceClassification(training.tiny_bert_config(len(tok)))
    args = training.training_arguments(tmp_path, learning_rate=3e-3, batch_size=16, max_steps=30, logging_steps=5)
    trainer = training.make_trainer(model, args, tds["train"], tokenizer=tok)
    training.fit(trainer)
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    assert losses[-1] < losses[0] and losses[0] == pytest.approx(math.log(2), abs=0.1)


@pytest.mark.parametrize("kw,name", [(dict(learning_rate=0, batch_size=8), "learning_rate"),
                                     (dict(learning_rate=1e-3, batch_size=0), "batch_size"),
                                     (dict(learning_rate=1e-3, batch_size=8, epochs=0), "epochs"),
                                     (dict(learning_rate=1e-3, batch_size=8, precision="fp8"), "precision"),
                                     (dict(learning_rate="1e-3", batch_size=8), "learning_rate"),
                                     (dict(learning_rate=1e-3, batch_size=8, max_steps=2.5), "max_steps")])
def test_training_arguments_validation(tmp_path, kw, name):
    with pytest.raises(ValueError, match=name):
        training.training_arguments(tmp_path, **kw)


def test_transformers5_names(tmp_path):
    args = training.training_arguments(tmp_path, learning_rate=1e-3, batch_size=8, eval_strategy="epoch")
    assert args.eval_strategy == "epoch" and args.optim == "adamw_torch" and args.report_to == []


def test_build_classifier_needs_texts_for_tiny():
    with pytest.raises(ValueError, match="texts"):
        training.build_classifier("tiny-random-bert")
    with pytest.raises(ValueError, match="vocab_size"):
        training.tiny_bert_config(0)


@pytest.mark.parametrize("n,bs,name", [(0, 16, "n_examples"), (-5, 16, "n_examples"), (10.5, 2, "n_examples"),
                                       (True, 2, "n_examples"), (10, 0, "batch_size"), (10, -2, "batch_size")])
def test_steps_per_epoch_validation(n, bs, name):
    with pytest.raises(ValueError, match=name):
        training.steps_per_epoch(n, bs)
    assert training.steps_per_epoch(33, 16) == 3


def test_count_parameters_counts_tied_once():
    lin = torch.nn.Linear(3, 3)
    seq = torch.nn.Sequential(lin, lin)
    seq[1].weight.requires_grad_(False)
    assert training.count_parameters(seq) == (3, 12)


def test_steps_per_epoch():
    assert training.steps_per_epoch(1000, 16) == 63


def test_provenance_reports_versions_device_and_time():
    import time as _t

    text = training.provenance(_t.perf_counter() - 5, "smoke")
    assert "profile smoke" in text and "torch " in text and "transformers " in text
    import re

    seconds = int(re.search(r"notebook wall time: (\d+) s", text).group(1))
    assert 5 <= seconds < 60 and ("CPU " in text or "GPU " in text)


def test_predictions_come_back_in_dataset_order(smoke, tmp_path):
    """transformers groups eval batches by length too; GuardedTrainer must not (misaligned predictions)."""
    tds, tok = smoke
    torch.manual_seed(0)
    model = training.BertForSequenceClassification(training.tiny_bert_config(len(tok)))
    args = training.training_arguments(tmp_path, learning_rate=1e-3, batch_size=4, group_by_length=True)
    trainer = training.make_trainer(model, args, tds["train"], tokenizer=tok)
    out = trainer.predict(tds["test"])
    assert list(out.label_ids) == list(tds["test"]["label"])
    model.eval()
    with torch.no_grad():
        first = model(input_ids=torch.tensor([tds["test"][0]["input_ids"]])).logits[0]
    assert torch.allclose(torch.tensor(out.predictions[0]), first, atol=1e-5)


def test_resolve_tokenizer_reuses_trains_or_loads():
    from companion import profiles
    texts = ["a good film", "a bad film", "not good at all"] * 5
    tiny = training.resolve_tokenizer("tiny-random-bert", texts=texts)
    assert training.resolve_tokenizer("tiny-random-bert", tiny) is tiny
    assert tiny.convert_tokens_to_ids("film") != tiny.unk_token_id
    assert training.resolve_tokenizer("minilm").vocab_size == 30522
    with pytest.raises(ValueError, match="texts"):
        training.resolve_tokenizer("tiny-random-bert")
    assert profiles.model_location("minilm")  # the offline model the "minilm" branch loads
