"""Run one node until Ctrl-C or shutdown, then destroy it and shut rclpy down (the console scripts' main)."""
from __future__ import annotations

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor


def spin_node(make_node, args=None) -> None:
    rclpy.init(args=args)
    node = None
    try:
        node = make_node()
        # one executor thread: rclpy's MultiThreadedExecutor busy-looped in Python on a whole core (2-core machine)
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
