"""
Code style checks of the package with the ament linters (flake8 and pep257).

They lint the Python sources of the package: react_ros/, test/, launch/ and setup.py.
"""

from pathlib import Path

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
