"""The LVIS side (issue 5): the TDE box head against ltkit.tde and the authors' formulas, the
foreground-only moving average, the RoI heads, the shipped configs, LVIS evaluation on
current NumPy (two backends that must agree), and tiny Mask R-CNN / HTC runs through mmdet's
training API on a synthetic LVIS-format dataset.

Needs the ``lvis`` extra (``make install-lvis``). ``make test`` installs it and sets
LTKIT_REQUIRE_DETECTION=1, so there a missing mmdet fails instead of skipping.
"""

import json
import math
import os

import numpy as np
import pytest
import torch

if os.environ.get("LTKIT_REQUIRE_DETECTION") == "1":
    import mmdet  # noqa: F401  (fail loudly: CI must run these)
else:
    pytest.importorskip("mmdet", reason="the lvis extra is not installed (make install-lvis)")

import ltkit.detection as det  # noqa: E402
from ltkit.detection.evaluation import METRICS, evaluate_lvis, numpy_aliases  # noqa: E402
from ltkit.detection.head import TDEClassifier, roi_labels  # noqa: E402
from ltkit.detection.run import EVALUATIONS, load_config, run_lvis  # noqa: E402
from ltkit.detection.synthetic import make_synthetic_lvis, noisy_detections  # noqa: E402
from ltkit.tde import background_exempted, causal_norm_logits, tde_logits  # noqa: E402


# ----------------------------------------------------------------------------- the authors' math
def _authors_norm(v, k, extra=0.0):
    """docs/method.md 2.2: v / (||v|| + 1e-9 + extra), per head chunk."""
    c = v.reshape(*v.shape[:-1], k, -1)
    return (c / (c.norm(dim=-1, keepdim=True) + 1e-9 + extra)).reshape(v.shape)


def _authors_head(x, w, embed, *, k=2, tau=16.0, gamma=1 / 32, alpha=1.5):
    """The authors' lvis1.0 ConvFCBBoxHead at test (docs/method.md 2.2 and 2.4, KEEP_FG): z, z - y0, final."""
    scale = tau / k
    xn, wn = _authors_norm(x, k), _authors_norm(w, k, gamma)
    z = scale * xn @ wn.t()
    en = _authors_norm(embed[None], k)[0]
    xc, ec = xn.reshape(len(x), k, -1), en.reshape(k, -1)
    cos = (xc * ec).sum(-1) / (xc.norm(dim=-1) * ec.norm(dim=-1))  # (B, K)
    wc = wn.reshape(len(w), k, -1)
    y0 = scale * alpha * torch.einsum("bk,kd,ckd->bc", cos, ec, wc)
    t = z - y0
    p, q = z.softmax(-1), t.softmax(-1)
    fg = slice(0, w.shape[0] - 1)  # background is the last column in mmdet 2.x
    final = torch.empty_like(p)
    final[:, -1] = p[:, -1]
    final[:, fg] = p[:, fg].sum(1, keepdim=True) / (q[:, fg].sum(1, keepdim=True) + 1e-10) * (q[:, fg] + 1e-10)
    return z, t, final


def _classifier(num_classes=5, dim=16, **kw):
    torch.manual_seed(0)
    layer = TDEClassifier(dim, num_classes, **kw).double()
    layer.moving_average.mean.copy_(torch.rand(dim, dtype=torch.float64) + 0.1)
    return layer


def test_head_logits_are_ltkit_tde_and_the_authors_formulas():
    layer = _classifier(alpha=1.5)
    x = torch.rand(7, 16, dtype=torch.float64)  # post-ReLU RoI features
    e = layer.moving_average.mean
    kw = dict(num_head=2, tau=16.0, gamma=1 / 32)
    z_ref, t_ref, final_ref = _authors_head(x, layer.weight, e)

    layer.train()
    layer.roi_labels = torch.tensor([0, 1, 5, 5, 2, 5, 3])
    z = layer(x)
    torch.testing.assert_close(z, causal_norm_logits(x, layer.weight, **kw), rtol=0, atol=0)
    torch.testing.assert_close(z, z_ref, rtol=0, atol=1e-7)

    layer.eval()
    e = layer.moving_average.mean
    z_ref, t_ref, final_ref = _authors_head(x, layer.weight, e)
    layer.tde = False
    torch.testing.assert_close(layer(x), z_ref, rtol=0, atol=1e-7)
    layer.tde, layer.background_exempted = True, False
    t = layer(x)
    torch.testing.assert_close(t, tde_logits(x, layer.weight, e, alpha=1.5, **kw), rtol=0, atol=0)
    torch.testing.assert_close(t, t_ref, rtol=0, atol=1e-7)
    layer.background_exempted = True
    assert layer.outputs_probabilities
    probs = layer(x)
    torch.testing.assert_close(probs, background_exempted(causal_norm_logits(x, layer.weight, **kw), t, background=-1))
    torch.testing.assert_close(probs, final_ref, rtol=0, atol=1e-8)
    torch.testing.assert_close(probs.sum(1), torch.ones(7, dtype=torch.float64))


