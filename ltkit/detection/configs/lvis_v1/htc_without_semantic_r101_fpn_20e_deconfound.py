"""LVIS v1.0 HTC without semantic, R101-FPN, 20e: De-confound (causal-norm box heads in all 3 stages).

mu = 0.9998 (the authors' v1.0 constant 1 - 0.1 x 0.002). The checkpoint also serves the TDE config.
"""
from ltkit.detection.config_parts import htc_bbox_heads

_base_ = ['./htc_without_semantic_r101_fpn_20e_baseline.py']
model = dict(roi_head=dict(type='TDEHybridTaskCascadeRoIHead', bbox_head=htc_bbox_heads(1203, mu=0.9998, tde=False)))
