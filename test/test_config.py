import textwrap

import pytest
import yaml

from seg_perception import config as cfgmod
from seg_perception.config import Config, ConfigError, flatten, from_flat, load_config, parameter_specs


def test_shipped_yaml_matches_dataclass_defaults():
    """config/seg_perception.yaml and config.py are one source of truth: every key, same defaults."""
    path = cfgmod.default_config_path()
    flat = cfgmod.parameters_from_yaml(yaml.safe_load(path.read_text()))
    assert flat == flatten(Config())
    assert load_config(path) == Config()


def test_gripper_presets_are_found_by_name_also_in_a_pip_install(tmp_path, monkeypatch):
    assert load_config(cfgmod.gripper_file('robotiq_2f85')).grasps.max_opening == 0.085
    assert load_config(cfgmod.gripper_file('franka_hand')).grasps == Config().grasps
    with pytest.raises(ConfigError, match="unknown gripper 'franka'.*franka_hand, robotiq_2f85"):
        cfgmod.gripper_file('franka')
    with pytest.raises(ConfigError, match='gripper file not found: .*my_hand.yaml'):
        cfgmod.gripper_file(tmp_path / 'my_hand.yaml')
    # a pip install puts config/ under the environment's share directory
    installed = tmp_path / 'share' / 'seg_perception' / 'config'
    installed.mkdir(parents=True)
    (installed / 'only_installed.yaml').write_text('device: cpu\n')
    monkeypatch.setattr(cfgmod.sys, 'prefix', str(tmp_path))
    assert cfgmod.package_config_file('only_installed.yaml') == installed / 'only_installed.yaml'
    with pytest.raises(ConfigError, match='config/missing.yaml not found'):
        cfgmod.package_config_file('missing.yaml')


def test_flatten_round_trip_and_dotted_names():
    flat = flatten(Config())
    assert 'depth.max' in flat and 'device' in flat
    assert from_flat(flat) == Config()
    changed = from_flat({'depth.max': 2, 'device': 'cpu'})
    assert changed.depth.max == 2.0 and isinstance(changed.depth.max, float)
    assert changed.device == 'cpu'


@pytest.mark.parametrize('key, value, words', [
    ('device', 'tpu', ["device", "'tpu'", "'auto'", "'cuda'"]),
    ('depth.max', -1.0, ['depth.max', '-1.0', '>= 0.05']),
    ('depth.max', 'far', ['depth.max', "'far'", 'float']),
    ('fp16', 1, ['fp16', '1', 'bool']),
])
def test_validation_error_names_key_value_and_rule(key, value, words):
    with pytest.raises(ConfigError) as err:
        from_flat({key: value})
    for w in words:
        assert w in str(err.value)


def test_cross_field_rule():
    with pytest.raises(ConfigError, match='depth.min .* must be smaller than depth.max'):
        from_flat({'depth.min': 2.0, 'depth.max': 1.0})


def test_unknown_key_suggests_the_right_one():
    with pytest.raises(ConfigError, match=r"unknown parameter 'depth.maxx'.*did you mean depth.max"):
        from_flat({'depth.maxx': 1.0})


def test_ros_params_file_nesting(tmp_path):
    path = tmp_path / 'params.yaml'
    path.write_text(textwrap.dedent('''
        /**:
          ros__parameters:
            device: cpu
            depth: {max: 2.5}
        perception_node:
          ros__parameters:
            depth:
              max: 1.5
        other_node:
          ros__parameters:
            depth: {max: 9.0}
    '''))
    cfg = load_config(path)
    assert cfg.device == 'cpu' and cfg.depth.max == 1.5


def test_plain_tree_and_overrides(tmp_path):
    path = tmp_path / 'plain.yaml'
    path.write_text('depth:\n  min: 0.2\n')
    cfg = load_config(path, overrides={'depth.max': 1.0})
    assert (cfg.depth.min, cfg.depth.max) == (0.2, 1.0)


def test_bad_files_are_named(tmp_path):
    with pytest.raises(ConfigError, match='not found'):
        load_config(tmp_path / 'missing.yaml')
    bad = tmp_path / 'bad.yaml'
    bad.write_text('depth: [unclosed\n')
    with pytest.raises(ConfigError, match='bad.yaml is not valid YAML'):
        load_config(bad)


def test_parameter_specs_carry_descriptions_and_ranges():
    specs = {s.name: s for s in parameter_specs()}
    assert set(specs) == set(flatten(Config()))
    assert specs['depth.max'].min == 0.05 and specs['depth.max'].type is float
    assert specs['device'].read_only and specs['device'].choices == ('auto', 'cpu', 'cuda')
    assert all(s.description for s in specs.values())
