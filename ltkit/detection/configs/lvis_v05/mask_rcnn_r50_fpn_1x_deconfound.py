"""LVIS v0.5 Mask R-CNN R50-FPN 1x: De-confound (causal-norm box head, plain logits at test).

Same data and schedule as the Baseline; the box head's classifier is the causal-norm one
(K = 2, tau = 16, gamma = 1/32) with the moving-average feature over foreground RoIs
(mu = 0.9). Its checkpoint also serves the TDE config, which differs only at test.
"""
_base_ = ['./mask_rcnn_r50_fpn_1x_baseline.py']
model = dict(
    roi_head=dict(
        type='TDEStandardRoIHead',
        bbox_head=dict(
            type='TDEShared2FCBBoxHead',
            classifier='causal_norm', num_head=2, tau=16.0, gamma=1 / 32, mu=0.9,
            alpha=1.5, tde=False, background_exempted=True)))
