"""
`react-ros engines build|list|verify`: manage exported graphs and their TensorRT plans.

    react-ros engines build  --engines engines/NAME [--precision auto|fp16|fp32] [--opt-k 10]
    react-ros engines list   [--engines engines/]      every export below, with its plans
    react-ros engines verify --engines engines/NAME [--ckpt CKPT] [--frames 60]

build needs TensorRT and a GPU; list and verify run anywhere (react_ros.backends.engine_tools).
"""

import argparse
from pathlib import Path

HELP = 'build, list or verify TensorRT engines of an export'


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the `react-ros engines` subcommands."""
    actions = parser.add_subparsers(dest='action', required=True)
    build = actions.add_parser('build', help='build (or reuse) TensorRT plans of an export')
    build.add_argument('--engines', required=True, help='export folder (has manifest.json)')
    build.add_argument('--precision', choices=('auto', 'fp16', 'fp32'), default='auto')
    build.add_argument('--opt-k', type=int, default=None,
                       help='k the profiles are optimised for (default 10; all of 1..16 run)')
    listing = actions.add_parser('list', help='list exports and their plans')
    listing.add_argument('--engines', default='engines', help='an export folder or a parent')
    verify = actions.add_parser('verify', help='check an export (and its plans)')
    verify.add_argument('--engines', required=True, help='export folder (has manifest.json)')
    verify.add_argument('--ckpt', default=None, help='the checkpoint it should serve')
    verify.add_argument('--frames', type=int, default=60,
                        help='frames of the ONNX Runtime vs PyTorch check (needs --ckpt)')


def run(args: argparse.Namespace) -> int:
    """Run `react-ros engines ACTION`; return the exit code."""
    from react_ros.backends import engine_tools  # torch, ONNX Runtime, TensorRT when present
    from react_ros.backends.engine_cache import DEFAULT_OPT_BATCH

    folder = Path(args.engines)
    if args.action == 'list':
        return engine_tools.list_exports(folder)
    if args.action == 'verify':
        return engine_tools.verify_export(folder, args.ckpt, args.frames)
    return engine_tools.build_plans(folder, args.precision, args.opt_k or DEFAULT_OPT_BATCH)