@pytest.mark.parametrize("name", ["cosine", "capsule"])
def test_cosine_and_capsule_heads_are_ltkit_classifiers(name):
    from ltkit.models.classifiers import create_classifier

    layer = _classifier(classifier=name).eval()
    layer.tde = False
    ref = create_classifier(name, 16, 6).double()
    ref.weight.data.copy_(layer.weight.data)
    x = torch.rand(4, 16, dtype=torch.float64)
    torch.testing.assert_close(layer(x), ref(x))
    layer.tde, layer.background_exempted = True, False
    torch.testing.assert_close(layer(x), ref.tde_logits(x, layer.moving_average.mean, 1.5))


def test_moving_average_takes_foreground_rois_only():
    """mmdet 2.x: labels 0..C-1 are foreground, C is background. The authors' 2.x port averaged
    ``label > 0`` (every background RoI, without class 0); this would fail on it."""
    layer = _classifier(num_classes=5, mu=0.9)
    layer.moving_average.mean.zero_()
    layer.train()
    x = torch.rand(6, 16, dtype=torch.float64)
    labels = torch.tensor([0, 5, 5, 2, 5, 0])
    layer.roi_labels = labels
    layer(x)
    fg = labels < 5
    torch.testing.assert_close(layer.moving_average.mean, x[fg].mean(0))
    authors = x[labels > 0].mean(0)
    assert not torch.allclose(layer.moving_average.mean, authors)
    # labels are consumed: a second training forward without new labels is an error
    with pytest.raises(RuntimeError, match="TDEStandardRoIHead"):
        layer(x)
    # an iteration with background RoIs only leaves the average as it is
    before = layer.moving_average.mean.clone()
    layer.roi_labels = torch.full((6,), 5)
    layer(x)
    torch.testing.assert_close(layer.moving_average.mean, before)


def test_box_head_forwards_exactly_the_classifier_settings():
    import inspect

    from ltkit.detection.head import TDE_KEYS

    params = set(inspect.signature(TDEClassifier).parameters) - {"in_features", "num_classes"}
    assert set(TDE_KEYS) == params
    head = _box_head(alpha=0.7, mu=0.5, tde=False, classifier="cosine")
    assert (head.fc_cls.alpha, head.fc_cls.moving_average.mu, head.fc_cls.tde, head.fc_cls.gamma) == (
        0.7,
        0.5,
        False,
        0.0,
    )


def test_bad_head_settings_are_named():
    with pytest.raises(
        ValueError, match="classifier: 'linear' has no TDE; the box head takes one of capsule, causal_norm, cosine"
    ):
        TDEClassifier(16, 5, classifier="linear")
    with pytest.raises(ValueError, match="num_head"):
        TDEClassifier(15, 5, num_head=2)
    with pytest.raises(ValueError, match="background"):
        TDEClassifier(16, 5, background=9)


def _box_head(**kw):
    from mmdet.models import build_head

    head = build_head(
        dict(
            type="TDEShared2FCBBoxHead",
            in_channels=4,
            fc_out_channels=16,
            roi_feat_size=2,
            num_classes=5,
            reg_class_agnostic=True,
            **kw,
        )
    )
    head.init_weights()
    return head


def test_box_head_keeps_its_init_and_saves_the_moving_average():
    head = _box_head()
    w = head.fc_cls.weight
    bound = 1 / math.sqrt(16)
    assert w.shape == (6, 16) and w.abs().max() <= bound and w.std() > 0.5 * bound / math.sqrt(3)  # U(+-1/sqrt(D))
    assert "fc_cls.moving_average.mean" in head.state_dict()
    assert "fc_cls.weight" in head.state_dict()


