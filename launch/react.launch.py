"""
Start the react_ros nodes with config/react.yaml and bring reaction_node to active.

    ros2 launch react_ros react.launch.py [namespace:=r1] [image:=/camera/image_raw]
        [audio_stamped:=/audio/audio_stamped] [audio:=/audio/audio]
        [audio_info:=/audio/audio_info] [robot_speaking:=/tts/speaking] [use_sim_time:=true]
        [params_file:=...] [microphone:=false]

Every node runs in `namespace` (their topics are relative, config/react.yaml's `/**/` keys
apply in any namespace); image, audio_stamped, audio, audio_info and robot_speaking remap
reaction_node's inputs, and audio_capture_node's outputs to the same topics. `react-ros run`
starts the same nodes from the same YAML in one process, for machines without `ros2 launch`.
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
from launch_ros.parameter_descriptions import ParameterValue
from lifecycle_msgs.msg import Transition

# Launch argument -> (default, description) for every input topic reaction_node remaps; the
# argument is named like the topic it remaps.
TOPIC_ARGUMENTS = {
    'image': ('image', 'Camera topic (sensor_msgs/Image)'),
    'audio_stamped': ('audio_stamped', 'Stamped microphone audio (AudioDataStamped)'),
    'audio': ('audio', 'Unstamped microphone audio (AudioData), used without audio_stamped'),
    'audio_info': ('audio_info', 'Microphone format (audio_common_msgs/AudioInfo)'),
    'robot_speaking': ('robot_speaking', "The robot's TTS is talking (std_msgs/Bool, latched)"),
}


def generate_launch_description():
    """Describe the three nodes and the reaction node's configure -> activate sequence."""
    default_params = os.path.join(get_package_share_directory('react_ros'), 'config',
                                  'react.yaml')
    namespace = LaunchConfiguration('namespace')
    parameters = [LaunchConfiguration('params_file'), {
        'use_sim_time': ParameterValue(LaunchConfiguration('use_sim_time'), value_type=bool)}]
    remappings = [(topic, LaunchConfiguration(topic)) for topic in TOPIC_ARGUMENTS]
    reaction_node = LifecycleNode(
        package='react_ros', executable='reaction_node', name='reaction_node',
        namespace=namespace, parameters=parameters, remappings=remappings, output='screen')
    configure = EmitEvent(event=ChangeState(
        lifecycle_node_matcher=matches_action(reaction_node),
        transition_id=Transition.TRANSITION_CONFIGURE))
    activate_when_configured = RegisterEventHandler(OnStateTransition(
        target_lifecycle_node=reaction_node, goal_state='inactive',
        entities=[EmitEvent(event=ChangeState(
            lifecycle_node_matcher=matches_action(reaction_node),
            transition_id=Transition.TRANSITION_ACTIVATE))]))
    arguments = [
        DeclareLaunchArgument('namespace', default_value='',
                              description='Namespace of all nodes and their topics (one robot)'),
        DeclareLaunchArgument('params_file', default_value=default_params,
                              description='Parameter YAML for all nodes'),
        DeclareLaunchArgument('use_sim_time', default_value='false',
                              description='Use /clock (e.g. a bag played with its clock)'),
        DeclareLaunchArgument('microphone', default_value='true',
                              description='Start audio_capture_node (false when replaying, or '
                                          "with audio_common's audio_capture)"),
    ] + [DeclareLaunchArgument(topic, default_value=default, description=description)
         for topic, (default, description) in TOPIC_ARGUMENTS.items()]
    return launch.LaunchDescription(arguments + [
        activate_when_configured,
        reaction_node,
        Node(package='react_ros', executable='face_display_node', name='face_display_node',
             namespace=namespace, parameters=parameters, output='screen'),
        Node(package='react_ros', executable='audio_capture_node', name='audio_capture_node',
             namespace=namespace, parameters=parameters,
             remappings=[remap for remap in remappings if remap[0] != 'image'],
             output='screen', condition=IfCondition(LaunchConfiguration('microphone'))),
        configure,
    ])
