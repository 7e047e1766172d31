"""LVIS v1.0 Mask R-CNN R101-FPN 1x, RFS: De-confound-TDE (alpha = 1.5, background-exempted).

Trains exactly as the De-confound config (same checkpoint); TDE acts only at test.
"""
_base_ = ['./mask_rcnn_r101_fpn_rfs_1x_deconfound.py']
model = dict(roi_head=dict(bbox_head=dict(tde=True)))
