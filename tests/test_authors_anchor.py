"""tools/analysis/authors_anchor.py: the parts that run without the authors' code (their code itself is
run by hand, once, as the issue's anchor; its record lives under results/analysis/)."""

import pytest
import yaml
from conftest import load_script, requires_shared_cifar10

from ltkit.data.fingerprint import KNOWN_CONTENT


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


JPEG_Q75 = "sha256:6c933e12b0a3587180b7f9db0fa0f3bbc461ec2858489932df3b133ea125423c"


def test_the_gap_tables_name_the_anchor_data_by_content():
    gap = load_script("tools/analysis/gap_tables.py")
    files_only = "# data: /w/data/cifar10/cifar-10-batches-py sha256 030742a876951f65; seed 1 (torch by their main.py)"
    assert gap.anchor_data(files_only) == "CIFAR-10 JPEG copy q75"
    official = next(fp for fp, (name, _) in KNOWN_CONTENT.items() if name == "CIFAR-10 official release")
    named = f"# data: /w/d sha256 0123456789abcdef; content {official} (CIFAR-10 official release); seed 1"
    assert gap.anchor_data(named) == "CIFAR-10 official release"  # the content wins over an unknown file hash
    other = "sha256:" + "ab" * 32
    assert gap.anchor_data(f"# data: /w/d sha256 0123456789abcdef; content {other} (unknown copy); seed 1") == (
        "unknown copy " + "ab" * 6
    )
    assert gap.anchor_data("# data: /w/d sha256 0123456789abcdef; seed 1") == "data unknown"
    assert gap.anchor_data("# no data line") == "data unknown"
    assert gap.anchor_numbers()["data"] == "CIFAR-10 JPEG copy q75"  # the committed record: by its file hash


@requires_shared_cifar10
def test_the_anchor_file_hash_is_the_team_jpeg_copy(cifar10_root):
    """The committed anchor record names its data by the batch files' hash only; that hash is the
    team's JPEG copy as the shared tool writes it, whose content is the registered q75 copy."""
    tool, gap = _tool(), load_script("tools/analysis/gap_tables.py")
    batches = sorted((cifar10_root / "cifar-10-batches-py").iterdir())
    assert gap.FILE_HASHES == {tool.fingerprint(batches): JPEG_Q75}
    assert tool.data_content(cifar10_root, "cifar10") == f"{JPEG_Q75} (CIFAR-10 JPEG copy q75)"
