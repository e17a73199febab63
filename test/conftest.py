import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TEST_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(TEST_DIR))


def pytest_configure(config):
    config.addinivalue_line('markers', 'slow: takes more than a few seconds (still run by make test)')
    config.addinivalue_line('markers', 'ros: starts ROS 2 processes over real DDS')
    config.addinivalue_line('markers', 'gpu: needs CUDA; skipped without it')


def pytest_collection_modifyitems(config, items):
    import torch
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason='CUDA is not available on this machine')
    for item in items:
        if 'gpu' in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def ros_env(tmp_path):
    """Environment for ROS subprocesses: an isolated domain, logs in tmp, the shipped FastDDS profile."""
    from ros_helpers import ros_subprocess_env
    return ros_subprocess_env(tmp_path)