def test_get_bboxes_passes_background_exempted_probabilities_unchanged():
    """No second softmax (docs/method.md 2.4 step 4): the scores NMS gets are the probabilities."""
    head = _box_head(alpha=1.0).eval()
    head.fc_cls.moving_average.mean.copy_(torch.rand(16) + 0.1)
    feats = torch.rand(8, 4, 2, 2)
    cls_score, bbox_pred = head(feats)
    assert torch.allclose(cls_score.sum(1), torch.ones(8), atol=1e-5)
    rois = torch.cat([torch.zeros(8, 1), torch.tensor([[1.0, 1.0, 20.0, 20.0]]).repeat(8, 1)], 1)
    _, scores = head.get_bboxes(rois, cls_score, bbox_pred, img_shape=(32, 32), scale_factor=1.0)
    torch.testing.assert_close(scores, cls_score, rtol=1e-5, atol=1e-7)
    # without background exemption the head gives TDE logits and mmdet's single softmax applies
    det.set_tde(head, background_exempted=False)
    logits, _ = head(feats)
    _, scores = head.get_bboxes(rois, logits, bbox_pred, img_shape=(32, 32), scale_factor=1.0)
    torch.testing.assert_close(scores, logits.softmax(-1))


def test_set_tde_changes_every_stage_and_needs_a_tde_head():
    from mmdet.models import build_head

    heads = torch.nn.ModuleList([_box_head(), _box_head()])
    assert det.set_tde(heads, alpha=0.25, tde=False, background_exempted=False) == 2
    assert all(h.alpha == 0.25 and not h.tde and not h.background_exempted for h in det.tde_heads(heads))
    plain = build_head(
        dict(type="Shared2FCBBoxHead", in_channels=4, fc_out_channels=16, roi_feat_size=2, num_classes=5)
    )
    with pytest.raises(ValueError, match="no TDE box head"):
        det.set_tde(plain, alpha=1.0)


def test_roi_labels_follow_bbox2roi_order():
    from mmdet.core.bbox.samplers import SamplingResult

    def result(n_pos, n_neg, labels):
        bboxes = torch.rand(n_pos + n_neg, 4) * 10
        gt = torch.rand(3, 4) * 10
        assign = type("A", (), {})()
        assign.gt_inds = torch.tensor([1, 2, 3][:n_pos] + [0] * n_neg)
        assign.labels = torch.tensor(labels + [-1] * n_neg)
        assign.num_gts = 3
        return SamplingResult(
            torch.arange(n_pos),
            torch.arange(n_pos, n_pos + n_neg),
            bboxes,
            gt,
            assign,
            torch.zeros(n_pos + n_neg, dtype=torch.uint8),
        )

    res = [result(2, 3, [4, 0]), result(1, 2, [2])]
    assert roi_labels(res, num_classes=7).tolist() == [4, 0, 7, 7, 7, 2, 7, 7]


# ----------------------------------------------------------------------------- configs
def test_every_shipped_config_builds_with_the_reference_settings():
    from mmdet.models import build_detector

    names = det.list_configs()
    assert len(names) == 30
    for name in names:
        cfg = load_config(name)
        cfg.model.backbone.init_cfg = None
        model = build_detector(cfg.model)
        heads = det.tde_heads(model)
        v1 = name.startswith("lvis_v1/")
        n = 1203 if v1 else 1230
        htc = "htc" in name
        assert type(model).__name__ == ("HybridTaskCascade" if htc else "MaskRCNN"), name
        if name.endswith("_baseline"):
            assert not heads, name
        else:
            assert len(heads) == (3 if htc else 1), name
            assert type(model.roi_head).__name__ == ("TDEHybridTaskCascadeRoIHead" if htc else "TDEStandardRoIHead")
            for h in heads:
                assert (h.num_classes, h.num_head, h.tau, h.gamma, h.alpha) == (n, 2, 16.0, 1 / 32, 1.5), name
                assert h.moving_average.mu == (0.9998 if v1 else 0.9), name
                assert h.tde == name.endswith("_tde") and h.background_exempted, name
        train = cfg.data.train
        assert (train.type == "ClassBalancedDataset") == ("_rfs_" in name), name
        inner = train.get("dataset", train)
        assert inner.type == ("LVISV1Dataset" if v1 else "LVISV05Dataset")
        assert inner.ann_file.startswith(det.default_root())
        if htc:  # the authors' schedule and test settings (docs/method.md 2.5, 3)
            assert cfg.runner.max_epochs == 20 and cfg.lr_config.step == [16, 19]
            assert cfg.model.test_cfg.rcnn.max_per_img == 300
            assert cfg.model.test_cfg.rcnn.score_thr == (1e-5 if v1 else 0.0)
            ratio = 0 if v1 else 2  # lvis_old: RoIAlign sample_num 2 (docs/method.md 3)
            for extractor in ("bbox_roi_extractor", "mask_roi_extractor"):
                assert cfg.model.roi_head[extractor].roi_layer.sampling_ratio == ratio, name
                built = getattr(model.roi_head, extractor)
                built = built[0] if isinstance(built, torch.nn.ModuleList) else built
                assert all(layer.sampling_ratio == ratio for layer in built.roi_layers), name


