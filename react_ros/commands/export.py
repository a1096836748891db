"""`react-ros export`: a checkpoint's step graphs to ONNX, checked against PyTorch."""

import argparse

HELP = "export a checkpoint's step graphs to ONNX (checked against PyTorch)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add `react-ros export` options."""
    parser.add_argument('--ckpt', required=True, help='reaction model checkpoint (.pt)')
    parser.add_argument('--out', required=True, help='folder for the graphs, e.g. engines/NAME/')
    parser.add_argument('--sampling-steps', type=int, default=None,
                        help="DDIM steps baked into denoiser_sample (default: the model's)")
    parser.add_argument('--force', action='store_true',
                        help='replace an export of another checkpoint in --out')


def run(args: argparse.Namespace) -> int:
    """Export; return the exit code."""
    from react_ros.backends.export import export_checkpoint, ExportError  # torch, onnx
    try:
        export_checkpoint(args.ckpt, args.out, args.sampling_steps, args.force)
    except (ExportError, ValueError, FileNotFoundError) as error:
        print(f'react-ros export: {error}')
        return 1
    return 0
