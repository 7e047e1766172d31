"""Schedules against docs/method.md 1.2, and the loop: resume, records, two-stage."""

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch

import ltkit
from ltkit import RunConfig
from ltkit.report.load import load_runs
from ltkit.train import cosine_lr, lr_at_epoch, warmup_multistep_lr


def test_warmup_multistep_matches_reference_values():
    cfg = RunConfig.preset("cifar10_lt_tde")
    lrs = [lr_at_epoch(cfg, e) for e in range(1, 201)]
    np.testing.assert_allclose(lrs[:4], [0.09333, 0.12, 0.14667, 0.17333], atol=5e-6)
    assert all(lr == pytest.approx(0.2) for lr in lrs[4:119])  # e = 5..119
    assert all(lr == pytest.approx(0.002) for lr in lrs[119:159])  # e = 120..159
    assert all(lr == pytest.approx(2e-5) for lr in lrs[159:200])  # e = 160..200


def test_cosine_is_torch_scheduler_stepped_before_each_epoch():
    # the authors call scheduler.step() at the start of every epoch (docs/method.md 1.2)
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=0.2)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=90, eta_min=0.0)
    cfg = RunConfig.preset("imagenet_lt_tde")
    for e in range(1, 91):
        opt.step()
        sched.step()
        assert lr_at_epoch(cfg, e) == pytest.approx(opt.param_groups[0]["lr"], abs=1e-12)
    assert cosine_lr(90, 0.2, epochs=90) == pytest.approx(0.0, abs=1e-15)  # the last epoch runs at lr 0
    assert cosine_lr(1, 0.2, epochs=90) < 0.2


def test_warmup_formula_independent():
    for e in range(1, 5):
        assert warmup_multistep_lr(e, 0.2) == pytest.approx(0.2 * ((1 / 3) * (1 - e / 5) + e / 5))


def test_per_step_warmup_ramps_linearly_then_joins_the_epoch_schedule():
    from ltkit.train import lr_at_step

    cfg = RunConfig.preset("cifar10_lt_baseline")
    assert cfg.warmup == "step"
    steps = 48
    ramp = [lr_at_step(cfg, e, i, steps) for e in range(1, 6) for i in range(steps)]
    np.testing.assert_allclose(ramp, 0.2 * np.arange(1, 5 * steps + 1) / (5 * steps), rtol=1e-12)
    assert ramp[0] == pytest.approx(0.2 / 240) and ramp[-1] == pytest.approx(0.2)
    for e in (6, 119, 120, 160, 200):  # after the warm-up: the epoch's value at every step
        assert {lr_at_step(cfg, e, i, steps) for i in (0, 17, 47)} == {lr_at_epoch(cfg, e)}
    epochwise = RunConfig.preset("cifar10_lt_tde")  # the authors' per-epoch warm-up is unchanged
    assert epochwise.warmup == "epoch"
    assert all(lr_at_step(epochwise, e, i, steps) == lr_at_epoch(epochwise, e) for e in range(1, 8) for i in (0, 47))


@pytest.mark.parametrize("compile_", [False, True])
def test_training_uses_the_per_step_warmup_lrs(tmp_path, monkeypatch, compile_):
    """The loop sets the ramp's lr before every warm-up step (compiled or not) and the epoch's
    lr after it; history's lr is the epoch's last step's."""
    from ltkit.train import lr_at_step

    seen = []
    original = torch.optim.SGD.step

    def recording_step(self, *a, **k):
        seen.append(self.param_groups[0]["lr"])
        return original(self, *a, **k)

    monkeypatch.setattr(torch.optim.SGD, "step", recording_step)
    cfg = RunConfig(
        **{**TINY, "epochs": 3, "warmup_epochs": 2, "milestones": (3,), "steps_per_epoch": 3},
        warmup="step",
        classifier="linear",
        alpha=None,
        compile=compile_,
        amp=False,
        output_dir=str(tmp_path / "run"),
    )
    run_dir = ltkit.run(cfg, log=lambda *_: None)
    expected = [lr_at_step(cfg, e, i, 3) for e in (1, 2, 3) for i in range(3)]
    assert expected[:6] == pytest.approx([0.05 * k / 6 for k in range(1, 7)])
    if compile_:  # the compiled step (epoch 3) runs the optimizer inside the graph: only the eager warm-up is seen
        assert seen[:6] == pytest.approx(expected[:6])
    else:
        assert seen == pytest.approx(expected)
    hist = pd.read_csv(run_dir / "history.csv")
    np.testing.assert_allclose(hist.lr, [0.05 / 2, 0.05, 0.05 * 0.01])