def test_data_paths_come_from_one_place(monkeypatch, tmp_path):
    monkeypatch.setenv("LTKIT_LVIS_ROOT", "/somewhere/lvis")
    cfg = load_config("lvis_v1/mask_rcnn_r50_fpn_rfs_1x_tde")
    assert cfg.data.train.dataset.ann_file == "/somewhere/lvis/lvis_v1_train.json"
    assert cfg.data.test.img_prefix == "/somewhere/lvis/images/"
    cfg = load_config("lvis_v05/htc_without_semantic_r101_fpn_20e_tde", data_root=str(tmp_path))
    assert cfg.data.train.ann_file == f"{tmp_path}/lvis_v0.5_train.json"
    assert cfg.data.val.img_prefix == f"{tmp_path}/images/val2017/"


def test_unknown_config_and_missing_data_say_what_to_do(tmp_path):
    with pytest.raises(ValueError, match="shipped: .*lvis_v1/mask_rcnn_r50_fpn_1x_tde"):
        det.config_path("lvis_v1/no_such_config")
    with pytest.raises(FileNotFoundError, match="lvisdataset.org.*data_root"):
        run_lvis("lvis_v1/mask_rcnn_r50_fpn_1x_tde", tmp_path / "w", data_root=str(tmp_path / "nothing"))


# ----------------------------------------------------------------------------- evaluation
def test_numpy_aliases_exist_only_inside_the_block():
    assert "float" not in np.__dict__
    with numpy_aliases():
        assert np.float is float and np.int is int
    assert "float" not in np.__dict__


@pytest.fixture(scope="module")
def lvis_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("lvis")
    return make_synthetic_lvis(root, num_classes=6, train_images=8, val_images=6)


@pytest.mark.parametrize("iou_type", ["bbox", "segm"])
def test_lvis_api_and_faster_coco_eval_agree(lvis_data, iou_type):
    dets = noisy_detections(lvis_data["val"])
    ref = evaluate_lvis(lvis_data["val"], dets, iou_type, backend="lvis")
    fast = evaluate_lvis(lvis_data["val"], dets, iou_type, backend="faster")
    assert set(ref) == set(METRICS) == set(fast)
    assert 0.2 < ref["AP"] < 1.0  # informative detections, not an all-zero case
    for k in METRICS:
        if math.isnan(ref[k]):
            assert math.isnan(fast[k]), k
        else:
            assert abs(ref[k] - fast[k]) <= 1e-4, (k, ref[k], fast[k])
    for group in ("APr", "APc", "APf"):
        assert not math.isnan(ref[group])


