"""
`react-ros`: the project's command line.

    react-ros run [--params-file FILE] [--no-microphone] [--backend B]   the nodes, one process
    react-ros make-bag OUT [--duration S] [--seed N]        a demo rosbag2 (MCAP)
    react-ros demo                                          bag -> nodes over DDS -> out/demo.mp4
    react-ros synth --out DIR [--sessions N] [--seed S]     a synthetic dyadic corpus (MARS layout)
    react-ros eval --data DIR [--pred P.npy] [--baselines]  the REACT metric table
    react-ros train --stage all --data DIR --out CKPT       train the reaction model
    react-ros predict --ckpt CKPT --data DIR --out P.npy    a checkpoint's reactions, for eval
    react-ros export --ckpt CKPT --out engines/NAME/         ONNX graphs + manifest, checked
    react-ros engines build|list|verify --engines DIR       TensorRT plans of an export
    react-ros features --data DIR [--split S] [--force]     cache per-frame speaker features
"""

import argparse
import sys


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='react-ros', description=__doc__.split('\n\n')[0])
    commands = parser.add_subparsers(dest='command', required=True)

    from react_ros import run
    run.add_arguments(commands.add_parser('run', help='run the nodes in one process'))

    from react_ros.bag import make_bag
    make_bag.add_make_bag_arguments(commands.add_parser(
        'make-bag', help='write a demo rosbag2: speaker video and real speech'))

    from react_ros import demo
    demo.add_arguments(commands.add_parser(
        'demo', help='replay the demo bag through the nodes and write out/demo.mp4'))

    from react_ros.data import synth
    synth.add_synth_arguments(commands.add_parser(
        'synth', help='write a synthetic dyadic corpus in the REACT 2025 (MARS) layout'))

    from react_ros.eval import cli as eval_cli
    eval_cli.add_arguments(commands.add_parser(
        'eval', help='score predictions (and baselines) with the REACT metrics'))

    from react_ros.train import cli as train_cli
    train_cli.add_train_arguments(commands.add_parser(
        'train', help='train the tokenizer, predictor and diffusion stages'))

    from react_ros.train import predict
    predict.add_predict_arguments(commands.add_parser(
        'predict', help="write a checkpoint's reactions to a split, for react-ros eval"))

    from react_ros.perception import features_cli
    features_cli.add_arguments(commands.add_parser(
        'features', help='extract and cache per-frame speaker features of a dataset'))

    from react_ros.backends import engines_cli, export
    export.add_arguments(commands.add_parser(
        'export', help="export a checkpoint's step graphs to ONNX (checked against PyTorch)"))
    engines_cli.add_arguments(commands.add_parser(
        'engines', help='build, list or verify TensorRT engines of an export'))
    return parser


def main(argv=None) -> int:
    """Parse the command line and run the chosen command."""
    args = _parser().parse_args(argv)
    if args.command == 'run':
        from react_ros.run import run
        return run(args)
    if args.command == 'make-bag':
        from react_ros.bag.make_bag import run_make_bag
        return run_make_bag(args) or 0
    if args.command == 'synth':
        from react_ros.data.synth import run_synth
        return run_synth(args)
    if args.command == 'eval':
        from react_ros.eval.cli import run_eval
        return run_eval(args)
    if args.command == 'train':
        from react_ros.train.cli import run_train
        return run_train(args)
    if args.command == 'features':
        from react_ros.perception.features_cli import run_features
        return run_features(args)
    if args.command == 'predict':
        from react_ros.train.predict import run_predict
        return run_predict(args)
    if args.command == 'export':
        from react_ros.backends.export import run_export
        return run_export(args)
    if args.command == 'engines':
        from react_ros.backends.engines_cli import run_engines
        return run_engines(args)
    from react_ros.demo import run_demo
    return run_demo(args)


if __name__ == '__main__':
    sys.exit(main())
