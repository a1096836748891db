"""
Reader of the REACT 2025 (MARS) layout: sessions of scripted dyads, 30 fps, variable length.

Clips are found from the facial-attributes folder: {role}/{session}/{clip}.npy (or .csv). A
speaker clip pairs with the listener clip of the same session and name; with `mirror` (as the
upstream loader, which walks both roles) the listener clip also plays the speaker of the
speaker clip. The appropriate reactions to a clip are all clips of the other role in its
session (upstream dataset/react_2025.py).
"""

from pathlib import Path
import re

from react_ros.data import layout as paths
from react_ros.data.plan import ClipSource, DatasetPlan, PairSource, SkippedFile


def looks_like(root, split: str) -> bool:
    """Return whether root holds this split in the MARS layout."""
    return (Path(root) / split / paths.MARS_ATTRIBUTES).is_dir()


def _natural_key(text: str) -> list:
    """Sort 'session2' before 'session10'."""
    return [int(part) if part.isdigit() else part for part in re.split(r'(\d+)', text)]


def _other_role(role: str) -> str:
    return paths.ROLES[1 - paths.ROLES.index(role)]


def plan(root, split: str, mirror: bool = True) -> DatasetPlan:
    """Find the clips, pairs and appropriate reactions of one split."""
    split_dir = Path(root) / split
    attributes_dir = split_dir / paths.MARS_ATTRIBUTES
    if not attributes_dir.is_dir():
        raise FileNotFoundError(f'{root}: no MARS {split!r} split (no folder {attributes_dir})')
    found = {}  # (role, session, name) -> attribute file
    skipped = []
    for role in paths.ROLES:
        for path in sorted((attributes_dir / role).glob('*/*')):
            if path.suffix.lower() not in paths.MARS_ATTRIBUTE_SUFFIXES or not path.is_file():
                continue
            key = (role, path.parent.name, path.stem)
            if key in found:
                skipped.append(SkippedFile(str(path), f'same clip as {found[key].name}'))
                continue
            found[key] = path
    paired = []  # (session, name) with both roles
    for role, session, name in sorted(found, key=lambda key: [_natural_key(part)
                                                              for part in key[1:]]):
        other = (_other_role(role), session, name)
        if other in found:
            if role == paths.ROLES[0]:
                paired.append((session, name))
            continue
        expected = attributes_dir / other[0] / session / f'{name}.*'
        skipped.append(SkippedFile(str(found[(role, session, name)]),
                                   f'no {other[0]} clip {expected}'))
    sessions = {}  # (role, session) -> clip ids
    for session, name in paired:
        for role in paths.ROLES:
            sessions.setdefault((role, session), []).append(f'{role}/{session}/{name}')
    directions = paths.ROLES if mirror else paths.ROLES[:1]
    pairs = []
    for speaker_role in directions:
        listener_role = _other_role(speaker_role)
        for session, name in paired:
            pairs.append(PairSource(f'{speaker_role}/{session}/{name}',
                                    f'{listener_role}/{session}/{name}',
                                    speaker_role != paths.ROLES[0], len(pairs),
                                    tuple(sessions[(listener_role, session)])))
    has_mm = (split_dir / paths.MARS_COEFFICIENTS).is_dir()
    speakers = {pair.speaker for pair in pairs}
    clips = []
    for session, name in paired:
        for role in paths.ROLES:
            clip = f'{role}/{session}/{name}'
            coefficients = (split_dir / paths.MARS_COEFFICIENTS / role / session
                            / f'{name}{paths.COEFFICIENT_SUFFIX}')
            audio = split_dir / paths.MARS_AUDIO / role / session / f'{name}{paths.AUDIO_SUFFIX}'
            clips.append(ClipSource(clip, found[(role, session, name)],
                                    coefficients if has_mm else None,
                                    audio if clip in speakers else None))
    return DatasetPlan('mars', split, Path(root), paths.MARS_FPS, clips, pairs, skipped)
