"""Which `fit` command lines cross-validate every fold: data.folds / data.fold from flags and from YAML configs."""

import pytest

from ssmkit.cli.pipeline_cli import _folds_to_run


@pytest.fixture
def config(tmp_path):
    def write(text: str, name: str = "cfg.yaml") -> str:
        path = tmp_path / name
        path.write_text(text)
        return str(path)
    return write


def test_flags(config):
    assert _folds_to_run(["fit", "--data.folds", "10"]) == 10
    assert _folds_to_run(["fit", "--data.folds=5", "--model.d_model", "8"]) == 5
    assert _folds_to_run(["fit", "--data.folds", "10", "--data.fold", "3"]) == 0  # one fold asked for
    assert _folds_to_run(["test", "--data.folds", "10"]) == 0  # only fit cross-validates
    assert _folds_to_run(["fit", "--data.folds", "1"]) == 0 and _folds_to_run(["fit", "--data.folds", "x"]) == 0


def test_yaml_configs(config):
    cv = config("data:\n  folds: 10\n  batch_size: 8\nmodel:\n  model: gin\n")
    assert _folds_to_run(["fit", "--config", cv]) == 10
    assert _folds_to_run(["fit", f"--config={cv}"]) == 10
    assert _folds_to_run(["fit", "--config", cv, "--data.fold", "2"]) == 0
    assert _folds_to_run(["fit", "--config", cv, "--data.folds", "5"]) == 5  # a later flag wins
    # a config saved by one fold's run names its fold: that fold alone; fold: null counts as none
    one = config("data:\n  folds: 10\n  fold: 4\n", "one.yaml")
    assert _folds_to_run(["fit", "--config", one]) == 0
    assert _folds_to_run(["fit", "--config", config("data:\n  folds: 10\n  fold: null\n", "null.yaml")]) == 10
    # later configs win over earlier ones, key by key
    assert _folds_to_run(["fit", "--config", cv, "--config", one]) == 0
    assert _folds_to_run(["fit", "--config", config("data:\n  folds: 3\n", "b.yaml"), "--config", cv]) == 10
    # unreadable or odd files are left for the parser to report
    assert _folds_to_run(["fit", "--config", config("data: [1, 2\n", "bad.yaml")]) == 0
    assert _folds_to_run(["fit", "--config", config("- a\n- b\n", "list.yaml")]) == 0
    assert _folds_to_run(["fit", "--config", "/nonexistent.yaml"]) == 0


def test_short_option_inline_yaml_and_binary_files(config, tmp_path):
    cv = config("data:\n  folds: 4\n")
    assert _folds_to_run(["fit", "-c", cv]) == 4
    assert _folds_to_run(["fit", "--config", "{data: {folds: 3}}"]) == 3  # inline YAML, as the parser takes it
    binary = tmp_path / "bad.yaml"
    binary.write_bytes(b"\xff\xfe\x00data: {folds: 3}")
    assert _folds_to_run(["fit", "--config", str(binary)]) == 0  # left for check_config's one-line error
