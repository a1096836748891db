"""config/react.yaml drives every node through --params-file; the launch file matches setup.py."""

import ast
from pathlib import Path

import pytest
import rclpy
import yaml

ROOT = Path(__file__).resolve().parents[1]
PARAMS = ROOT / 'config' / 'react.yaml'


def flatten(params, prefix=''):
    """Turn nested ros__parameters into dotted names, as rclpy declares them."""
    for key, value in params.items():
        if isinstance(value, dict):
            yield from flatten(value, f'{prefix}{key}.')
        else:
            yield f'{prefix}{key}', value


def node_classes():
    from react_ros.nodes.audio_capture_node import AudioCaptureNode
    from react_ros.nodes.face_display_node import FaceDisplayNode
    from react_ros.nodes.reaction_node import ReactionNode
    return {'reaction_node': ReactionNode, 'face_display_node': FaceDisplayNode,
            'audio_capture_node': AudioCaptureNode}


@pytest.mark.parametrize('node_name', ['reaction_node', 'face_display_node',
                                       'audio_capture_node'])
def test_params_file_loads_with_no_undeclared_parameter(node_name):
    expected = dict(flatten(yaml.safe_load(PARAMS.read_text())[node_name]['ros__parameters']))
    assert expected, f'{node_name} has no parameters in {PARAMS}'
    context = rclpy.Context()
    rclpy.init(args=['--ros-args', '--params-file', str(PARAMS)], context=context)
    try:
        node = node_classes()[node_name](context=context)
        undeclared = [name for name in expected if not node.has_parameter(name)]
        assert not undeclared, f'{node_name}: {PARAMS.name} sets undeclared {undeclared}'
        for name, value in expected.items():
            assert node.get_parameter(name).value == value, name
        node.destroy_node()
    finally:
        rclpy.shutdown(context=context)


def console_scripts():
    setup = ast.parse((ROOT / 'setup.py').read_text())
    for call in ast.walk(setup):
        if isinstance(call, ast.keyword) and call.arg == 'entry_points':
            scripts = ast.literal_eval(call.value)['console_scripts']
            return {line.split('=')[0].strip(): line.split('=')[1].strip() for line in scripts}
    raise AssertionError('setup.py has no entry_points')


def test_launch_file_starts_installed_executables_with_the_shipped_config():
    source = (ROOT / 'launch' / 'react.launch.py').read_text()
    tree = ast.parse(source)  # launch_ros is not installable here: check its structure
    executables = {kw.value.value for node in ast.walk(tree) if isinstance(node, ast.Call)
                   for kw in node.keywords if kw.arg == 'executable'}
    scripts = console_scripts()
    assert executables == {'reaction_node', 'face_display_node', 'audio_capture_node'}
    assert executables <= set(scripts)
    for executable in executables:
        module, function = scripts[executable].split(':')
        imported = __import__(module, fromlist=[function])
        assert callable(getattr(imported, function))
    assert "'react.yaml'" in source and 'TRANSITION_ACTIVATE' in source
    assert 'TRANSITION_CONFIGURE' in source
