"""RunConfig: presets equal REFERENCE.md 1.3, bad input names the field, CLI flags map 1:1."""

import pytest

from ltkit import PRESETS, RunConfig
from ltkit.cli import build_parser, main


def test_cifar_presets_equal_reference_configs():
    # REFERENCE 1.3, CIFAR{10,100}_LT/causal_norm_32.yaml
    for name, alpha, dataset in [("cifar10_lt_tde", 1.0, "cifar10_lt"), ("cifar100_lt_tde", 1.5, "cifar100_lt")]:
        c = RunConfig.preset(name)
        assert (c.dataset, c.backbone, c.classifier) == (dataset, "resnet32", "causal_norm")
        assert (c.num_head, c.tau, c.alpha, c.gamma) == (2, 16.0, alpha, 1 / 32)
        assert (c.batch_size, c.epochs, c.lr, c.weight_decay, c.momentum) == (256, 200, 0.2, 5e-4, 0.9)
        assert (c.schedule, c.warmup_epochs, c.milestones, c.lr_factor) == ("warmup_multistep", 5, (120, 160), 0.01)
        assert (c.mu, c.mu_schedule, c.imb_ratio, c.loss, c.sampler) == (0.9, "fixed", 100.0, "ce", "instance")


def test_large_presets_equal_reference_configs():
    for name, dataset in [("imagenet_lt_tde", "imagenet_lt"), ("places_lt_tde", "places_lt")]:
        c = RunConfig.preset(name)
        assert (c.dataset, c.backbone, c.classifier) == (dataset, "resnext50_32x4d", "causal_norm")
        assert (c.num_head, c.tau, c.alpha, c.gamma) == (2, 16.0, 3.0, 1 / 32)
        assert (c.batch_size, c.epochs, c.lr, c.weight_decay, c.schedule) == (512, 90, 0.2, 5e-4, "cosine")
        assert c.mu_schedule == "lr_scaled"
    b = RunConfig.preset("imagenet_lt_baseline")
    assert b.classifier == "linear" and b.batch_size == 512 and b.schedule == "cosine"


def test_decoupling_presets():
    s1 = RunConfig.preset("cifar10_lt_stage1")
    assert (s1.classifier, s1.batch_size, s1.epochs, s1.weight_decay, s1.schedule) == ("linear", 512, 90, 1e-4, "cosine")
    lws = RunConfig.preset("cifar10_lt_lws", init_from="results/runs/stage1")
    assert (lws.classifier, lws.epochs, lws.sampler, lws.samples_per_class, lws.freeze_backbone) == (
        "lws", 5, "class_balanced", 4, True)
    with pytest.raises(ValueError, match="init_from"):
        RunConfig.preset("cifar10_lt_lws")


def test_every_preset_is_valid_and_holds_its_values():
    for name, values in PRESETS.items():
        extra = {"init_from": "x"} if values.get("freeze_backbone") else {}
        cfg = RunConfig.preset(name, **extra)
        got = cfg.to_dict()
        for k, v in values.items():
            assert got[k] == (list(v) if isinstance(v, tuple) else v), (name, k)


@pytest.mark.parametrize("field,value,message", [
    ("dataset", "cifar10", "dataset: unknown value 'cifar10'; choose one of: synthetic_lt, cifar10_lt"),
    ("classifier", "cosin", "classifier: unknown value 'cosin'; choose one of: .*causal_norm"),
    ("loss", "l2", "loss: unknown value 'l2'; choose one of: .*balanced_softmax"),
    ("backbone", "vit", "backbone: unknown value 'vit'; choose one of: .*resnet32"),
    ("sampler", "square", "sampler: unknown value 'square'; choose one of: instance, class_balanced"),
    ("epochs", 0, "epochs: must be a positive integer, got 0"),
    ("epochs", -3, "epochs: must be a positive integer"),
    ("imb_ratio", 0, "imb_ratio: must be >= 1"),
    ("imb_ratio", -10, "imb_ratio: must be >= 1"),
    ("num_head", 3, "num_head: 3 does not divide the resnet32 feature dimension 128"),
    ("epochs", "ten", "epochs: expected an integer, got 'ten'"),
    ("lr", "fast", "lr: expected a number"),
    ("amp", "maybe", "amp: expected true/false"),
    ("alpha", -1.0, "alpha: must be >= 0"),
    ("milestones", (160, 120), "milestones: must be increasing"),
    ("pipeline", "dali", "pipeline: unknown value 'dali'; choose one of: batched, torchvision"),
])
def test_bad_values_name_the_field(field, value, message):
    with pytest.raises(ValueError, match=message):
        RunConfig(**{field: value})


