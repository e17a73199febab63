"""No camera needed: the synthetic RGB-D camera, perception_node and (optionally) RViz in one namespace."""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare


def generate_launch_description():
    share = FindPackageShare('seg_perception')
    return LaunchDescription([
        DeclareLaunchArgument('config', default_value=PathJoinSubstitution([share, 'config', 'seg_perception.yaml']),
                              description='parameters file'),
        DeclareLaunchArgument('gripper', default_value='franka_hand',
                              description='gripper preset: franka_hand or robotiq_2f85 (config/gripper_NAME.yaml)'),
        DeclareLaunchArgument('device', default_value='auto', description='auto, cpu or cuda'),
        DeclareLaunchArgument('rate', default_value='30.0', description='synthetic camera rate (Hz)'),
        DeclareLaunchArgument('use_rviz', default_value='true', description='start RViz with the package config'),
        Node(package='seg_perception', executable='synthetic_camera', name='synthetic_camera', output='screen',
             parameters=[{'rate': LaunchConfiguration('rate'), 'new_scene_every': 150}]),
        Node(package='seg_perception', executable='perception_node', name='perception_node', output='screen',
             parameters=[LaunchConfiguration('config'),
                         [share, '/config/gripper_', LaunchConfiguration('gripper'), '.yaml'],
                         {'device': LaunchConfiguration('device')}]),
        Node(package='rviz2', executable='rviz2', name='rviz2', output='log',
             arguments=['-d', PathJoinSubstitution([share, 'config', 'seg_perception.rviz'])],
             condition=IfCondition(LaunchConfiguration('use_rviz'))),
    ])
