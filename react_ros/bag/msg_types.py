"""
Message types for rosbag2 files, without ROS: a rosbags typestore plus CDR stamp helpers.

The typestore is the rosbags ROS 2 Kilted store with the project's extra interface packages
(audio_common_msgs, and hri_msgs when present) registered from their .msg files. The .msg files
are looked up in the installed share directory (ament index, else this Python environment's
share/), falling back to the repository's interfaces/ folder.
"""

import functools
from pathlib import Path
import struct
from typing import Dict, List, Optional

from react_ros.resources import share_directories
from rosbags.interfaces import (
    Qos, QosDurability, QosHistory, QosLiveliness, QosReliability, QosTime)
from rosbags.typesys import get_types_from_msg, get_typestore as rosbags_typestore, Stores
from rosbags.typesys.store import Typestore

REPOSITORY_INTERFACES = Path(__file__).resolve().parents[2] / 'interfaces'
REQUIRED_PACKAGES = ('audio_common_msgs',)
OPTIONAL_PACKAGES = ('hri_msgs',)
IMAGE_TYPE = 'sensor_msgs/msg/Image'
AUDIO_TYPE = 'audio_common_msgs/msg/AudioDataStamped'
AUDIO_DATA_TYPE = 'audio_common_msgs/msg/AudioData'
AUDIO_INFO_TYPE = 'audio_common_msgs/msg/AudioInfo'
BOOL_TYPE = 'std_msgs/msg/Bool'

IMAGE_TYPES = (IMAGE_TYPE, 'sensor_msgs/msg/CompressedImage')
_DEFAULT_TIME = QosTime(sec=0, nsec=0)  # rosbag2's "default" deadline/lifespan/lease

# CDR payload = 4-byte encapsulation header, then the message; a leading std_msgs/Header starts
# with builtin_interfaces/Time {int32 sec, uint32 nanosec}.
CDR_ENCAPSULATION_SIZE = 4
_STAMP_FORMATS = {0: '>iI', 1: '<iI'}  # encapsulation byte 1: 0 = big endian, 1 = little


def publisher_qos_policy(msgtype: str) -> Qos:
    """
    Return the QoS a live publisher of msgtype offers, as rosbag2 metadata records it.

    Images: best effort, depth 5 (like camera drivers; matches sensor-data subscribers).
    AudioInfo and Bool (a robot_speaking state): reliable + transient local, so late
    subscribers still get the latest (volatile ones match too). Anything else (audio chunks):
    reliable, depth 100. Written into the demo bag's offered_qos_profiles and used by the
    player for bags that record none.
    """
    depth, reliability, durability = 100, QosReliability.RELIABLE, QosDurability.VOLATILE
    if msgtype in IMAGE_TYPES:
        depth, reliability = 5, QosReliability.BEST_EFFORT
    elif msgtype in (AUDIO_INFO_TYPE, BOOL_TYPE):
        depth, durability = 1, QosDurability.TRANSIENT_LOCAL
    return Qos(history=QosHistory.KEEP_LAST, depth=depth, reliability=reliability,
               durability=durability, deadline=_DEFAULT_TIME, lifespan=_DEFAULT_TIME,
               liveliness=QosLiveliness.AUTOMATIC,
               liveliness_lease_duration=_DEFAULT_TIME, avoid_ros_namespace_conventions=False)


def msg_directories(package: str) -> List[Path]:
    """Return the candidate msg/ directories of an interface package, best first."""
    return ([share / 'msg' for share in share_directories(package)]
            + [REPOSITORY_INTERFACES / package / 'msg'])


def find_msg_directory(package: str) -> Optional[Path]:
    """Return the first msg/ directory of package that holds .msg files, or None."""
    for directory in msg_directories(package):
        if directory.is_dir() and any(directory.glob('*.msg')):
            return directory
    return None


def _package_types(package: str, directory: Path) -> Dict:
    types = {}
    for msg_file in sorted(directory.glob('*.msg')):
        name = f'{package}/msg/{msg_file.stem}'
        types.update(get_types_from_msg(msg_file.read_text(), name))
    return types


@functools.lru_cache(maxsize=1)
def get_typestore() -> Typestore:
    """
    Return the ROS 2 Kilted typestore with the project's interface packages registered.

    Raises FileNotFoundError naming the searched folders when audio_common_msgs is missing.
    The result is cached; do not register further types into it.
    """
    typestore = rosbags_typestore(Stores.ROS2_KILTED)
    types = {}
    for package in REQUIRED_PACKAGES + OPTIONAL_PACKAGES:
        directory = find_msg_directory(package)
        if directory is None:
            if package in REQUIRED_PACKAGES:
                searched = ', '.join(str(path) for path in msg_directories(package))
                raise FileNotFoundError(
                    f'no .msg files found for {package}; searched {searched}. '
                    f'Build and install the interface package (see interfaces/{package}).')
            continue
        types.update(_package_types(package, directory))
    typestore.register(types)
    return typestore


def _stamp_format(raw: bytes) -> str:
    if len(raw) < CDR_ENCAPSULATION_SIZE + 8 or raw[0] != 0 or raw[1] not in _STAMP_FORMATS:
        raise ValueError('not a plain CDR message with a leading header stamp '
                         f'(encapsulation {bytes(raw[:4]).hex()}, {len(raw)} bytes)')
    return _STAMP_FORMATS[raw[1]]


def read_header_stamp(raw: bytes) -> int:
    """Return the header stamp (ns) of a serialized message whose first field is a Header."""
    sec, nanosec = struct.unpack_from(_stamp_format(raw), raw, CDR_ENCAPSULATION_SIZE)
    return sec * 1_000_000_000 + nanosec


def write_header_stamp(raw: bytearray, stamp_ns: int) -> None:
    """Overwrite, in place, the header stamp of a serialized message with stamp_ns."""
    sec, nanosec = divmod(stamp_ns, 1_000_000_000)
    if not -2**31 <= sec < 2**31:
        raise ValueError(f'stamp {stamp_ns} ns does not fit builtin_interfaces/Time')
    struct.pack_into(_stamp_format(raw), raw, CDR_ENCAPSULATION_SIZE, sec, nanosec)
