"""config/react.yaml drives every node through --params-file; the launch file matches setup.py."""

import ast
from pathlib import Path
import tempfile

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


@pytest.mark.parametrize('namespace', ['', '/r1', '/lab/r2'])
@pytest.mark.parametrize('node_name', ['reaction_node', 'face_display_node',
                                       'audio_capture_node'])
def test_params_file_loads_in_any_namespace_with_no_undeclared_parameter(node_name, namespace):
    entries = yaml.safe_load(PARAMS.read_text())
    assert set(entries) == {f'/**/{name}' for name in node_classes()}, 'keys must be /**/NODE'
    expected = dict(flatten(entries[f'/**/{node_name}']['ros__parameters']))
    assert expected, f'{node_name} has no parameters in {PARAMS}'
    # A value no default has: the file, not the declaration, must decide it.
    overrides = {'reaction_node': ('silence_warning_s', 7.5),
                 'face_display_node': ('image_size', 321),
                 'audio_capture_node': ('chunk_ms', 30)}
    name, value = overrides[node_name]
    params = PARAMS.read_text().replace(f'{name}: {expected[name]}', f'{name}: {value}', 1)
    assert params != PARAMS.read_text(), f'{name}: {expected[name]} not in {PARAMS}'
    expected[name] = value
    context = rclpy.Context()
    rclpy.init(args=['--ros-args', '--params-file', write_temp(params)], context=context)
    try:
        node = node_classes()[node_name](context=context, namespace=namespace)
        assert node.get_fully_qualified_name() == f'{namespace}/{node_name}'
        undeclared = [name for name in expected if not node.has_parameter(name)]
        assert not undeclared, f'{node_name}: {PARAMS.name} sets undeclared {undeclared}'
        for name, value in expected.items():
            assert node.get_parameter(name).value == value, name
        node.destroy_node()
    finally:
        rclpy.shutdown(context=context)


def write_temp(text: str) -> str:
    """Write text to a temporary YAML file; return its path."""
    with tempfile.NamedTemporaryFile('w', suffix='.yaml', delete=False) as stream:
        stream.write(text)
    return stream.name


def console_scripts():
    setup = ast.parse((ROOT / 'setup.py').read_text())
    for call in ast.walk(setup):
        if isinstance(call, ast.keyword) and call.arg == 'entry_points':
            scripts = ast.literal_eval(call.value)['console_scripts']
            return {line.split('=')[0].strip(): line.split('=')[1].strip() for line in scripts}
    raise AssertionError('setup.py has no entry_points')


LAUNCH = ROOT / 'launch' / 'react.launch.py'


def launch_tree():
    """Parse the launch file (launch_ros is not installable here: its structure is checked)."""
    return ast.parse(LAUNCH.read_text())


def calls(tree, name):
    """Yield the calls of function or class `name` in tree."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, 'id', None) == name:
            yield node


def keyword(call, name):
    return next((kw.value for kw in call.keywords if kw.arg == name), None)


def test_launch_file_starts_installed_executables_with_the_shipped_config():
    source = LAUNCH.read_text()
    compile(source, str(LAUNCH), 'exec')
    tree = launch_tree()
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


def test_launch_arguments_cover_namespace_topics_and_sim_time():
    tree = launch_tree()
    assignments = {target.id: node.value for node in ast.walk(tree)
                   if isinstance(node, ast.Assign) for target in node.targets
                   if isinstance(target, ast.Name)}
    topic_arguments = ast.literal_eval(assignments['TOPIC_ARGUMENTS'])
    # The remapped topics are the ones reaction_node subscribes.
    node_tree = ast.parse((ROOT / 'react_ros' / 'nodes' / 'reaction_node.py').read_text())
    subscribed = {node.args[1].value for node in ast.walk(node_tree)
                  if isinstance(node, ast.Call) and
                  getattr(node.func, 'attr', None) == 'create_subscription'}
    assert set(topic_arguments) == subscribed
    literal = {call.args[0].value for call in calls(tree, 'DeclareLaunchArgument')
               if isinstance(call.args[0], ast.Constant)}
    declared = literal | set(topic_arguments)
    assert declared == {'namespace', 'params_file', 'use_sim_time', 'microphone', 'image',
                        'audio_stamped', 'audio', 'audio_info', 'robot_speaking'}
    used = {call.args[0].value for call in calls(tree, 'LaunchConfiguration')
            if isinstance(call.args[0], ast.Constant)}
    assert used <= declared, used - declared
    nodes = list(calls(tree, 'Node')) + list(calls(tree, 'LifecycleNode'))
    assert len(nodes) == 3
    for node in nodes:  # every node in the namespace, with the YAML and use_sim_time
        assert getattr(keyword(node, 'namespace'), 'id', None) == 'namespace', ast.dump(node)
        assert getattr(keyword(node, 'parameters'), 'id', None) == 'parameters'


@pytest.mark.parametrize('argv, own, ros', [
    (['run', '--no-microphone'], ['run', '--no-microphone'], []),
    (['run', '--ros-args', '-r', '__ns:=/r1'], ['run'], ['--ros-args', '-r', '__ns:=/r1']),
    (['play', 'bag', '--ros-args', '-r', '/image:=/r1/image', '--', '--loops', '2'],
     ['play', 'bag', '--loops', '2'], ['--ros-args', '-r', '/image:=/r1/image']),
    (['run', '--ros-args', '-p', 'a:=1', '--ros-args', '-r', 'x:=y'], ['run'],
     ['--ros-args', '-p', 'a:=1', '--ros-args', '-r', 'x:=y']),
])
def test_ros_arguments_are_split_off_as_rcl_reads_them(argv, own, ros):
    from react_ros.commands import split_ros_args
    assert split_ros_args(argv) == (own, ros)


def test_ros_arguments_for_a_command_without_nodes_are_refused(capsys):
    from react_ros.commands import main
    with pytest.raises(SystemExit) as exit_info:
        main(['synth', '--out', 'x', '--ros-args', '-r', '__ns:=/r1'])
    assert exit_info.value.code == 2
    assert '--ros-args is for run and play' in capsys.readouterr().err
