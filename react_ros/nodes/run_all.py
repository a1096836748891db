"""
The launch file's nodes in one process, for machines without `ros2 launch` (`react-ros run`).

Reads the same parameter YAML (through rclpy's own --params-file handling), starts the same
nodes, and drives reaction_node through configure and activate as the launch file does.
"""

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.parameter import Parameter
from react_ros.nodes.face_display_node import FaceDisplayNode
from react_ros.nodes.reaction_node import ReactionNode


def run_nodes(params_file, microphone: bool = True, backend: str = None,
              ros_args=()) -> int:
    """
    Spin the nodes until Ctrl-C or shutdown; return an exit code.

    params_file: the parameter YAML of all nodes; microphone False: no audio_capture_node
    (e.g. while a bag plays the audio); backend: reaction_node's, instead of the YAML's;
    ros_args: `--ros-args ...` for every node (namespace, remaps, parameters), after the YAML.
    """
    rclpy.init(args=['--ros-args', '--params-file', str(params_file), *ros_args])
    overrides = [] if backend is None else [
        Parameter('backend', Parameter.Type.STRING, backend)]
    nodes = [ReactionNode(parameter_overrides=overrides), FaceDisplayNode()]
    if microphone:
        # Imported only when used: sounddevice needs PortAudio, which a robot replaying bags
        # may not have.
        from react_ros.nodes.audio_capture_node import AudioCaptureNode
        nodes.append(AudioCaptureNode())
    # One callback thread: reaction_node computes in a worker thread of its own, and rclpy's
    # MultiThreadedExecutor costs more in GIL contention than it gains (measured: 16 of 68
    # frames processed with it, see docs).
    executor = SingleThreadedExecutor()
    for node in nodes:
        executor.add_node(node)
    reaction = nodes[0]
    for transition in (reaction.trigger_configure, reaction.trigger_activate):
        if transition() != TransitionCallbackReturn.SUCCESS:
            reaction.get_logger().error(f'{transition.__name__} failed; stopping')
            for node in nodes:
                node.destroy_node()
            rclpy.try_shutdown()
            return 1
    try:
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        # Ctrl-C shuts the context down, which already takes reaction_node through shutdown.
        for node in nodes:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0
