"""LVIS v1.0 Mask R-CNN R50-FPN 1x, repeat-factor sampling (1e-3), multi-scale: Baseline.

mmdet's own LVIS config (plain softmax box head), data from ltkit.detection.data.
"""
import os.path as osp

import mmdet

from ltkit.detection.data import lvis_data

_base_ = [osp.join(osp.dirname(mmdet.__file__), '.mim/configs/lvis/mask_rcnn_r50_fpn_sample1e-3_mstrain_1x_lvis_v1.py')]
custom_imports = dict(imports=['ltkit.detection'], allow_failed_imports=False)
data = lvis_data('v1', rfs=True, multiscale=True)
