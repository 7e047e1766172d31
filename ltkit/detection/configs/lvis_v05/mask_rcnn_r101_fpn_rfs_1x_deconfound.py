"""LVIS v0.5 Mask R-CNN R101-FPN 1x, RFS: De-confound (causal-norm box head, plain logits at test).

Same data and schedule as the Baseline; the box head's classifier is the causal-norm one
(``ltkit.detection.config_parts.causal_box_head``) with the moving-average feature over
foreground RoIs (mu = 0.9, the authors' v0.5 code). Its checkpoint also serves the TDE config,
which differs only at test.
"""
from ltkit.detection.config_parts import causal_box_head

_base_ = ['./mask_rcnn_r101_fpn_rfs_1x_baseline.py']
model = dict(roi_head=dict(type='TDEStandardRoIHead', bbox_head=causal_box_head(mu=0.9, tde=False)))