def test_mmdet_lvis_evaluate_runs_on_current_numpy(lvis_data):
    """mmdet's own LVISV1Dataset.evaluate calls LVISEval.accumulate, which uses np.float: with the
    plugin imported it runs, and gives evaluate_lvis's numbers (mmdet rounds to 4 decimals)."""
    from mmdet.datasets import LVISV1Dataset

    names = tuple(c["name"] for c in json.loads(lvis_data["val"].read_text())["categories"])
    ds = LVISV1Dataset(
        str(lvis_data["val"]),
        pipeline=[],
        classes=names,
        img_prefix=str(lvis_data["root"]) + "/images/",
        test_mode=True,
    )
    dets = noisy_detections(lvis_data["val"])
    results = []
    for img_id in ds.img_ids:  # mmdet's format: per image, per class, an (n, 5) array x1 y1 x2 y2 score
        per_class = [np.zeros((0, 5), dtype=np.float32) for _ in names]
        for d in dets:
            if d["image_id"] == img_id:
                x, y, w, h = d["bbox"]
                c = ds.cat2label[d["category_id"]]
                per_class[c] = np.vstack([per_class[c], [[x, y, x + w, y + h, d["score"]]]]).astype(np.float32)
        results.append(per_class)
    got = ds.evaluate(results, metric="bbox")
    ref = evaluate_lvis(lvis_data["val"], dets, "bbox")
    for k in ("AP", "AP50", "APr", "APc", "APf"):
        assert got[f"bbox_{k}"] == pytest.approx(ref[k], abs=2e-4), k
    assert ref["AP"] > 0.2


