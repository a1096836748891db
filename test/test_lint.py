"""
Code style and structure checks: the ament linters (flake8, pep257) and the import layers.

The linters check the Python sources of the package: react_ros/, test/, launch/ and setup.py;
import-linter checks the contracts in .importlinter.
"""

from pathlib import Path
import subprocess
import sys

from ament_flake8.main import main_with_errors as flake8_main_with_errors
from ament_pep257.main import main as pep257_main

REPO_ROOT = Path(__file__).resolve().parent.parent
LINTED_PATHS = [str(REPO_ROOT / name) for name in ('react_ros', 'test', 'launch', 'setup.py')
                if (REPO_ROOT / name).exists()]


def test_flake8():
    rc, errors = flake8_main_with_errors(argv=LINTED_PATHS)
    assert rc == 0, f'{len(errors)} flake8 problem(s):\n' + '\n'.join(errors)


def test_pep257():
    rc = pep257_main(argv=LINTED_PATHS)
    assert rc == 0, 'pep257 problems, listed above'


def test_import_layers():
    """The layer and ROS-isolation contracts of .importlinter hold (docs/architecture.md)."""
    result = subprocess.run([str(Path(sys.executable).with_name('lint-imports')), '--no-cache'],
                            cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert 'Contracts: 2 kept, 0 broken.' in result.stdout


def test_help_loads_neither_torch_nor_rclpy():
    """`react-ros --help` builds the parser of every command without the heavy libraries."""
    probe = ('import sys\nfrom react_ros.commands import build_parser\nbuild_parser()\n'
             "print(sorted({name.split('.')[0] for name in sys.modules} & "
             "{'torch', 'rclpy', 'cv2', 'onnxruntime', 'diffusers'}))")
    result = subprocess.run([sys.executable, '-c', probe], cwd=REPO_ROOT, capture_output=True,
                            text=True, check=True)
    assert result.stdout.strip() == '[]', result.stdout