def test_bad_combinations_rejected_early():
    with pytest.raises(ValueError, match="loss: 'ldam' assumes scaled-cosine logits; use it with classifier one of"):
        RunConfig(loss="ldam", classifier="linear")
    RunConfig(loss="ldam", classifier="cosine", drw_epoch=160)
    with pytest.raises(ValueError, match="corrected twice"):
        RunConfig(loss="balanced_softmax", sampler="class_balanced")
    with pytest.raises(ValueError, match="freeze_backbone"):
        RunConfig(freeze_backbone=True)
    with pytest.raises(ValueError, match="drw_epoch: must be <= epochs"):
        RunConfig(epochs=10, drw_epoch=20, loss="ldam", classifier="cosine")
    with pytest.raises(ValueError, match="pipeline: 'torchvision' applies to the in-memory datasets .* imagenet_lt always"):
        RunConfig.preset("imagenet_lt_tde", pipeline="torchvision")
    RunConfig.preset("cifar100_lt_tde", pipeline="torchvision")


def test_unknown_field_lists_valid_fields():
    with pytest.raises(ValueError, match=r"unknown RunConfig field\(s\) \['epoch'\]; valid fields: dataset"):
        RunConfig.from_dict({"epoch": 3})
    with pytest.raises(ValueError, match="unknown preset 'cifar'; choose one of: cifar100_lt_baseline"):
        RunConfig.preset("cifar")


def test_coercion_from_strings_and_papermill_types():
    c = RunConfig.from_dict({"imb_ratio": 50, "epochs": "3", "milestones": "2,3", "amp": "false", "alpha": "auto"})
    assert c.imb_ratio == 50.0 and isinstance(c.imb_ratio, float)
    assert c.epochs == 3 and c.milestones == (2, 3) and c.amp is False and c.alpha is None
    assert RunConfig(milestones=[4, 8]).milestones == (4, 8)
    assert RunConfig(alpha=2).alpha == 2.0
    assert RunConfig.from_dict(RunConfig(alpha=1.5).to_dict()) == RunConfig(alpha=1.5)


def test_defaults_and_derived_names():
    c = RunConfig(dataset="cifar10_lt", seed=3)
    assert c.resolved_data_root == "data/cifar10"
    assert c.resolved_output_dir == "results/runs/cifar10_lt-r100-resnet32-causal_norm-ce-s3"
    assert "device" not in c.training_dict() and "epochs" in c.training_dict()


def test_cli_has_a_flag_for_every_field():
    run = build_parser()._subparsers._group_actions[0].choices["run"]
    dests = {a.dest for a in run._actions}
    assert set(RunConfig.field_names()) <= dests


def test_cli_rejects_bad_values_with_field_name(capsys):
    assert main(["run", "--dataset", "cifar10_lt", "--epochs", "0"]) == 2
    assert "epochs: must be a positive integer" in capsys.readouterr().err
    assert main(["run", "--preset", "cifar10_lt_tde", "--classifier", "nope"]) == 2
    assert "classifier: unknown value 'nope'" in capsys.readouterr().err


def test_cli_missing_dataset_says_where(tmp_path, capsys):
    assert main(["run", "--dataset", "cifar10_lt", "--data-root", str(tmp_path / "nowhere"), "--epochs", "1",
                 "--output-dir", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert str(tmp_path / "nowhere") in err and "download" in err