# ----------------------------------------------------------------------------- tiny real runs
@pytest.fixture(scope="module")
def tiny_runs(lvis_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("lvis_runs")
    runs = {}
    for name in ("lvis_v1/mask_rcnn_r50_fpn_1x_tde", "lvis_v1/htc_without_semantic_r101_fpn_20e_tde"):
        work = out / name.split("/")[1]
        runs[name] = run_lvis(name, work, data_root=str(lvis_data["root"]), tiny=True, max_epochs=2)
    return runs


@pytest.mark.parametrize("name", ["lvis_v1/mask_rcnn_r50_fpn_1x_tde", "lvis_v1/htc_without_semantic_r101_fpn_20e_tde"])
def test_tiny_run_trains_and_evaluates_every_variant(tiny_runs, name):
    rec = tiny_runs[name]
    work = rec["params"]["output_dir"]
    assert rec["status"] == "complete" and rec["params"]["dataset"] == "lvis_v1.0"
    assert set(rec["metrics"]) == set(EVALUATIONS)
    for ev, m in rec["metrics"].items():
        for k in ("AP", "AP50", "AP75", "APr", "APc", "APf", "APbbox"):
            assert m[k] is not None and 0.0 <= m[k] <= 100.0, (ev, k)
        assert m["alpha"] == (None if ev == "plain" else 1.5)
    on_disk = json.loads((__import__("pathlib").Path(work) / "run.json").read_text())
    assert on_disk["metrics"] == json.loads(json.dumps(rec["metrics"]))
    # the moving average was trained (foreground RoIs exist) and is saved in the checkpoint
    state = torch.load(rec["checkpoint"], map_location="cpu", weights_only=False)["state_dict"]
    keys = [k for k in state if k.endswith("fc_cls.moving_average.mean")]
    assert len(keys) == (3 if "htc" in name else 1)
    for k in keys:
        assert torch.isfinite(state[k]).all() and state[k].norm() > 0


def test_alpha_is_a_test_time_setting(tiny_runs, tmp_path):
    """alpha = 0 makes background-exempted TDE the plain softmax, from the same checkpoint, no retraining;
    at the configs' alpha 1.5 the same weights score differently (else the alpha = 0 check would mean nothing)."""
    rec = tiny_runs["lvis_v1/mask_rcnn_r50_fpn_1x_tde"]
    keys = ("AP", "AP50", "APbbox", "bbox_AP50", "APr", "APc", "APf")
    for ev in ("tde", "tde_without_bg_exemption"):
        moved = [k for k in keys if abs(rec["metrics"][ev][k] - rec["metrics"]["plain"][k]) > 1e-3]
        assert moved, f"{ev} at alpha 1.5 scored exactly like plain: {rec['metrics']}"
    again = run_lvis(
        "lvis_v1/mask_rcnn_r50_fpn_1x_tde",
        tmp_path / "alpha0",
        data_root=rec["params"]["data_root"],
        tiny=True,
        eval_only=rec["checkpoint"],
        alpha=0.0,
        evaluations=["plain", "tde"],
    )
    assert again["params"]["alpha"] == 0.0 and again["metrics"]["tde"]["alpha"] == 0.0
    for k in ("AP", "APbbox", "APr", "APc", "APf"):
        assert again["metrics"]["tde"][k] == pytest.approx(again["metrics"]["plain"][k], abs=1e-6)
    assert again["metrics"]["plain"]["AP"] == pytest.approx(rec["metrics"]["plain"]["AP"], abs=1e-9)


def test_a_finished_run_is_not_redone(tiny_runs, monkeypatch):
    """A second call finds the final checkpoint and every evaluation cached: nothing trains or tests."""
    import ltkit.detection.run as run_module

    def fail(*args, **kwargs):
        raise AssertionError("a finished run was tested again")

    monkeypatch.setattr(run_module, "_test_outputs", fail)
    monkeypatch.setattr("mmdet.apis.train_detector", fail)
    rec = tiny_runs["lvis_v1/mask_rcnn_r50_fpn_1x_tde"]
    ckpt = __import__("pathlib").Path(rec["checkpoint"])
    mtime = ckpt.stat().st_mtime
    again = run_lvis(
        "lvis_v1/mask_rcnn_r50_fpn_1x_tde",
        rec["params"]["output_dir"],
        data_root=rec["params"]["data_root"],
        tiny=True,
        max_epochs=2,
    )
    assert again["metrics"] == rec["metrics"] and ckpt.stat().st_mtime == mtime


def test_a_checkpoint_cut_short_is_skipped_without_loading_the_others(tmp_path, monkeypatch):
    """mmdet's latest.pth points at a file cut short: the run resumes from the newest intact one,
    and no candidate is unpickled to find it."""
    from ltkit.detection.run import latest_checkpoint

    for epoch in (1, 2, 3):
        torch.save({"meta": {"epoch": epoch}, "state_dict": {"w": torch.zeros(1000)}}, tmp_path / f"epoch_{epoch}.pth")
    (tmp_path / "latest.pth").symlink_to("epoch_3.pth")
    assert latest_checkpoint(tmp_path) == (tmp_path / "epoch_3.pth").resolve()
    data = (tmp_path / "epoch_3.pth").read_bytes()
    (tmp_path / "epoch_3.pth").write_bytes(data[: len(data) // 2])
    monkeypatch.setattr(torch, "load", lambda *a, **k: pytest.fail("a candidate was loaded"))
    said = []
    assert latest_checkpoint(tmp_path, log=said.append) == (tmp_path / "epoch_2.pth").resolve()
    assert len(said) == 1 and "epoch_3.pth is skipped" in said[0] and "cut short" in said[0]
    assert latest_checkpoint(tmp_path / "missing") is None


def test_a_held_work_dir_is_refused_before_anything_runs(tmp_path, lvis_data):
    import subprocess
    import sys

    from ltkit.runs.folder import RunFolderLocked

    work = tmp_path / "work"
    code = "import sys, time\nfrom ltkit.runs.folder import hold\nwith hold(sys.argv[1]):\n print('held', flush=True); time.sleep(60)"
    p = subprocess.Popen([sys.executable, "-c", code, str(work)], stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "held"
        with pytest.raises(RunFolderLocked, match=f"pid {p.pid}"):
            run_lvis(
                "lvis_v1/mask_rcnn_r50_fpn_1x_tde", work, data_root=str(lvis_data["root"]), tiny=True, max_epochs=1
            )
        assert sorted(q.name for q in work.iterdir()) == [".lock"]  # nothing else was written
    finally:
        p.kill()
        p.wait()


def test_cascade_roi_head_passes_labels_to_every_stage():
    """Cascade Mask R-CNN (mmdet's config) with TDE heads trains: each stage's head gets its RoI labels."""
    import mmdet
    from mmcv import Config
    from mmdet.models import build_detector

    from ltkit.detection.run import shrink

    base = os.path.join(
        os.path.dirname(mmdet.__file__), ".mim/configs/cascade_rcnn/cascade_mask_rcnn_r50_fpn_1x_coco.py"
    )
    cfg = Config.fromfile(base)
    cfg.model.roi_head.type = "TDECascadeRoIHead"
    for h in cfg.model.roi_head.bbox_head:
        h.type = "TDEShared2FCBBoxHead"
    shrink(cfg, num_classes=4)
    model = build_detector(cfg.model)
    model.init_weights()
    model.train()
    torch.manual_seed(0)
    img = torch.rand(2, 3, 64, 64)
    metas = [
        dict(
            img_shape=(64, 64, 3),
            ori_shape=(64, 64, 3),
            pad_shape=(64, 64, 3),
            scale_factor=np.ones(4),
            flip=False,
            batch_input_shape=(64, 64),
        )
    ] * 2
    boxes = [torch.tensor([[4.0, 4.0, 30.0, 40.0], [30.0, 10.0, 60.0, 50.0]])] * 2
    labels = [torch.tensor([0, 3])] * 2
    from mmdet.core import BitmapMasks

    masks = [BitmapMasks(np.zeros((2, 64, 64), dtype=np.uint8), 64, 64)] * 2
    losses = model.forward_train(img, metas, boxes, labels, gt_masks=masks)
    assert all(torch.isfinite(v).all() for k, v in losses.items() if "loss" in k and torch.is_tensor(v))
    for h in det.tde_heads(model):
        assert h.moving_average.mean.norm() > 0 and h.roi_labels is None


def test_lvis_runs_fill_the_paper_tables(tiny_runs, tmp_path):
    """run.json has the classification shape: load_runs reads it, Tables 4/5 and the LVIS summary render it."""
    import shutil

    from ltkit import report

    rec = tiny_runs["lvis_v1/htc_without_semantic_r101_fpn_20e_tde"]
    src = __import__("pathlib").Path(rec["params"]["output_dir"]) / "run.json"
    for version in ("lvis_v1.0", "lvis_v0.5"):
        d = tmp_path / "results" / version
        d.mkdir(parents=True)
        r = json.loads(src.read_text())
        r["params"].update(dataset=version, tiny=False)  # stand-ins for full-size runs of the paper's detector
        (d / "run.json").write_text(json.dumps(r))
    shutil.copytree(src.parent, tmp_path / "results" / "tiny", ignore=shutil.ignore_patterns("*.pth", "eval"))
    runs = report.load_runs(tmp_path / "results")
    assert set(runs.evaluation) == set(EVALUATIONS) and (runs.task == "detection").all()
    t4 = report.compare_table(runs, "table4")
    row = t4[(t4.method == "De-confound-TDE (v1.0)") & (t4.column == "APr")].iloc[0]
    assert row.n == 1 and row.ours_mean == pytest.approx(rec["metrics"]["tde"]["APr"]) and row.paper == 16.0
    assert row["diff"] == pytest.approx(row.ours_mean - 16.0)
    base = t4[(t4.method == "De-confound (v1.0)") & (t4.column == "APbbox")].iloc[0]
    assert base.ours_mean == pytest.approx(rec["metrics"]["plain"]["APbbox"])
    assert t4[(t4.method == "EQL (v0.5)")].n.eq(0).all()  # quoted rows stay, without ltkit numbers
    t5 = report.compare_table(runs, "table5")
    off = t5[(t5.method == "De-confound-TDE, BG-exempted False") & (t5.column == "AP")].iloc[0]
    assert off.ours_mean == pytest.approx(rec["metrics"]["tde_without_bg_exemption"]["AP"]) and off.paper == 23.4
    assert "De-confound (no TDE)" in set(t5.method)
    written = report.write_tables(tmp_path / "results", tmp_path / "tables")
    assert {"table4.md", "table5.tex", "lvis_summary.md"} <= set(written)
    summary = (tmp_path / "tables" / "lvis_summary.md").read_text()
    assert "htc_without_semantic_r101_fpn_20e" in summary and "De-confound-TDE" in summary
    assert report.summary_table(runs).empty  # the classification summary leaves LVIS runs out


def test_train_lvis_notebook_then_tables_and_figures(tmp_path):
    """train_lvis.ipynb through papermill (synthetic data, tiny model), then tables.ipynb and figures.ipynb on its record."""
    papermill = pytest.importorskip("papermill")
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]

    def execute(name, out, **parameters):
        out.parent.mkdir(parents=True, exist_ok=True)
        papermill.execute_notebook(
            str(root / "notebooks" / f"{name}.ipynb"),
            str(out),
            parameters=parameters,
            kernel_name="ltkit",
            cwd=str(root),
            progress_bar=False,
        )

    work = tmp_path / "results" / "lvis_tiny"
    execute(
        "train_lvis",
        work / "train_lvis.ipynb",
        config="lvis_v1/mask_rcnn_r50_fpn_1x_deconfound",
        data_root=str(tmp_path / "synthetic"),
        synthetic=True,
        tiny=True,
        max_epochs=1,
        work_dir=str(work),
    )
    rec = json.loads((work / "run.json").read_text())
    assert set(rec["metrics"]) == set(EVALUATIONS) and rec["params"]["max_epochs"] == 1
    assert (work / "lvis_ap.png").stat().st_size > 10_000
    execute("tables", tmp_path / "tables.ipynb", results_dir=str(tmp_path / "results"), output_dir=str(tmp_path / "t"))
    assert (
        "| lvis_v1.0 | mask_rcnn_r50_fpn_1x | De-confound-TDE | 1 |" in (tmp_path / "t" / "lvis_summary.md").read_text()
    )
    assert "De-confound-TDE (v1.0)" in (tmp_path / "t" / "table4.md").read_text()
    execute(
        "figures", tmp_path / "figures.ipynb", results_dir=str(tmp_path / "results"), output_dir=str(tmp_path / "f")
    )
    assert (tmp_path / "f" / "lvis_v1.0_mask_rcnn_r50_fpn_1x_ap.png").stat().st_size > 10_000


def test_multi_gpu_run_needs_the_gpus():
    from ltkit.config import LVISRunConfig
    from ltkit.detection.run import run

    if torch.cuda.is_available():
        pytest.skip("has CUDA")
    with pytest.raises(ValueError, match="gpus: 2 requested, 0 CUDA"):
        run(LVISRunConfig(gpus=2))


def test_box_head_defaults_live_in_tde_classifier():
    from ltkit.detection.head import head_default

    assert head_default("alpha") == 1.5 and head_default("classifier") == "causal_norm"
    with pytest.raises(ValueError, match="'alhpa' is not a TDE box-head setting"):
        head_default("alhpa")


def test_lvis_batch_runs_then_skips(tmp_path):
    """A recipe of train_lvis.ipynb through ltkit.batch: runs, then a second start skips the finished run."""
    from pathlib import Path

    import yaml

    from ltkit.batch.run import run_batch

    root = Path(__file__).resolve().parents[1]
    recipe = tmp_path / "lvis.yaml"
    recipe.write_text(
        yaml.safe_dump(
            dict(
                notebook=str(root / "notebooks" / "train_lvis.ipynb"),
                output_root=str(tmp_path / "runs"),
                name="{config_name}",
                base=dict(
                    data_root=str(tmp_path / "synthetic"),
                    synthetic=True,
                    tiny=True,
                    max_epochs=1,
                    evaluations=["plain", "tde"],
                ),
                cases=[{"config": "lvis_v1/mask_rcnn_r50_fpn_1x_tde"}],
                report=[],
            )
        )
    )
    rows = run_batch(recipe)
    assert [r["status"] for r in rows] == ["done"], rows
    rec = json.loads((tmp_path / "runs" / "lvis_v1-mask_rcnn_r50_fpn_1x_tde" / "run.json").read_text())
    assert set(rec["metrics"]) == {"plain", "tde"}
    assert [r["status"] for r in run_batch(recipe)] == ["skipped"]


@pytest.mark.parametrize(
    "name, version",
    [("lvis_v05/htc_without_semantic_r101_fpn_20e_tde", "v0.5"), ("lvis_v1/mask_rcnn_r50_fpn_rfs_1x_deconfound", "v1")],
)
def test_v05_htc_and_repeat_factor_configs_run(tmp_path, name, version):
    """Smoke test: Table 5's LVIS v0.5 HTC (LVISV05Dataset reads file_name) and a ClassBalancedDataset (RFS)
    config train and evaluate end to end (the head's numbers are tested above)."""
    data = make_synthetic_lvis(tmp_path / "data", version=version)
    rec = run_lvis(
        name,
        tmp_path / "run",
        data_root=str(data["root"]),
        tiny=True,
        max_epochs=1,
        evaluations=["plain", "tde_without_bg_exemption"],
    )
    assert rec["params"]["dataset"] == ("lvis_v0.5" if version == "v0.5" else "lvis_v1.0")
    for m in rec["metrics"].values():
        assert all(m[k] is not None for k in ("AP", "APbbox", "APr", "APc", "APf"))
