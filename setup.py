from glob import glob

from setuptools import find_packages, setup

PACKAGE = 'seg_perception'

setup(
    name=PACKAGE,
    version='0.1.0',
    packages=find_packages(exclude=['test', 'test.*']),
    data_files=[
        ('share/ament_index/resource_index/packages', [f'resource/{PACKAGE}']),
        (f'share/{PACKAGE}', ['package.xml']),
        (f'share/{PACKAGE}/launch', glob('launch/*.launch.py')),
        (f'share/{PACKAGE}/config', glob('config/*.yaml') + glob('config/*.rviz') + glob('config/*.xml')),
    ],
    # torch, torchvision and open3d come from pip (see README); the ROS packages come from the ROS
    # install (package.xml) or the ROS 2 wheels in the venv (Makefile).
    install_requires=['setuptools', 'numpy', 'scipy', 'pyyaml'],
    extras_require={'test': ['pytest', 'hypothesis']},
    zip_safe=True,
    maintainer='seg_perception maintainers',
    maintainer_email='maintainers@seg-perception.dev',
    description='RGB-D surface and instance segmentation, object clouds and parallel-jaw grasps for ROS 2.',
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'seg-perception = seg_perception.cli:main',
            'synthetic_camera = seg_perception.ros.synthetic_camera:main',
            'frames_camera = seg_perception.ros.frames_camera:main',
            'perception_node = seg_perception.ros.node:main',
        ],
    },
)
