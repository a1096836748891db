"""Small helpers the nodes share."""

from pathlib import Path


def stamp_to_seconds(stamp) -> float:
    """Convert a builtin_interfaces/Time to float seconds."""
    return stamp.sec + stamp.nanosec * 1e-9


def default_config_path(name: str) -> Path:
    """
    Return config/NAME from the installed package share, or from the source tree.

    A colcon install puts config/ under share/react_ros; a source checkout (pip -e, tests)
    has it at the repository root.
    """
    try:
        from ament_index_python.packages import (get_package_share_directory,
                                                 PackageNotFoundError)
        try:
            return Path(get_package_share_directory('react_ros')) / 'config' / name
        except (PackageNotFoundError, OSError):  # OSError: no AMENT_PREFIX_PATH at all
            pass
    except ImportError:
        pass
    return Path(__file__).resolve().parents[2] / 'config' / name
