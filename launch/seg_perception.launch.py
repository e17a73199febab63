"""perception_node on a real RGB-D camera (defaults match realsense2_camera: namespace /camera/camera,
colour and aligned depth), optionally with RViz."""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare


def generate_launch_description():
    share = FindPackageShare('seg_perception')
    camera = LaunchConfiguration('camera_namespace')
    return LaunchDescription([
        DeclareLaunchArgument('camera_namespace', default_value='/camera/camera',
                              description='namespace of the camera driver topics'),
        DeclareLaunchArgument('color_topic', default_value='color/image_raw',
                              description='colour image, relative to camera_namespace'),
        DeclareLaunchArgument('depth_topic', default_value='aligned_depth_to_color/image_raw',
                              description='depth aligned to colour, relative to camera_namespace'),
        DeclareLaunchArgument('camera_info_topic', default_value='color/camera_info',
                              description='camera_info of the colour image, relative to camera_namespace'),
        DeclareLaunchArgument('color_transport', default_value='raw',
                              description="raw, or compressed: the colour topic's image_transport /compressed"),
        DeclareLaunchArgument('depth_transport', default_value='raw',
                              description="raw, compressedDepth or compressed: the depth topic's sub-topic"),
        DeclareLaunchArgument('config', default_value=PathJoinSubstitution([share, 'config', 'seg_perception.yaml']),
                              description='parameters file'),
        DeclareLaunchArgument('gripper', default_value='franka_hand',
                              description='gripper preset: franka_hand or robotiq_2f85 (config/gripper_NAME.yaml)'),
        DeclareLaunchArgument('gripper_file', default_value=[share, '/config/gripper_', LaunchConfiguration('gripper'),
                                                             '.yaml'],
                              description='parameters file with grasps.* applied after config (default: the preset '
                                          'named by gripper); your own gripper\'s file'),
        DeclareLaunchArgument('device', default_value='auto', description='auto, cpu or cuda'),
        DeclareLaunchArgument('use_rviz', default_value='false', description='start RViz with the package config'),
        DeclareLaunchArgument('use_sim_time', default_value='false',
                              description='use the /clock topic (a recording played with --clock, a simulator)'),
        Node(package='seg_perception', executable='perception_node', name='perception_node', output='screen',
             parameters=[LaunchConfiguration('config'), LaunchConfiguration('gripper_file'),
                         {'device': LaunchConfiguration('device'),
                          'transport.color': LaunchConfiguration('color_transport'),
                          'transport.depth': LaunchConfiguration('depth_transport'),
                          'use_sim_time': LaunchConfiguration('use_sim_time')}],
             remappings=[('color/image_raw', [camera, '/', LaunchConfiguration('color_topic')]),
                         ('depth/image_raw', [camera, '/', LaunchConfiguration('depth_topic')]),
                         ('color/camera_info', [camera, '/', LaunchConfiguration('camera_info_topic')])]),
        Node(package='rviz2', executable='rviz2', name='rviz2', output='log',
             arguments=['-d', PathJoinSubstitution([share, 'config', 'seg_perception.rviz'])],
             parameters=[{'use_sim_time': LaunchConfiguration('use_sim_time')}],
             condition=IfCondition(LaunchConfiguration('use_rviz'))),
    ])
