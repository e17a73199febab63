"""Grasp planning for a parallel-jaw gripper described in ``grasps.*`` (presets in config/grippers/)."""
from .planner import GraspPlanner

__all__ = ['GraspPlanner']
