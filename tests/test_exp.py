"""Experiment loading and command-line overrides."""
import textwrap

import pytest

from yolox.exp import Exp, check_exp_value, get_exp

MEGVII_STYLE_EXP = """
import os

from yolox.exp import Exp as MyExp


class Exp(MyExp):
    def __init__(self):
        super(Exp, self).__init__()
        self.depth = 0.33
        self.width = 0.50
        self.exp_name = os.path.split(os.path.realpath(__file__))[1].split(".")[0]
        self.data_dir = "datasets/voc"
        self.train_ann = "train.json"
        self.val_ann = "val.json"
        self.num_classes = 3
        self.max_epoch = 7
"""


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


def test_megvii_style_experiment_file_loads_and_builds(tmp_path):
    exp = get_exp(write(tmp_path, "my_custom.py", MEGVII_STYLE_EXP))
    assert (exp.exp_name, exp.num_classes, exp.max_epoch) == ("my_custom", 3, 7)
    model = exp.get_model()
    assert model.head.cls_preds[0].out_channels == 3
    assert model.training


def test_exp_name_defaults_to_the_defining_file(tmp_path):
    body = "from yolox.exp import Exp as Base\nclass Exp(Base):\n    pass\n"
    assert get_exp(write(tmp_path, "fancy_run.py", body)).exp_name == "fancy_run"


def test_missing_file_broken_file_and_file_without_exp_give_distinct_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.py' does not exist"):
        get_exp(str(tmp_path / "nope.py"))
    broken = write(tmp_path, "broken.py", "class Exp(:\n    pass\n")
    with pytest.raises(SyntaxError) as info:
        get_exp(broken)
    assert info.value.filename == broken and info.value.lineno == 1
    with pytest.raises(AttributeError, match="no_exp.py' defines no class named 'Exp'"):
        get_exp(write(tmp_path, "no_exp.py", "class Experiment:\n    pass\n"))


def test_get_exp_by_bundled_name():
    assert get_exp(exp_name="yolox-s").width == 0.5
    with pytest.raises(ValueError, match="no bundled experiment named 'yolox-q'"):
        get_exp(exp_name="yolox-q")
    with pytest.raises(ValueError, match="give an experiment file"):
        get_exp()


def test_merge_casts_to_the_attribute_type():
    exp = Exp()
    exp.merge(["max_epoch", "3", "basic_lr_per_img", "0.001", "ema", "False", "input_size", "320,416",
               "test_size", "(256, 256)", "data_dir", "/data/coco", "act", "relu"])
    assert exp.max_epoch == 3 and isinstance(exp.max_epoch, int)
    assert exp.basic_lr_per_img == 0.001
    assert exp.ema is False
    assert exp.input_size == (320, 416) and exp.test_size == (256, 256)
    assert exp.data_dir == "/data/coco" and exp.act == "relu"
    exp.random_size = (10, 20)
    exp.merge(["random_size", "None"])
    assert exp.random_size is None


def test_merge_leaves_megvii_wandb_options_to_the_logger():
    """Megvii's tools/train.py passes ``-l wandb``'s wandb-<key> <value> pairs to merge with the rest."""
    exp = Exp()
    exp.merge(["wandb-project", "yolox", "max_epoch", "3", "wandb-log_checkpoints", "True"])
    assert exp.max_epoch == 3 and not hasattr(exp, "wandb-project")
    with pytest.raises(KeyError, match="wandb_project"):
        exp.merge(["wandb_project", "yolox"])  # only Megvii's dash form is the logger's


def test_merge_rejects_unknown_keys_bad_values_and_odd_lists_without_partial_updates():
    exp = Exp()
    with pytest.raises(KeyError, match="unknown experiment attribute 'max_epochs'.*did you mean max_epoch"):
        exp.merge(["max_epoch", "5", "max_epochs", "3"])
    assert exp.max_epoch == 300  # nothing applied when one key is bad
    with pytest.raises(ValueError, match="max_epoch='three'"):
        exp.merge(["max_epoch", "three"])
    with pytest.raises(ValueError, match="expected a boolean"):
        exp.merge(["ema", "maybe"])
    with pytest.raises(ValueError, match="KEY VALUE pairs"):
        exp.merge(["max_epoch"])


def test_check_exp_value_rejects_sizes_off_the_stride_grid():
    exp = Exp()
    check_exp_value(exp)
    exp.input_size = (640, 630)
    with pytest.raises(ValueError, match="input_size=\\(640, 630\\) must be"):
        check_exp_value(exp)


def test_repr_lists_attributes():
    text = repr(Exp())
    assert "basic_lr_per_img" in text and "nmsthre" in text


def test_assigner_defaults_to_the_classic_prefilter():
    assigner = Exp().get_model().head.criterion.assigner
    assert (assigner.prefilter, assigner.center_radius, assigner.outside_penalty) == ("box_or_center", 2.5, 1e5)


@pytest.mark.parametrize("opts,expected", [
    (["assigner_prefilter", "center"], ("center", 1.5, 1e6)),  # radius follows the prefilter
    (["assigner_prefilter", "center", "assigner_center_radius", "2.5"], ("center", 2.5, 1e6)),
    (["assigner_center_radius", "3"], ("box_or_center", 3.0, 1e5)),
])
def test_assigner_settings_from_overrides_reach_the_head(opts, expected):
    exp = Exp()
    exp.merge(["width", "0.125"] + opts)
    assigner = exp.get_model().head.criterion.assigner
    assert (assigner.prefilter, assigner.center_radius, assigner.outside_penalty) == expected


def test_assigner_settings_from_an_experiment_file_and_the_train_command_line(tmp_path):
    from yolox.tools.exp_flags import build_exp
    from _train_helpers import load_train_tool

    exp_file = write(tmp_path, "geometry.py", """
        from yolox.exp import Exp as MyExp


        class Exp(MyExp):
            def __init__(self):
                super().__init__()
                self.width = 0.125
                self.assigner_prefilter = "center"  # current Megvii's centre-only prefilter
        """)
    assert get_exp(exp_file).get_model().head.criterion.assigner.center_radius == 1.5
    args = load_train_tool().make_parser().parse_args(
        ["-f", exp_file, "assigner_prefilter", "box_or_center", "assigner_center_radius", "1.5"])
    assigner = build_exp(args).get_model().head.criterion.assigner
    assert (assigner.prefilter, assigner.center_radius) == ("box_or_center", 1.5)


def test_bad_assigner_settings_name_the_attribute_and_the_choices():
    exp = Exp()
    choices = "expected one of \\['box_or_center', 'center'\\]"
    with pytest.raises(ValueError, match=f"assigner_prefilter='geometry': {choices}"):
        exp.merge(["assigner_prefilter", "geometry"])
    with pytest.raises(ValueError, match="assigner_center_radius=-1: expected a positive number"):
        exp.merge(["max_epoch", "5", "assigner_center_radius", "-1"])
    with pytest.raises(ValueError, match="assigner_center_radius='wide'"):
        exp.merge(["assigner_center_radius", "wide"])
    assert (exp.assigner_prefilter, exp.assigner_center_radius, exp.max_epoch) == ("box_or_center", None, 300)
    exp.assigner_prefilter = "centre"  # set in an experiment file: caught when the model is built
    with pytest.raises(ValueError, match="assigner_prefilter='centre'"):
        exp.get_model()