TINY = dict(
    dataset="synthetic_lt",
    synthetic_classes=4,
    synthetic_n_max=40,
    imb_ratio=10,
    synthetic_image_size=8,
    batch_size=16,
    epochs=2,
    lr=0.05,
    warmup_epochs=1,
    milestones=(2,),
    progress=False,
    num_workers=0,
    device="cpu",
)


def test_run_writes_a_complete_record(tmp_path):
    cfg = RunConfig(**TINY, classifier="causal_norm", alpha=1.0, output_dir=str(tmp_path / "run"))
    run_dir = ltkit.run(cfg, log=lambda *_: None)
    rec = json.loads((run_dir / "run.json").read_text())
    assert rec["status"] == "complete"
    assert rec["params"] == cfg.to_dict()
    assert set(rec["metrics"]) == {"plain", "tde"}
    for m in rec["metrics"].values():
        assert set(m) >= {"overall", "many", "medium", "few"}
    assert rec["metrics"]["tde"]["alpha"] == 1.0
    assert rec["environment"]["torch"] == torch.__version__
    assert rec["train_counts"] == [40, 18, 8, 4]
    hist = pd.read_csv(run_dir / "history.csv")
    assert list(hist.epoch) == [1, 2] and set(hist.columns) >= {"lr", "loss", "train_acc", "mu"}
    pc = pd.read_csv(run_dir / "per_class.csv")
    assert list(pc.train_count) == [40, 18, 8, 4] and list(pc.group) == ["medium", "few", "few", "few"]
    assert set(pc.columns) >= {"acc_plain", "acc_tde", "group"}
    out = np.load(run_dir / "outputs.npz")
    assert out["features"].shape == (2000, 128) and out["labels"].shape == (2000,)  # 4 classes x 500 test images
    assert out["logits_tde"].shape == (2000, 4) and out["mean_feature"].shape == (128,)
    assert np.abs(out["mean_feature"]).sum() > 0
    # NCM class means: the mean un-augmented train feature of each class
    from ltkit.data import load_dataset, normalize_batch
    from ltkit.train import build_model

    data = load_dataset(cfg)
    model = build_model(cfg, 4)
    model.load_state_dict(torch.load(run_dir / "checkpoint.pt", weights_only=True)["model"])
    from ltkit.utils import autocast, channels_last

    x = normalize_batch(data.train.images, data.train.mean, data.train.std)
    if channels_last(torch.device("cpu")):  # the run's memory layout too: under bf16 another layout (another
        model, x = model.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
    with torch.no_grad(), autocast(cfg.amp, torch.device("cpu")):  # oneDNN kernel) rounds differently on some CPUs
        f = model.eval().backbone(x).float()  # in the run's precision
    expected = np.stack([f[data.train.labels == c].mean(0).numpy() for c in range(4)])
    np.testing.assert_allclose(out["class_means"], expected, rtol=1e-4, atol=1e-5)
    # the record's numbers are the cached logits' numbers
    acc = 100 * (out["logits_tde"].argmax(1) == out["labels"]).mean()
    assert rec["metrics"]["tde"]["overall"] == pytest.approx(acc)
    df = load_runs(tmp_path)
    assert sorted(df.evaluation) == ["plain", "tde"] and (df.dataset == "synthetic_lt").all()
    assert not list(tmp_path.rglob("*.tmp"))


