"""
Start the react_ros nodes with config/react.yaml and bring reaction_node to active.

    ros2 launch react_ros react.launch.py [params_file:=...] [microphone:=false]

`react-ros run` starts the same nodes from the same YAML in one process, for machines
without `ros2 launch`.
"""

import os

from ament_index_python.packages import get_package_share_directory
import launch
from launch.actions import DeclareLaunchArgument, EmitEvent, RegisterEventHandler
from launch.conditions import IfCondition
from launch.events import matches_action
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import LifecycleNode, Node
from launch_ros.event_handlers import OnStateTransition
from launch_ros.events.lifecycle import ChangeState
from lifecycle_msgs.msg import Transition


def generate_launch_description():
    """Describe the three nodes and the reaction node's configure -> activate sequence."""
    default_params = os.path.join(get_package_share_directory('react_ros'), 'config',
                                  'react.yaml')
    params_file = LaunchConfiguration('params_file')
    reaction_node = LifecycleNode(
        package='react_ros', executable='reaction_node', name='reaction_node', namespace='',
        parameters=[params_file], output='screen')
    configure = EmitEvent(event=ChangeState(
        lifecycle_node_matcher=matches_action(reaction_node),
        transition_id=Transition.TRANSITION_CONFIGURE))
    activate_when_configured = RegisterEventHandler(OnStateTransition(
        target_lifecycle_node=reaction_node, goal_state='inactive',
        entities=[EmitEvent(event=ChangeState(
            lifecycle_node_matcher=matches_action(reaction_node),
            transition_id=Transition.TRANSITION_ACTIVATE))]))
    return launch.LaunchDescription([
        DeclareLaunchArgument('params_file', default_value=default_params,
                              description='Parameter YAML for all nodes'),
        DeclareLaunchArgument('microphone', default_value='true',
                              description='Start audio_capture_node (false when replaying)'),
        activate_when_configured,
        reaction_node,
        Node(package='react_ros', executable='face_display_node', name='face_display_node',
             parameters=[params_file], output='screen'),
        Node(package='react_ros', executable='audio_capture_node', name='audio_capture_node',
             parameters=[params_file], output='screen',
             condition=IfCondition(LaunchConfiguration('microphone'))),
        configure,
    ])
