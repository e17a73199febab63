"""The package builds with colcon in a ROS 2 workspace and installs what users and launch files need."""
import configparser
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _package_xml():
    return ET.parse(REPO / 'package.xml').getroot()


def test_package_xml_format_3_and_runtime_dependencies():
    root = _package_xml()
    assert root.get('format') == '3'
    assert root.findtext('name') == 'seg_perception'
    deps = {e.text for e in root.findall('exec_depend')}
    for key in ('rclpy', 'sensor_msgs', 'geometry_msgs', 'visualization_msgs', 'std_msgs', 'diagnostic_msgs',
                'lifecycle_msgs', 'python3-numpy', 'python3-opencv', 'python3-scipy', 'python3-yaml'):
        assert key in deps, key
    assert root.find('export/build_type').text == 'ament_python'


def test_entry_points_resolve():
    """Every console script named in setup.py imports and is callable (no dangling entry point)."""
    from importlib.metadata import entry_points
    scripts = [e for e in entry_points(group='console_scripts') if e.value.startswith('seg_perception.')]
    for ep in scripts:
        assert callable(ep.load()), ep.name


@pytest.mark.slow
def test_colcon_build_installs_share_files_and_index(tmp_path):
    colcon = shutil.which('colcon', path=str(Path(sys.executable).parent))
    if colcon is None:
        pytest.fail('colcon is not installed in the venv (make setup installs colcon-common-extensions)')
    ws = tmp_path / 'ws'
    (ws / 'src').mkdir(parents=True)
    os.symlink(REPO, ws / 'src' / 'seg_perception')
    env = dict(os.environ)
    env['PATH'] = f'{Path(sys.executable).parent}{os.pathsep}{env.get("PATH", "")}'
    result = subprocess.run([colcon, 'build', '--base-paths', 'src', '--build-base', str(ws / 'build'),
                             '--install-base', str(ws / 'install')], cwd=ws, env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    share = ws / 'install' / 'seg_perception' / 'share'
    assert (share / 'ament_index' / 'resource_index' / 'packages' / 'seg_perception').is_file()
    for rel in ('package.xml', 'config/seg_perception.yaml', 'config/fastdds_large_data.xml'):
        assert (share / 'seg_perception' / rel).is_file(), rel
    for launch_file in (REPO / 'launch').glob('*.launch.py'):
        assert (share / 'seg_perception' / 'launch' / launch_file.name).is_file()
    # ros2 run looks for executables in lib/<package>
    cfg = configparser.ConfigParser()
    cfg.read(REPO / 'setup.cfg')
    assert cfg['install']['install_scripts'] == '$base/lib/seg_perception'
    from importlib.metadata import entry_points
    for ep in entry_points(group='console_scripts'):
        if ep.value.startswith('seg_perception.'):
            assert (ws / 'install' / 'seg_perception' / 'lib' / 'seg_perception' / ep.name).is_file(), ep.name
