"""Grasp planning for a parallel-jaw gripper described in ``grasps.*`` (presets: config/gripper_*.yaml)."""
from .planner import GraspPlanner, GraspScene

__all__ = ['GraspPlanner', 'GraspScene']