@pytest.mark.parametrize("pipeline", ["batched", "torchvision"])
def test_resume_after_kill_equals_uninterrupted_run(tmp_path, pipeline):
    base = dict(TINY, epochs=3, classifier="causal_norm", alpha=1.0, pipeline=pipeline)
    full = ltkit.run(RunConfig(**base, output_dir=str(tmp_path / "full")), log=lambda *_: None)
    # "kill" after epoch 1: run one epoch's worth, then rewrite its checkpoint as a 3-epoch run's
    part_dir = tmp_path / "part"
    ltkit.run(RunConfig(**{**base, "epochs": 1}, output_dir=str(part_dir)), log=lambda *_: None)
    ck = torch.load(part_dir / "checkpoint.pt", weights_only=True)
    ck["config"] = RunConfig(**base).training_dict()
    torch.save(ck, part_dir / "checkpoint.pt")
    (part_dir / "run.json").unlink()
    logs = []
    ltkit.run(RunConfig(**base, output_dir=str(part_dir)), log=logs.append)
    assert any("resuming" in line and "after epoch 1/3" in line for line in logs)
    a = torch.load(full / "checkpoint.pt", weights_only=True)
    b = torch.load(part_dir / "checkpoint.pt", weights_only=True)
    for k in a["model"]:
        torch.testing.assert_close(a["model"][k], b["model"][k], rtol=0, atol=1e-6, msg=k)
    ra = json.loads((full / "run.json").read_text())["metrics"]
    rb = json.loads((part_dir / "run.json").read_text())["metrics"]
    assert ra == rb


def test_test_every_records_test_accuracy_and_leaves_training_alone(tmp_path):
    """test_every=1: history.csv holds each epoch's test accuracy; the last epoch's equals the
    run's final metrics (the same model), and the trained weights equal a run without it."""
    from ltkit.train import CHECKPOINT

    runs = {}
    for every in (0, 1):
        cfg = RunConfig(
            **TINY,
            classifier="causal_norm",
            alpha=1.0,
            test_every=every,
            amp=False,
            output_dir=str(tmp_path / f"every{every}"),
        )
        runs[every] = ltkit.run(cfg, log=lambda *_: None)
    hist = pd.read_csv(runs[1] / "history.csv")
    assert hist[["test_plain", "test_tde"]].notna().all().all(), hist
    rec = json.loads((runs[1] / "run.json").read_text())
    assert hist.test_plain.iloc[-1] == pytest.approx(rec["metrics"]["plain"]["overall"])
    assert hist.test_tde.iloc[-1] == pytest.approx(rec["metrics"]["tde"]["overall"])
    assert "test_plain" not in pd.read_csv(runs[0] / "history.csv")
    with_, without = (torch.load(runs[k] / CHECKPOINT, weights_only=True)["model"] for k in (1, 0))
    for k, v in without.items():
        torch.testing.assert_close(with_[k], v, rtol=0, atol=0, msg=k)
    assert json.loads((runs[0] / "run.json").read_text())["metrics"] == rec["metrics"]


