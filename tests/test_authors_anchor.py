"""tools/analysis/authors_anchor.py: the parts that run without the authors' code (their code itself is
run by hand, once, as the issue's anchor; its record lives under results/analysis/)."""

import pytest
import yaml
from conftest import load_script


def _tool():
    return load_script("tools/analysis/authors_anchor.py")


CONFIG = {
    "networks": {
        "classifier": {"params": {"use_effect": True, "alpha": 1.0}},
        "feat_model": {"params": {"pretrain": False}},
    },
    "training_opt": {
        "batch_size": 256,
        "cifar_imb_ratio": 0.01,
        "log_dir": "./logs/x",
        "num_epochs": 200,
        "num_workers": 12,
    },
    "shuffle": False,
}


def test_write_config_changes_only_the_named_fields(tmp_path):
    tool = _tool()
    src = tmp_path / "theirs.yaml"
    src.write_text(yaml.safe_dump(CONFIG))
    tool.write_config(
        src, tmp_path / "a.yaml", log_dir="/o/log", cifar_imb_ratio=0.02, num_workers=None, num_epochs=None
    )
    a = yaml.safe_load((tmp_path / "a.yaml").read_text())
    expected = yaml.safe_load(yaml.safe_dump(CONFIG))
    expected["training_opt"].update(log_dir="/o/log", cifar_imb_ratio=0.02)
    assert a == expected  # workers and epochs keep their config's values when not given
    tool.write_config(tmp_path / "a.yaml", tmp_path / "b.yaml", use_effect=False)
    b = yaml.safe_load((tmp_path / "b.yaml").read_text())
    expected["networks"]["classifier"]["params"]["use_effect"] = False
    assert b == expected


def test_best_epoch_is_the_first_maximum_of_their_acc_csv(tmp_path):
    tool = _tool()
    acc = tmp_path / "acc.csv"
    acc.write_text("epoch,train_all,val_all\n1,0.5,0.20\n2,0.6,0.31\n3,0.7,0.31\n4,0.8,0.25\n")
    assert tool.best_epoch(acc) == (2, 0.31, 4, 0.25)
    skipped = tmp_path / "skipped.csv"
    skipped.write_text("epoch,train_all,val_all\n1,0.5,nan\n2,0.6,nan\n")
    assert tool.best_epoch(skipped) is None
    assert tool.best_epoch(tmp_path / "missing.csv") is None


def test_bad_input_is_refused_with_what_to_do(tmp_path, capsys):
    tool = _tool()
    data = tmp_path / "data"
    (data / "cifar-10-batches-py").mkdir(parents=True)
    with pytest.raises(SystemExit):
        tool.main(["--code", str(tmp_path), "--data", str(data), "--out", str(tmp_path / "o")])
    assert "not the authors' classification/ folder" in capsys.readouterr().err
    code = tmp_path / "code"
    for f in tool.REQUIRED:
        (code / f).parent.mkdir(parents=True, exist_ok=True)
        (code / f).write_text("")
    with pytest.raises(SystemExit):
        tool.main(["--code", str(code), "--data", str(tmp_path), "--out", str(tmp_path / "o")])
    assert "holds no cifar-10-batches-py/" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        tool.main(["--code", str(code), "--data", str(data), "--seed", "0", "--out", str(tmp_path / "o")])
    assert "--seed must be >= 1" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
