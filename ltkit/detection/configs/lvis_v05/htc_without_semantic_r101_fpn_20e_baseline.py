"""LVIS v0.5 HTC without semantic branch, R101-FPN, 20 epochs: Baseline (the paper's "Cascade Mask R-CNN").

The authors' setting (docs/method.md 2.5 and 3): no repeat-factor sampling, single scale (1333, 800),
lr 0.02 for 16 images (2 per GPU x 8), steps at epochs 16 and 19, warmup 500 iterations from
0.3333 x lr, gradient clipping at norm 35, RoIAlign with 2 sampling points per bin (the
authors' ``sample_num=2``; mmdet's default 0 is adaptive), test score_thr 0 and up to 300
detections per image.
"""
import os.path as osp

import mmdet

from ltkit.detection.config_parts import htc_bbox_heads, htc_mask_heads
from ltkit.detection.data import lvis_data

_base_ = [osp.join(osp.dirname(mmdet.__file__), '.mim/configs/htc/htc_without_semantic_r50_fpn_1x_coco.py')]
custom_imports = dict(imports=['ltkit.detection'], allow_failed_imports=False)
model = dict(
    backbone=dict(depth=101, init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet101')),
    roi_head=dict(bbox_head=htc_bbox_heads(1230), mask_head=htc_mask_heads(1230),
                  bbox_roi_extractor=dict(roi_layer=dict(sampling_ratio=2)),
                  mask_roi_extractor=dict(roi_layer=dict(sampling_ratio=2))),
    test_cfg=dict(rcnn=dict(score_thr=0.0, max_per_img=300)))
data = lvis_data('v0.5', rfs=False, multiscale=False)
lr_config = dict(warmup='linear', warmup_iters=500, warmup_ratio=0.3333333333333333, step=[16, 19])
runner = dict(type='EpochBasedRunner', max_epochs=20)
optimizer_config = dict(_delete_=True, grad_clip=dict(max_norm=35, norm_type=2))
evaluation = dict(metric=['bbox', 'segm'])