def test_test_every_run_stopped_in_a_test_pass_resumes_without_a_gap(tmp_path, monkeypatch):
    """A stop during an epoch's test pass (here: epoch 2's) must not leave that epoch's row without its
    test accuracy: the accuracies go into the epoch's own checkpoint, so the resumed run redoes the
    epoch and its test pass. (They were once added after the checkpoint, and a stop there left a gap.)"""
    import ltkit.runs.runner as runner

    cfg = RunConfig(
        **{**TINY, "epochs": 3},
        classifier="causal_norm",
        alpha=1.0,
        test_every=1,
        amp=False,
        output_dir=str(tmp_path / "r"),
    )
    real, calls = runner.accuracy_on_test, []

    def stopped_in_epoch_2(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(runner, "accuracy_on_test", stopped_in_epoch_2)
    with pytest.raises(KeyboardInterrupt):
        ltkit.run(cfg, log=lambda *_: None)
    assert json.loads((tmp_path / "r" / "run.json").read_text())["status"] == "interrupted"
    ltkit.run(cfg, log=lambda *_: None)
    hist = pd.read_csv(tmp_path / "r" / "history.csv")
    assert list(hist.epoch) == [1, 2, 3]
    assert hist[["test_plain", "test_tde"]].notna().all().all(), hist


def test_rerun_complete_is_a_no_op_and_other_params_refused(tmp_path):
    cfg = RunConfig(**TINY, classifier="linear", output_dir=str(tmp_path / "r"))
    ltkit.run(cfg, log=lambda *_: None)
    mtime = (tmp_path / "r" / "run.json").stat().st_mtime_ns
    logs = []
    ltkit.run(cfg, log=logs.append)
    assert "complete already" in logs[0]
    ltkit.run(cfg.replace(progress=True, num_workers=3), log=logs.append)  # execution settings only
    assert "complete already" in logs[1]
    assert (tmp_path / "r" / "run.json").stat().st_mtime_ns == mtime
    with pytest.raises(ValueError, match=r"output_dir: .* other training parameters \(lr: 0.05 -> 0.1\)"):
        ltkit.run(cfg.replace(lr=0.1), log=lambda *_: None)


def test_records_from_before_a_field_existed_count_as_its_default(tmp_path):
    """A run record or checkpoint written before ``pipeline`` existed ran with its default."""
    cfg = RunConfig(**TINY, classifier="linear", output_dir=str(tmp_path / "r"))
    run_dir = ltkit.run(cfg, log=lambda *_: None)
    rec = json.loads((run_dir / "run.json").read_text())
    del rec["params"]["pipeline"]
    (run_dir / "run.json").write_text(json.dumps(rec))
    logs = []
    ltkit.run(cfg, log=logs.append)
    assert "complete already" in logs[0]
    from ltkit.batch.execute import run_state
    from ltkit.batch.recipe import RunSpec

    assert run_state(RunSpec(name="r", parameters={}, config=cfg, output_dir=str(run_dir))) == "complete"
    assert (
        run_state(RunSpec(name="r", parameters={}, config=cfg.replace(pipeline="torchvision"), output_dir=str(run_dir)))
        == "stale"
    )
    # a checkpoint without the field resumes; one with another value is refused
    ck = torch.load(run_dir / "checkpoint.pt", weights_only=True)
    del ck["config"]["pipeline"]
    torch.save(ck, run_dir / "checkpoint.pt")
    (run_dir / "run.json").unlink()
    ltkit.run(cfg, log=lambda *_: None)
    (run_dir / "run.json").unlink()
    with pytest.raises(ValueError, match=r"other training parameters \(pipeline: 'batched' -> 'torchvision'\)"):
        ltkit.run(cfg.replace(pipeline="torchvision"), log=lambda *_: None)


def test_changing_alpha_reevaluates_without_training(tmp_path, monkeypatch):
    cfg = RunConfig(**TINY, classifier="causal_norm", alpha=0.5, output_dir=str(tmp_path / "r"))
    ltkit.run(cfg, log=lambda *_: None)
    ckpt = tmp_path / "r" / "checkpoint.pt"
    mtime = ckpt.stat().st_mtime_ns

    def no_step(*args, **kwargs):
        raise AssertionError("a finished run took a training step to re-evaluate")

    monkeypatch.setattr(ltkit.train, "make_step", lambda *a, **k: no_step)
    ltkit.run(cfg.replace(alpha=None), log=lambda *_: None)
    assert ckpt.stat().st_mtime_ns == mtime  # no epoch ran, so no checkpoint was written
    rec = json.loads((tmp_path / "r" / "run.json").read_text())
    assert rec["metrics"]["tde"]["alpha_source"] == "suggest_alpha"
    out = np.load(tmp_path / "r" / "outputs.npz")
    from ltkit.tde import suggest_alpha

    assert rec["metrics"]["tde"]["alpha"] == pytest.approx(
        suggest_alpha(torch.tensor(out["features"]), torch.tensor(out["mean_feature"])), rel=1e-6
    )
    assert rec["metrics"]["tde"]["overall"] == pytest.approx(
        100 * np.mean(out["logits_tde"].argmax(1) == out["labels"])
    )


def test_alpha_val_chooses_on_the_validation_split_and_records_the_sweep(tmp_path):
    cfg = RunConfig(**TINY, classifier="causal_norm", alpha="val", output_dir=str(tmp_path / "r"))
    rec = json.loads((ltkit.run(cfg, log=lambda *_: None) / "run.json").read_text())
    sel = rec["alpha_selection"]
    assert sel["split"] == "val" and sel["criterion"].startswith("overall top-1 accuracy on the validation split")
    assert rec["metrics"]["tde"]["alpha"] == sel["alpha"] and rec["metrics"]["tde"]["alpha_source"] == "val"
    # recompute the validation sweep from the trained model: the same split, the same accuracies
    from ltkit.data import load_dataset
    from ltkit.evaluate import extract_features
    from ltkit.train import build_model

    data = load_dataset(cfg)
    model = build_model(cfg, data.num_classes)
    model.load_state_dict(torch.load(tmp_path / "r" / "checkpoint.pt", weights_only=True)["model"])
    feats, labels = extract_features(model, data.val, torch.device("cpu"))
    assert len(labels) == sel["images"] == len(data.val) and not torch.equal(data.val.images, data.test.images)
    for row in sel["sweep"][::10]:
        logits = model.classifier.evaluation_logits(feats, mean_feature=model.moving_average.mean, alpha=row["alpha"])
        assert row["overall"] == pytest.approx(
            100 * (logits["tde"].argmax(1) == labels).double().mean().item(), abs=1e-9
        )
    overall = np.array([r["overall"] for r in sel["sweep"]])
    assert overall[[r["alpha"] for r in sel["sweep"]].index(sel["alpha"])] == overall.max()
    sweep_csv = pd.read_csv(tmp_path / "r" / "alpha_sweep_val.csv")
    np.testing.assert_allclose(sweep_csv.overall, overall)


def test_two_stage_lws_trains_only_scales(tmp_path):
    s1 = ltkit.run(RunConfig(**TINY, classifier="linear", output_dir=str(tmp_path / "s1")), log=lambda *_: None)
    cfg = RunConfig(
        **{**TINY, "epochs": 1},
        classifier="lws",
        sampler="class_balanced",
        freeze_backbone=True,
        init_from=str(s1),
        output_dir=str(tmp_path / "lws"),
    )
    ltkit.run(cfg, log=lambda *_: None)
    a = torch.load(s1 / "checkpoint.pt", weights_only=True)["model"]
    b = torch.load(tmp_path / "lws" / "checkpoint.pt", weights_only=True)["model"]
    for k, v in a.items():
        if k.startswith("backbone."):
            torch.testing.assert_close(v, b[k], msg=k)  # frozen, BN statistics included
    torch.testing.assert_close(a["classifier.fc.weight"], b["classifier.fc.weight"])
    assert not torch.equal(b["classifier.scales"], torch.ones(4))


def test_init_from_refuses_a_stage1_of_another_activation(tmp_path):
    """A ReLU backbone's weights would load into a SiLU one (activations hold no weights) and mean
    something else; a checkpoint from before the field existed counts as ReLU."""
    s1 = ltkit.run(RunConfig(**TINY, classifier="linear", output_dir=str(tmp_path / "s1")), log=lambda *_: None)
    cfg = RunConfig(
        **{**TINY, "epochs": 1},
        classifier="lws",
        sampler="class_balanced",
        freeze_backbone=True,
        init_from=str(s1),
        activation="silu",
        output_dir=str(tmp_path / "lws"),
    )
    with pytest.raises(ValueError, match="trained with activation='relu', this run has activation='silu'"):
        ltkit.run(cfg, log=lambda *_: None)
    ck = torch.load(s1 / "checkpoint.pt", weights_only=True)
    del ck["config"]["activation"]
    torch.save(ck, s1 / "checkpoint.pt")
    ltkit.run(cfg.replace(activation="relu"), log=lambda *_: None)


def test_init_from_missing_checkpoint(tmp_path):
    cfg = RunConfig(
        **TINY, classifier="lws", freeze_backbone=True, init_from=str(tmp_path / "nope"), output_dir=str(tmp_path / "r")
    )
    with pytest.raises(FileNotFoundError, match="init_from: no checkpoint at"):
        ltkit.run(cfg, log=lambda *_: None)


@pytest.mark.parametrize(
    "loss,classifier",
    [
        ("ce", "linear"),
        ("focal", "linear"),
        ("ldam", "cosine"),
        ("balanced_softmax", "capsule"),
        ("class_balanced", "tau_norm"),
    ],
)
def test_smoke_losses_and_classifiers_train(tmp_path, loss, classifier):
    """Smoke test: each loss trains each kind of head through ltkit.run and records its evaluations."""
    cfg = RunConfig(
        **{**TINY, "epochs": 1},
        loss=loss,
        classifier=classifier,
        drw_epoch=1 if loss == "ldam" else 0,
        output_dir=str(tmp_path / "r"),
    )
    rec = json.loads((ltkit.run(cfg, log=lambda *_: None) / "run.json").read_text())
    from ltkit.models import CLASSIFIERS

    assert tuple(rec["metrics"]) == CLASSIFIERS.get(classifier).evaluations  # plain, plus tde / tau_norm
    assert all(math.isfinite(m["overall"]) for m in rec["metrics"].values())
    hist = pd.read_csv(tmp_path / "r" / "history.csv")
    assert math.isfinite(hist.loss.iloc[0]) and hist.loss.iloc[0] > 0


def test_atomic_write_gives_normal_permissions_and_leaves_no_temp(tmp_path):
    import os

    from ltkit.utils import write_json

    p = write_json(tmp_path / "a.json", {"x": 1})
    assert json.loads(p.read_text()) == {"x": 1}
    mask = os.umask(0)
    os.umask(mask)
    assert p.stat().st_mode & 0o777 == 0o666 & ~mask
    with pytest.raises(TypeError):
        write_json(tmp_path / "a.json", {"x": object()})  # a failing write keeps the old file
    assert json.loads(p.read_text()) == {"x": 1} and [f.name for f in tmp_path.iterdir()] == ["a.json"]


@pytest.mark.slow
def test_compiled_step_trains_like_the_eager_one(tmp_path):
    """compile=True (torch.compile of the training step, the CPU speed-up of the pipeline
    benchmark) gives the eager step's numbers up to float rounding (one step: later steps
    amplify rounding differences chaotically in a small ResNet)."""
    from ltkit.data import load_dataset
    from ltkit.train import CHECKPOINT, build_model, train
    from ltkit.utils import seed_everything

    base = dict(
        dataset="synthetic_lt",
        synthetic_classes=4,
        synthetic_n_max=40,
        imb_ratio=10,
        synthetic_image_size=8,
        classifier="causal_norm",
        epochs=1,
        steps_per_epoch=1,
        batch_size=16,
        lr=0.01,
        warmup_epochs=0,
        milestones=[5],
        device="cpu",
        amp=False,
        num_workers=0,
        progress=False,
    )
    states = []
    for compile_ in (False, True):
        cfg = RunConfig.from_dict({**base, "compile": compile_})
        seed_everything(0)
        data = load_dataset(cfg)
        model = build_model(cfg, data.num_classes)
        start = {k: v.clone() for k, v in model.state_dict().items()}
        train(cfg, data, model, tmp_path / str(compile_), torch.device("cpu"), log=lambda *a: None)
        states.append(torch.load(tmp_path / str(compile_) / CHECKPOINT, weights_only=True))
    eager, compiled = states
    assert compiled["history"][0]["loss"] == pytest.approx(eager["history"][0]["loss"], rel=1e-5)
    for k, v in eager["model"].items():
        if v.is_floating_point():  # fused kernels round differently: 1e-5 here, against updates of 1e-3
            torch.testing.assert_close(compiled["model"][k], v, rtol=0, atol=1e-4, msg=k)
    for k in ("backbone.conv1.weight", "classifier.weight"):  # the same update direction
        a, b = ((s["model"][k] - start[k]).flatten() for s in (eager, compiled))
        assert torch.nn.functional.cosine_similarity(a, b, dim=0) > 0.999, k
    assert eager["model"]["moving_average.mean"].norm() > 0


# ----------------------------------------------------------------------------- precision
@pytest.fixture
def cpu_bf16(monkeypatch):
    """Set what the CPU reports: cpu_bf16(True / False); ltkit.utils re-asks torch."""
    import ltkit.utils as U

    def set_(avx512_bf16: bool, amx: bool = False):
        U.bf16_unsupported.cache_clear()
        monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16)
        monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx)

    yield set_
    U.bf16_unsupported.cache_clear()


