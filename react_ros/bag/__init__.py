"""
rosbag2 tooling: demo bag generation, paced replay into DDS, recording from DDS.

make_bag and types are ROS-free (rosbags only); player and recorder are rclpy nodes and are
imported from their modules. This package module also locates the Fast DDS large-data profile
and builds the environment every ROS process of the project needs.
"""

import os
from pathlib import Path
from typing import Dict, Mapping, Optional

from react_ros.resources import FASTDDS_PROFILE, package_file


def fastdds_profile_path() -> Path:
    """Return the Fast DDS XML profile for large data (SHM 16 MiB segment + UDPv4)."""
    path = package_file('config', FASTDDS_PROFILE)
    if not path.is_file():
        raise FileNotFoundError(f'Fast DDS profile {FASTDDS_PROFILE} not found at {path}')
    return path


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
