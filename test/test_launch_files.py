"""launch cannot be installed here: check the launch files statically."""
import ast
import re
from importlib.metadata import entry_points
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
LAUNCH = sorted((REPO / 'launch').glob('*.launch.py'))


def _calls(tree, name):
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, 'id', None) == name]


def _keyword(call, key):
    for kw in call.keywords:
        if kw.arg == key and isinstance(kw.value, ast.Constant):
            return kw.value.value
    return None


def test_both_launch_files_exist():
    assert {p.name for p in LAUNCH} == {'seg_perception.launch.py', 'demo.launch.py'}


@pytest.mark.parametrize('path', LAUNCH, ids=lambda p: p.name)
def test_launch_file_compiles_and_names_real_things(path):
    tree = ast.parse(path.read_text())
    compile(tree, str(path), 'exec')
    assert any(isinstance(n, ast.FunctionDef) and n.name == 'generate_launch_description' for n in tree.body)
    scripts = {e.name for e in entry_points(group='console_scripts') if e.value.startswith('seg_perception.')}
    for node in _calls(tree, 'Node'):
        package, executable = _keyword(node, 'package'), _keyword(node, 'executable')
        if package == 'seg_perception':
            assert executable in scripts, executable
        else:
            assert (package, executable) == ('rviz2', 'rviz2')
    # files named with PathJoinSubstitution([share, 'config', NAME]) exist and are installed by setup.py
    for name in re.findall(r"'config', '([^']+)'", path.read_text()):
        assert (REPO / 'config' / name).is_file(), name
    setup = (REPO / 'setup.py').read_text()
    assert "glob('config/*.rviz')" in setup and "glob('launch/*.launch.py')" in setup
    # every launch argument is documented in README
    readme = (REPO / 'README.md').read_text()
    for arg in _calls(tree, 'DeclareLaunchArgument'):
        assert f'`{arg.args[0].value}`' in readme, arg.args[0].value


@pytest.mark.parametrize('path', LAUNCH, ids=lambda p: p.name)
def test_the_gripper_argument_names_a_preset_file_that_is_installed(path):
    from seg_perception.config import GRIPPER_PRESETS
    tree = ast.parse(path.read_text())
    args = {a.args[0].value: a for a in _calls(tree, 'DeclareLaunchArgument')}
    assert _keyword(args['gripper'], 'default_value') == 'franka_hand'
    # the preset's file: the share directory + '/config/gripper_' + gripper + '.yaml', joined from a list
    joined = [n for n in ast.walk(tree) if isinstance(n, ast.List)
              and [e.value for e in n.elts if isinstance(e, ast.Constant)] == ['/config/gripper_', '.yaml']]
    assert len(joined) == 1 and ast.unparse(joined[0].elts[2]) == "LaunchConfiguration('gripper')"
    for name in GRIPPER_PRESETS:
        assert (REPO / 'config' / f'gripper_{name}.yaml').is_file(), name


def test_rviz_config_shows_the_outputs():
    rviz = yaml.safe_load((REPO / 'config' / 'seg_perception.rviz').read_text())
    topics = {d['Topic']['Value'] for d in rviz['Visualization Manager']['Displays'] if 'Topic' in d}
    assert {'/perception_node/overlay', '/perception_node/objects/points', '/perception_node/objects/markers',
            '/perception_node/grasps', '/perception_node/grasps/markers'} <= topics
