"""LVIS v0.5 Mask R-CNN R50-FPN 1x, repeat-factor sampling (1e-3), multi-scale: Baseline.

mmdet's own LVIS config (plain softmax box head), on the 1x schedule, data from ltkit.detection.data.
"""
import os.path as osp

import mmdet

from ltkit.detection.data import lvis_data

_base_ = [osp.join(osp.dirname(mmdet.__file__), '.mim/configs/lvis/mask_rcnn_r50_fpn_sample1e-3_mstrain_2x_lvis_v0.5.py')]
custom_imports = dict(imports=['ltkit.detection'], allow_failed_imports=False)
data = lvis_data('v0.5', rfs=True, multiscale=True)
lr_config = dict(step=[8, 11])
runner = dict(type='EpochBasedRunner', max_epochs=12)
