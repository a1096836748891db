"""
rosbag2 tooling: demo bag generation, paced replay into DDS, recording from DDS.

make_bag and types are ROS-free (rosbags only); player and recorder are rclpy nodes and are
imported from their modules. This package module also locates the Fast DDS large-data profile
and builds the environment every ROS process of the project needs.
"""

import os
from pathlib import Path
import sys
from typing import Dict, Mapping, Optional

PACKAGE_NAME = 'react_ros'
FASTDDS_PROFILE_NAME = 'fastdds.xml'


def fastdds_profile_path() -> Path:
    """
    Return the Fast DDS XML profile for large data (SHM 16 MiB segment + UDPv4).

    Looks in the installed share/react_ros/config first, then in the repository's config/.
    """
    candidates = [Path(sys.prefix) / 'share' / PACKAGE_NAME / 'config' / FASTDDS_PROFILE_NAME,
                  Path(__file__).resolve().parents[2] / 'config' / FASTDDS_PROFILE_NAME]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f'Fast DDS profile {FASTDDS_PROFILE_NAME} not found; searched '
        + ', '.join(str(path) for path in candidates))


def dds_environment(domain_id: int, base: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """
    Return base (default: os.environ) plus the DDS settings a project process needs.

    Sets the ROS domain, keeps discovery on this machine (LOCALHOST) and selects the large-data
    Fast DDS profile. Pass the result as env= to subprocesses; it must be in place before
    rclpy.init.
    """
    if not 0 <= domain_id <= 232:
        raise ValueError(f'ROS_DOMAIN_ID must be in 0..232, got {domain_id}')
    environment = dict(os.environ if base is None else base)
    environment.update({
        'ROS_DOMAIN_ID': str(domain_id),
        'ROS_AUTOMATIC_DISCOVERY_RANGE': 'LOCALHOST',
        'FASTDDS_DEFAULT_PROFILES_FILE': str(fastdds_profile_path()),
    })
    return environment
