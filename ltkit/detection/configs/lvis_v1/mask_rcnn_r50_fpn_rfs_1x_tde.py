"""LVIS v1.0 Mask R-CNN R50-FPN 1x, RFS: De-confound-TDE (alpha = 1.5, background-exempted).

Trains exactly as the De-confound config (same checkpoint); TDE acts only at test.
"""
_base_ = ['./mask_rcnn_r50_fpn_rfs_1x_deconfound.py']
model = dict(roi_head=dict(bbox_head=dict(tde=True)))