def test_precision_follows_the_cpus_bf16_support(cpu_bf16):
    from ltkit.utils import precision

    cpu = torch.device("cpu")
    cpu_bf16(False)
    assert precision(True, cpu) == ("fp32", "this CPU has neither avx512_bf16 nor AMX")
    cpu_bf16(True)
    assert precision(True, cpu) == ("bf16", "")
    cpu_bf16(False, amx=True)
    assert precision(True, cpu) == ("bf16", "")
    assert precision(False, cpu) == ("fp32", "amp is off")


def test_bf16_step_keeps_the_head_and_loss_in_fp32(cpu_bf16):
    """Under bf16 autocast the backbone's features are bf16, the causal-norm logits fp32 and
    equal to the head applied to the fp32 features outside autocast: the head never sees bf16
    arithmetic (an audit measured a 0.022 logit error when it did)."""
    from ltkit.train import TrainForward, build_model

    cpu_bf16(True)  # bf16 autocast runs (emulated where the CPU lacks it): the test holds on any CPU
    torch.manual_seed(0)
    model = build_model(RunConfig(**TINY), 4).train()
    x = torch.randn(8, 3, 8, 8)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        feats, logits = TrainForward(model)(x)
    assert feats.dtype == torch.bfloat16 and logits.dtype == torch.float32
    torch.testing.assert_close(logits, model.classifier(feats.float()), rtol=0, atol=0)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        inside = model.classifier(feats.float())  # what the head gave inside autocast
    assert (inside.float() - logits).abs().max() > 0


