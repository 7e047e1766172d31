"""LVIS v0.5 HTC without semantic branch, R101-FPN, 20 epochs: Baseline (the paper's "Cascade Mask R-CNN").

The authors' setting (REFERENCE 2.5 and 3): no repeat-factor sampling, single scale (1333, 800),
lr 0.02 for 16 images (2 per GPU x 8), steps at epochs 16 and 19, warmup 500 iterations from
0.3333 x lr, test score_thr 0 and up to 300 detections per image.
"""
import os.path as osp

import mmdet

from ltkit.detection.data import lvis_data

_base_ = [osp.join(osp.dirname(mmdet.__file__), '.mim/configs/htc/htc_without_semantic_r50_fpn_1x_coco.py')]
custom_imports = dict(imports=['ltkit.detection'], allow_failed_imports=False)
model = dict(
    backbone=dict(depth=101, init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet101')),
    roi_head=dict(
        bbox_head=[{'type': 'Shared2FCBBoxHead',
          'in_channels': 256,
          'fc_out_channels': 1024,
          'roi_feat_size': 7,
          'num_classes': 1230,
          'bbox_coder': {'type': 'DeltaXYWHBBoxCoder',
                         'target_means': [0.0, 0.0, 0.0, 0.0],
                         'target_stds': [0.1, 0.1, 0.2, 0.2]},
          'reg_class_agnostic': True,
          'loss_cls': {'type': 'CrossEntropyLoss', 'use_sigmoid': False, 'loss_weight': 1.0},
          'loss_bbox': {'type': 'SmoothL1Loss', 'beta': 1.0, 'loss_weight': 1.0}},
         {'type': 'Shared2FCBBoxHead',
          'in_channels': 256,
          'fc_out_channels': 1024,
          'roi_feat_size': 7,
          'num_classes': 1230,
          'bbox_coder': {'type': 'DeltaXYWHBBoxCoder',
                         'target_means': [0.0, 0.0, 0.0, 0.0],
                         'target_stds': [0.05, 0.05, 0.1, 0.1]},
          'reg_class_agnostic': True,
          'loss_cls': {'type': 'CrossEntropyLoss', 'use_sigmoid': False, 'loss_weight': 1.0},
          'loss_bbox': {'type': 'SmoothL1Loss', 'beta': 1.0, 'loss_weight': 1.0}},
         {'type': 'Shared2FCBBoxHead',
          'in_channels': 256,
          'fc_out_channels': 1024,
          'roi_feat_size': 7,
          'num_classes': 1230,
          'bbox_coder': {'type': 'DeltaXYWHBBoxCoder',
                         'target_means': [0.0, 0.0, 0.0, 0.0],
                         'target_stds': [0.033, 0.033, 0.067, 0.067]},
          'reg_class_agnostic': True,
          'loss_cls': {'type': 'CrossEntropyLoss', 'use_sigmoid': False, 'loss_weight': 1.0},
          'loss_bbox': {'type': 'SmoothL1Loss', 'beta': 1.0, 'loss_weight': 1.0}}],
        mask_head=[{'type': 'HTCMaskHead',
          'with_conv_res': False,
          'num_convs': 4,
          'in_channels': 256,
          'conv_out_channels': 256,
          'num_classes': 1230,
          'loss_mask': {'type': 'CrossEntropyLoss', 'use_mask': True, 'loss_weight': 1.0}},
         {'type': 'HTCMaskHead',
          'with_conv_res': True,
          'num_convs': 4,
          'in_channels': 256,
          'conv_out_channels': 256,
          'num_classes': 1230,
          'loss_mask': {'type': 'CrossEntropyLoss', 'use_mask': True, 'loss_weight': 1.0}},
         {'type': 'HTCMaskHead',
          'with_conv_res': True,
          'num_convs': 4,
          'in_channels': 256,
          'conv_out_channels': 256,
          'num_classes': 1230,
          'loss_mask': {'type': 'CrossEntropyLoss', 'use_mask': True, 'loss_weight': 1.0}}]),
    test_cfg=dict(rcnn=dict(score_thr=0.0, max_per_img=300)))
data = lvis_data('v0.5', rfs=False, multiscale=False)
lr_config = dict(warmup='linear', warmup_iters=500, warmup_ratio=0.3333333333333333, step=[16, 19])
runner = dict(type='EpochBasedRunner', max_epochs=20)
optimizer_config = dict(_delete_=True, grad_clip=dict(max_norm=35, norm_type=2))
evaluation = dict(metric=['bbox', 'segm'])
