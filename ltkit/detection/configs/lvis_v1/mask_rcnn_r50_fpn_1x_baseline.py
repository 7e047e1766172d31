"""LVIS v1.0 Mask R-CNN R50-FPN 1x, no repeat-factor sampling, multi-scale: Baseline."""
from ltkit.detection.data import lvis_data

_base_ = ['./mask_rcnn_r50_fpn_rfs_1x_baseline.py']
data = lvis_data('v1', rfs=False, multiscale=True)
