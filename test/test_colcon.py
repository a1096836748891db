"""
The package as a ROS 2 user builds it: `colcon build` and `colcon test` in a fresh workspace.

The package is copied into WORKSPACE/src/react_ros (what a clone would hold), built with the
colcon of the environment (colcon-core, colcon-ros, colcon-python-setup-py from PyPI), and the
install tree is used the way `source install/setup.sh` sets it up. `colcon test` only collects
the suite (`--pytest-args --collect-only`): it must find pytest and the tests, and must not run
the suite (this test among it) recursively.
"""

import json
from pathlib import Path
import re
import shutil
import signal
import subprocess
import sys

import pytest
from react_ros.support.harness import wait_until

ROOT = Path(__file__).resolve().parents[1]
COLCON = Path(sys.executable).parent / 'colcon'
# What a clone does not hold (.gitignore) or colcon must not crawl.
NOT_IN_A_CLONE = ('.git', '.venv', 'build', 'install', 'log', 'out', '__pycache__',
                  '*.egg-info', '.pytest_cache', 'tensorrt')
EXECUTABLES = ('react-ros', 'reaction_node', 'face_display_node', 'audio_capture_node')


def run(command, cwd, timeout_s=120, env=None):
    """Run command; return its output, failing the test with it if it fails."""
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=timeout_s)
    assert result.returncode == 0, f'{command} failed ({result.returncode}):\n' \
                                   f'{result.stdout[-3000:]}\n{result.stderr[-3000:]}'
    return result.stdout


def sourced(workspace: Path, command: list) -> list:
    """Return command run after `. install/setup.sh` (exec: signals reach the command)."""
    return ['bash', '-c', f'. "{workspace}/install/setup.sh" && exec "$0" "$@"', *command]


@pytest.fixture(scope='module')
def workspace(tmp_path_factory):
    """Yield a workspace with react_ros copied into src/ and built by colcon build."""
    workspace = tmp_path_factory.mktemp('colcon_ws')
    shutil.copytree(ROOT, workspace / 'src' / 'react_ros',
                    ignore=shutil.ignore_patterns(*NOT_IN_A_CLONE))
    run([str(COLCON), 'build'], workspace)
    return workspace


def test_build_installs_every_share_file_and_executable(workspace):
    prefix = workspace / 'install' / 'react_ros'
    share = prefix / 'share' / 'react_ros'
    assert (prefix / 'share' / 'ament_index' / 'resource_index' / 'packages' /
            'react_ros').is_file()
    shipped = [path.relative_to(ROOT) for folder in ('config', 'launch', 'models', 'engines')
               for path in (ROOT / folder).rglob('*') if path.is_file()
               and path.suffix in ('.yaml', '.xml', '.py', '.pt', '.onnx', '.json', '.urdf')
               and 'tensorrt' not in path.parts]
    assert Path('config/react.yaml') in shipped and Path('models/reaction_synth.pt') in shipped
    missing = [str(path) for path in shipped if not (share / path).is_file()]
    assert not missing, f'not installed to {share}: {missing}'
    assert (share / 'package.xml').read_text() == (ROOT / 'package.xml').read_text()
    manifest = json.loads((share / 'engines' / 'reaction_synth' / 'manifest.json').read_text())
    for graph in manifest['graphs']:
        assert (share / 'engines' / 'reaction_synth' / f'{graph}.onnx').is_file(), graph
    for name in EXECUTABLES:
        executable = prefix / 'lib' / 'react_ros' / name
        assert executable.is_file() and executable.stat().st_mode & 0o111, executable


def test_installed_package_finds_its_files_in_the_ament_share(workspace):
    share = workspace / 'install' / 'react_ros' / 'share' / 'react_ros'
    probe = ('import react_ros\n'
             'from ament_index_python.packages import get_package_share_directory\n'
             'from react_ros.bag import fastdds_profile_path\n'
             'from react_ros.resources import default_config_path, package_file\n'
             "print(react_ros.__file__, get_package_share_directory('react_ros'),\n"
             "      default_config_path('react.yaml'), fastdds_profile_path(),\n"
             "      package_file('models', 'reaction_synth.pt'), sep='\\n')\n")
    lines = run(sourced(workspace, [sys.executable, '-c', probe]), workspace).split()
    module, share_directory, *files = lines
    assert module.startswith(str(workspace / 'install')), module  # not the source tree
    assert share_directory == str(share)
    assert files == [str(share / 'config' / 'react.yaml'), str(share / 'config' / 'fastdds.xml'),
                     str(share / 'models' / 'reaction_synth.pt')]


def test_installed_command_line_runs(workspace):
    react_ros = workspace / 'install' / 'react_ros' / 'lib' / 'react_ros' / 'react-ros'
    usage = run(sourced(workspace, [str(react_ros), '--help']), workspace)
    for command in ('run', 'play', 'demo', 'make-bag'):
        assert command in usage


@pytest.mark.parametrize('executable', ['reaction_node', 'face_display_node'])
def test_installed_node_executables_start_and_join_the_graph(workspace, ros_node, ros_env,
                                                             executable):
    path = workspace / 'install' / 'react_ros' / 'lib' / 'react_ros' / executable
    namespace = '/colcon_check'
    process = subprocess.Popen(
        sourced(workspace, [str(path), '--ros-args', '-r', f'__ns:={namespace}']),
        env=ros_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert wait_until(lambda: (executable, namespace)
                          in ros_node.get_node_names_and_namespaces()
                          or process.poll() is not None, 60)
        assert process.poll() is None, process.communicate()[0]
    finally:
        process.send_signal(signal.SIGINT)
        output = process.communicate(timeout=20)[0]
    assert process.returncode == 0, output


def test_colcon_test_runs_pytest_and_collects_the_suite(workspace):
    output = run([str(COLCON), 'test', '--event-handlers', 'console_direct+',
                  '--pytest-args', '--collect-only', '-q'], workspace, timeout_s=180)
    collected = re.search(r'^(\d+) tests collected', output, re.MULTILINE)
    assert collected, output[-3000:]  # without pytest declared, colcon falls back to unittest
    assert int(collected.group(1)) > 250, output[-3000:]
    # This very test was collected from the workspace copy, and only collected.
    assert 'test/test_colcon.py::test_colcon_test_runs_pytest_and_collects_the_suite' in output
    assert (workspace / 'build' / 'react_ros' / 'pytest.xml').is_file()
