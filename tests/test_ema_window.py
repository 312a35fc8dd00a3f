"""The EMA's window in epochs (``ema_epochs``) and the note when a short run never leaves the
2000-update ramp of the default EMA (issue 24: the EMA then averages nothing)."""
from argparse import Namespace

import pytest

from yolox.core import Trainer
from yolox.exp import get_exp
from yolox.utils.ema import ModelEMA, ema_for_epochs

from _train_helpers import make_tiny_sample, write_exp


def test_window_and_ramp_scale_with_the_epoch():
    decay, ramp = ema_for_epochs(3, 26)
    assert 1.0 / (1.0 - decay) == pytest.approx(78.0)  # 3 epochs of 26 steps
    assert ramp == pytest.approx(0.4 * 78)  # Megvii's ratio: ramp 2000 for a window of 5000
    # After the 80 epochs of the BCCD recipe the default EMA is still inside its ramp (a decay of 0.65
    # averages about 3 steps) ...
    assert ModelEMA.decay_at(decay=0.9999, ramp=2000, updates=80 * 26) < 0.65
    # ... while an EMA of 3 epochs has long reached its decay.
    assert ModelEMA.decay_at(decay=decay, ramp=ramp, updates=80 * 26) == pytest.approx(decay)


@pytest.mark.parametrize("ema_epochs", [None, 2])
def test_the_trainer_uses_the_window_and_says_so_only_without_it(tmp_path, ema_epochs):
    exp_file = write_exp(tmp_path / "tiny.py", data_dir=make_tiny_sample(tmp_path / "data"),
                         output_dir=tmp_path / "out", extra=f"self.max_epoch = 1\nself.ema_epochs = {ema_epochs}\n")
    trainer = Trainer(get_exp(str(exp_file)), Namespace(batch_size=4))
    trainer.train()
    ema = trainer.ema_model
    log = (tmp_path / "out" / "tiny" / "train_log.txt").read_text()  # the trainer's own log file
    steps = trainer.max_iter
    if ema_epochs is None:
        assert (ema.decay, ema.ramp) == (0.9999, 2000.0)
        assert "end inside the 2000-update ramp" in log and "set ema_epochs" in log
    else:
        assert (ema.decay, ema.ramp) == ema_for_epochs(ema_epochs, steps)
        assert "end inside" not in log and "averages ~2.0 epochs" in log
    assert ema.updates == steps
