"""LVIS v1.0 HTC without semantic, R101-FPN, 20e: De-confound-TDE (alpha = 1.5, background-exempted).

Same training as the De-confound config; the three stages' background-exempted probabilities
are averaged and go to NMS as they are (no second softmax).
"""
from ltkit.detection.config_parts import htc_bbox_heads

_base_ = ['./htc_without_semantic_r101_fpn_20e_deconfound.py']
model = dict(roi_head=dict(bbox_head=htc_bbox_heads(1203, mu=0.9998, tde=True)))
