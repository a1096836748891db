"""Small helpers the nodes share."""

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
import rclpy
from rclpy.executors import ExternalShutdownException


def stamp_to_seconds(stamp) -> float:
    """Convert a builtin_interfaces/Time to float seconds."""
    return stamp.sec + stamp.nanosec * 1e-9


# reaction_node's /diagnostics status is named '<node name>: ' + this.
PIPELINE_STATUS = 'reaction pipeline'


def format_problem_counts(counts: dict) -> str:
    """Write {problem: frames} as reaction_node's speaker_problems value ('no_face: 3')."""
    return ', '.join(f'{problem}: {count}' for problem, count in sorted(counts.items())) or 'none'


def pipeline_reports(diagnostic_arrays) -> list:
    """Return reaction_node's values from DiagnosticArray messages, one {key: value} per status."""
    return [{value.key: value.value for value in status.values}
            for msg in diagnostic_arrays for status in msg.status
            if status.name.endswith(PIPELINE_STATUS)]


def speaker_problem_counts(reports: list) -> dict:
    """Sum the speaker_problems frame counts of pipeline_reports over all reports."""
    counts = {}
    for report in reports:
        if report['speaker_problems'] != 'none':
            for entry in report['speaker_problems'].split(', '):
                problem, count = entry.split(': ')
                counts[problem] = counts.get(problem, 0) + int(count)
    return counts


def run_node(node_class, args=None):
    """Spin one node until Ctrl-C or shutdown, then clean up (every node's main)."""
    rclpy.init(args=args)
    node = node_class()
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


def parameter_descriptor(description, *, int_range=None, float_range=None):
    """Describe a parameter, with an inclusive integer or floating-point range if given."""
    ranges = {}
    if int_range:
        ranges['integer_range'] = [IntegerRange(from_value=int_range[0], to_value=int_range[1])]
    if float_range:
        ranges['floating_point_range'] = [
            FloatingPointRange(from_value=float_range[0], to_value=float_range[1])]
    return ParameterDescriptor(description=description, **ranges)
