"""RoI heads that hand the box head its RoI labels (for the moving-average feature).

Each is mmdet's own RoI head with ``_bbox_forward_train`` wrapped: the labels of the sampled
RoIs are computed from the sampling results (positives' gt labels, then background) and given
to the TDE box head for that one forward. With any other box head they behave exactly like
the stock ones. The authors passed labels only in HTC, so their Mask R-CNN and Cascade
configs could not train (docs/method.md 2.1); these three cover all of them.
"""

from __future__ import annotations

from mmdet.models.builder import HEADS
from mmdet.models.roi_heads import CascadeRoIHead, HybridTaskCascadeRoIHead, StandardRoIHead

from .head import passing_roi_labels

__all__ = ["TDEStandardRoIHead", "TDECascadeRoIHead", "TDEHybridTaskCascadeRoIHead"]


@HEADS.register_module()
class TDEStandardRoIHead(StandardRoIHead):
    """``StandardRoIHead`` (Faster/Mask R-CNN) passing RoI labels to a TDE box head."""

    def _bbox_forward_train(self, x, sampling_results, gt_bboxes, gt_labels, img_metas):
        with passing_roi_labels(self.bbox_head, sampling_results):
            return super()._bbox_forward_train(x, sampling_results, gt_bboxes, gt_labels, img_metas)


@HEADS.register_module()
class TDECascadeRoIHead(CascadeRoIHead):
    """``CascadeRoIHead`` passing each stage's RoI labels to that stage's TDE box head."""

    def _bbox_forward_train(self, stage, x, sampling_results, gt_bboxes, gt_labels, rcnn_train_cfg):
        with passing_roi_labels(self.bbox_head[stage], sampling_results):
            return super()._bbox_forward_train(stage, x, sampling_results, gt_bboxes, gt_labels, rcnn_train_cfg)


@HEADS.register_module()
class TDEHybridTaskCascadeRoIHead(HybridTaskCascadeRoIHead):
    """``HybridTaskCascadeRoIHead`` (HTC, the paper's "Cascade Mask R-CNN") passing RoI labels."""

    def _bbox_forward_train(self, stage, x, sampling_results, gt_bboxes, gt_labels, rcnn_train_cfg, semantic_feat=None):
        with passing_roi_labels(self.bbox_head[stage], sampling_results):
            return super()._bbox_forward_train(
                stage, x, sampling_results, gt_bboxes, gt_labels, rcnn_train_cfg, semantic_feat=semantic_feat
            )
