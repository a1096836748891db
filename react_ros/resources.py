"""
Where the package's own files are: config/, models/, engines/, launch/.

A colcon (or pip) install puts them under share/react_ros; a source checkout (pip -e, tests)
has them at the repository root. ROS-free: the ament index is asked only when it is installed.
"""

from pathlib import Path
import sys

try:
    from ament_index_python.packages import get_package_share_directory, PackageNotFoundError
except ImportError:  # no ROS installation: only the source tree and sys.prefix/share
    get_package_share_directory = None

PACKAGE_NAME = 'react_ros'
# Trained on the synthetic corpus by the command in docs/training.md.
DEFAULT_MODEL = 'reaction_synth.pt'
DEFAULT_MODEL_EXPORT = 'reaction_synth'  # its ONNX export, engines/reaction_synth/
FASTDDS_PROFILE = 'fastdds.xml'  # config/: Fast DDS large-data profile (SHM + UDPv4)


def share_directories(package: str = PACKAGE_NAME) -> list:
    """Return the share folders that may hold a package's files: ament index, sys.prefix."""
    folders = []
    if get_package_share_directory is not None:
        try:
            folders.append(Path(get_package_share_directory(package)))
        except (PackageNotFoundError, OSError, ValueError):  # OSError: no AMENT_PREFIX_PATH
            pass
    folders.append(Path(sys.prefix) / 'share' / package)
    return folders


def package_file(folder: str, name: str) -> Path:
    """
    Return FOLDER/NAME from the installed package share, or from the source tree.

    The first existing candidate wins; when none exists, the source-tree path (named in the
    error the caller raises on opening it).
    """
    source_tree = Path(__file__).resolve().parents[1] / folder / name
    for share in share_directories():
        if (share / folder / name).exists():
            return share / folder / name
    return source_tree


def default_config_path(name: str) -> Path:
    """Return config/NAME of the package."""
    return package_file('config', name)
