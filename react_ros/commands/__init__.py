"""
`react-ros`: the project's command line, one module per subcommand.

    react-ros run [--params-file FILE] [--no-microphone] [--backend B]   the nodes, one process
    react-ros make-bag OUT [--duration S] [--seed N]        a demo rosbag2 (MCAP)
    react-ros play BAG [--loops N]                           replay a bag with its timing
    react-ros demo                                          bag -> nodes over DDS -> out/demo.mp4
    react-ros synth --out DIR [--sessions N] [--seed S]     a synthetic dyadic corpus (MARS layout)
    react-ros eval --data DIR [--pred P.npy] [--baselines]  the REACT metric table
    react-ros train --stage all --data DIR --out CKPT       train the reaction model
    react-ros predict --ckpt CKPT --data DIR --out P.npy    a checkpoint's reactions, for eval
    react-ros export --ckpt CKPT --out engines/NAME/         ONNX graphs + manifest, checked
    react-ros engines build|list|verify --engines DIR       TensorRT plans of an export
    react-ros features --data DIR [--split S] [--force]     cache per-frame speaker features

ROS arguments after the command's own (`react-ros run --ros-args -r __ns:=/r1`, as `ros2 run
react_ros react-ros run --ros-args ...` passes them) go to rclpy for the commands that start
ROS nodes (ROS_COMMANDS), as `args.ros_args`.

Each command module has `HELP` (one line), `add_arguments(parser)` and `run(args) -> exit
code`. Building the parser imports only argparse and light constants; a command imports the
library it drives (torch, rclpy, ...) inside `run`, so `react-ros --help` and each command
load only what they use.
"""

import argparse
import sys

from react_ros.commands import (demo, engines, eval as eval_command, export, features,
                                make_bag, play, predict, run, synth, train)

# Subcommand name -> module, in the order --help lists them.
COMMANDS = {
    'run': run, 'make-bag': make_bag, 'play': play, 'demo': demo, 'synth': synth,
    'eval': eval_command, 'train': train, 'predict': predict, 'features': features,
    'export': export, 'engines': engines,
}
# The commands whose nodes take `--ros-args ...` (remaps, namespace, parameters).
ROS_COMMANDS = ('run', 'play')


def split_ros_args(argv: list) -> tuple:
    """
    Split argv into the command's own arguments and the ROS arguments.

    As rcl reads them: each `--ros-args` starts ROS arguments, which run to a `--` or the end.
    """
    own, ros, inside = [], [], False
    for arg in argv:
        if arg == '--ros-args':
            inside = True
            ros.append(arg)
        elif inside and arg == '--':
            inside = False
        else:
            (ros if inside else own).append(arg)
    return own, ros


def build_parser() -> argparse.ArgumentParser:
    """Return the `react-ros` parser with every subcommand registered."""
    parser = argparse.ArgumentParser(prog='react-ros', description=__doc__.split('\n\n')[0])
    subcommands = parser.add_subparsers(dest='command', required=True)
    for name, module in COMMANDS.items():
        subparser = subcommands.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(subparser)
        subparser.set_defaults(run=module.run)
    return parser


def main(argv=None) -> int:
    """Parse the command line and run the chosen command; return its exit code."""
    own, ros_args = split_ros_args(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(own)
    if ros_args and args.command not in ROS_COMMANDS:
        parser.error(f'{args.command} starts no ROS node: --ros-args is for '
                     f'{" and ".join(ROS_COMMANDS)}')
    args.ros_args = ros_args
    return args.run(args)


if __name__ == '__main__':
    sys.exit(main())
