import json

from owslib.__main__ import main


def test_train_command_writes_run_outputs(smoke_root, tmp_path, capsys):
    out = tmp_path / "run"
    code = main(
        [
            "train",
            "--profile",
            "smoke",
            "--set",
            f"data__root={smoke_root}",
            "--set",
            "train__epochs=1",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    for name in ("config.json", "metrics.json", "history.csv", "checkpoints/last.pt"):
        assert (out / name).is_file(), name
    assert json.loads((out / "config.json").read_text())["train"]["epochs"] == 1
    assert "miou" in capsys.readouterr().out


def test_bad_config_key_is_named(tmp_path, caplog):
    code = main(["train", "--profile", "smoke", "--set", "train__lrr=1", "--out", str(tmp_path)])
    assert code == 2
    assert "train__lrr" in caplog.text


def test_generate_command(tmp_path, capsys):
    code = main(
        [
            "data",
            "generate",
            "--profile",
            "smoke",
            "--set",
            "synthetic__n_train=2",
            "--set",
            "synthetic__n_val=1",
            "--set",
            "synthetic__n_test=1",
            "--out",
            str(tmp_path / "d"),
        ]
    )
    assert code == 0
    assert len(list((tmp_path / "d" / "leftImg8bit" / "train").rglob("*.png"))) == 2
