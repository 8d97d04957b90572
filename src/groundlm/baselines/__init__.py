"""Non-VLM baselines the benchmarks compare against."""

from groundlm.baselines.crop_pose import CropPoseConfig, CropPoseNet, loose_crop, predict_crop_pose, train_crop_pose

__all__ = ["CropPoseConfig", "CropPoseNet", "loose_crop", "predict_crop_pose", "train_crop_pose"]
