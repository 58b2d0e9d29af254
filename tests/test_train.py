"""The training loop (tinygrad_cnn.train): learning on a small subset, validation split,
checkpoints, and resume giving exactly the losses of an uninterrupted run."""
import math

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import get_blas_threads, set_blas_threads
from tinygrad_cnn.train import CHECKPOINT_NAME, DEFAULT_LR, TrainConfig, fit, load_datasets, lr_factor

# a few hundred images: seconds, not minutes
SMALL = dict(limit_train=384, valid_size=256, limit_test=256, batch_size=64, progress=False)


class Interrupt(Exception):
    pass


def _quiet(line):
    pass


def test_split_holds_out_the_last_training_images():
    train, valid, test = load_datasets(TrainConfig(valid_size=5000))
    assert len(train) == 55000 and len(valid) == 5000 and len(test) == 10000
    assert train.indices[-1] == 54999 and valid.indices[0] == 55000 and valid.indices[-1] == 59999
    assert train.dataset is valid.dataset and train.dataset.train and not test.train
    small_train, _, small_test = load_datasets(TrainConfig(**SMALL))
    assert len(small_train) == 384 and len(small_test) == 256


def test_a_short_run_learns_and_reports_each_epoch():
    lines = []
    result = fit(TrainConfig(**{**SMALL, "limit_train": 1024, "epochs": 2}), log=lines.append)
    h = result.history
    assert h["epoch"] == [1, 2] and len(h["step_loss"]) == 2 * 16
    assert h["train_loss"][1] < h["train_loss"][0] < math.log(10) + 0.2
    assert h["valid_accuracy"][1] > 60        # 10 % is chance; 1,024 images, 2 epochs
    assert result.test_accuracy > 60
    assert any(l.startswith("epoch 1/2  train loss") for l in lines)
    assert lines[-1].startswith("test accuracy")
    assert sum(l.startswith("test accuracy") for l in lines) == 1   # the test set is used once


def test_resume_gives_the_same_losses_as_an_uninterrupted_run(tmp_path):
    cfg = TrainConfig(**SMALL, epochs=3, optimizer="sgd", lr=0.05)
    straight = fit(cfg, log=_quiet, checkpoint=str(tmp_path / "straight"))

    def stop_after_epoch_1(line):
        if line.startswith("epoch 1/3"):
            raise Interrupt                  # like Ctrl-C right after epoch 1's checkpoint

    with pytest.raises(Interrupt):
        fit(cfg, log=stop_after_epoch_1, checkpoint=str(tmp_path / "cut"))
    state = tc.load(tmp_path / "cut" / CHECKPOINT_NAME)
    assert int(state["epoch"]) == 1
    assert set(state) >= {"model", "optimizer", "scheduler", "rng", "history", "config"}

    lines = []
    resumed = fit(cfg, log=lines.append, checkpoint=str(tmp_path / "cut"), resume=True)
    assert any("resumed from" in l and "after epoch 1" in l for l in lines)
    assert resumed.history["epoch"] == [1, 2, 3]
    # identical to the last bit: same batches, same momentum buffers, same schedule position
    assert resumed.history["step_loss"] == straight.history["step_loss"]
    assert resumed.history["valid_accuracy"] == straight.history["valid_accuracy"]
    assert resumed.test_accuracy == straight.test_accuracy
    for (name, a), (_, b) in zip(straight.model.state_dict().items(),
                                 resumed.model.state_dict().items()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=name)


def test_resume_with_adam_matches_too(tmp_path):
    cfg = TrainConfig(**SMALL, epochs=2, model="lenet5-classic")
    straight = fit(cfg, log=_quiet)

    def stop(line):
        if line.startswith("epoch 1/2"):
            raise Interrupt

    with pytest.raises(Interrupt):
        fit(cfg, log=stop, checkpoint=str(tmp_path))
    resumed = fit(cfg, log=_quiet, checkpoint=str(tmp_path), resume=True)
    assert resumed.history["step_loss"] == straight.history["step_loss"]


def test_resume_refuses_a_checkpoint_made_with_other_settings(tmp_path):
    fit(TrainConfig(**SMALL, epochs=1, schedule="none"), log=_quiet, checkpoint=str(tmp_path))
    with pytest.raises(ValueError, match=rf"other settings \(lr: checkpoint {DEFAULT_LR['adam']}, this run 0.01\)"):
        fit(TrainConfig(**SMALL, epochs=2, schedule="none", lr=0.01), log=_quiet,
            checkpoint=str(tmp_path), resume=True)
    # with a constant learning rate, more epochs may be added on resume
    more = fit(TrainConfig(**SMALL, epochs=2, schedule="none"), log=_quiet,
               checkpoint=str(tmp_path), resume=True)
    assert more.history["epoch"] == [1, 2]


def test_resume_without_a_checkpoint_file_starts_afresh(tmp_path):
    lines = []
    fit(TrainConfig(**SMALL, epochs=1), log=lines.append, checkpoint=str(tmp_path / "new"), resume=True)
    assert "starting from scratch" in lines[0]
    assert (tmp_path / "new" / CHECKPOINT_NAME).exists()


@pytest.mark.parametrize("schedule", ["cosine", "onecycle", "step", "none"])
def test_lr_schedules(schedule):
    f = lr_factor(schedule, 100, warmup=0.1)
    values = [f(t) for t in range(100)]
    assert max(values) <= 1.0 + 1e-12 and min(values) >= 0
    if schedule == "cosine":
        assert values[0] == pytest.approx(0.1) and values[9] == 1.0 and values[-1] < 1e-3
        assert all(a >= b for a, b in zip(values[9:], values[10:]))
    if schedule == "onecycle":
        assert values[0] == pytest.approx(1 / 25) and int(np.argmax(values)) == 29
        assert values[-1] == pytest.approx(1 / 25e4)
    if schedule == "step":
        assert values[49] == 1.0 and values[50] == pytest.approx(0.1) and values[75] == pytest.approx(0.01)
    if schedule == "none":
        assert set(values) == {1.0}
    with pytest.raises(ValueError, match="unknown schedule"):
        lr_factor("triangle", 10)


def test_bad_settings_fail_before_any_work():
    with pytest.raises(ValueError, match="unknown optimizer 'rmsprop'"):
        fit(TrainConfig(optimizer="rmsprop"), log=_quiet)
    with pytest.raises(ValueError, match="valid_size=60000"):
        fit(TrainConfig(valid_size=60000), log=_quiet)
    with pytest.raises(ValueError, match="resume needs a checkpoint"):
        fit(TrainConfig(**SMALL, resume=True), log=_quiet)


def test_set_blas_threads_reaches_numpys_openblas():
    before = get_blas_threads()
    if before is None:
        pytest.skip("NumPy is not using OpenBLAS here")
    try:
        assert set_blas_threads(1) is True and get_blas_threads() == 1
    finally:
        set_blas_threads(before)
    assert get_blas_threads() == before