@pytest.mark.parametrize("has_bf16", [True, False])
def test_run_json_and_history_say_the_precision_used(tmp_path, cpu_bf16, has_bf16):
    cpu_bf16(has_bf16)
    run_dir = ltkit.run(RunConfig(**TINY, alpha=1.0, output_dir=str(tmp_path / "r")), log=lambda *_: None)
    rec = json.loads((run_dir / "run.json").read_text())
    hist = pd.read_csv(run_dir / "history.csv")
    want = "bf16" if has_bf16 else "fp32"
    assert rec["precision"] == want and list(hist.precision) == [want] * TINY["epochs"]
    assert ("precision_note" in rec) == (not has_bf16)
    off = ltkit.run(
        RunConfig(**dict(TINY, amp=False), alpha=1.0, output_dir=str(tmp_path / "off")), log=lambda *_: None
    )
    assert json.loads((off / "run.json").read_text())["precision"] == "fp32"
    assert "precision_note" not in json.loads((off / "run.json").read_text())


def test_quickstart_presets_train_in_fp32_on_every_machine():
    for name in ("synthetic_baseline", "synthetic_tde"):
        assert RunConfig.preset(name).amp is False
    assert RunConfig.preset("cifar10_lt_tde").amp is True


# ----------------------------------------------------------------------------- live progress
def test_history_and_progress_are_written_after_every_epoch(tmp_path, monkeypatch):
    """While a run trains, history.csv and run.json's progress already hold each finished epoch."""
    import ltkit.runs.runner as R

    seen = []
    real_train = R.train

    def watching_train(*args, on_epoch, **kw):
        def check(history):
            on_epoch(history)
            hist = pd.read_csv(tmp_path / "r" / "history.csv")
            rec = json.loads((tmp_path / "r" / "run.json").read_text())
            seen.append(
                (
                    len(hist),
                    rec["status"],
                    rec["progress"]["epoch"],
                    rec["progress"]["epochs"],
                    rec["progress"]["loss"] == round(history[-1]["loss"], 5),
                    rec["progress"]["eta_s"],
                )
            )

        return real_train(*args, on_epoch=check, **kw)

    monkeypatch.setattr(R, "train", watching_train)
    cfg = RunConfig(**dict(TINY, epochs=3, milestones=(3,)), alpha=1.0, output_dir=str(tmp_path / "r"))
    ltkit.run(cfg, log=lambda *_: None)
    assert [s[:5] for s in seen] == [(e, "running", e, 3, True) for e in (1, 2, 3)]
    assert seen[0][5] > 0 and seen[-1][5] == 0
    rec = json.loads((tmp_path / "r" / "run.json").read_text())
    assert rec["status"] == "complete" and rec["progress"]["epoch"] == 3
