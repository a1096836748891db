"""Install react_ros as a ROS 2 ament_python package."""

from glob import glob

from setuptools import find_packages, setup

PACKAGE_NAME = 'react_ros'
SHARE_DIR = f'share/{PACKAGE_NAME}'

setup(
    name=PACKAGE_NAME,
    version='0.1.0',
    packages=find_packages(exclude=['test', 'test.*']),
    data_files=[
        ('share/ament_index/resource_index/packages', [f'resource/{PACKAGE_NAME}']),
        (SHARE_DIR, ['package.xml']),
        (f'{SHARE_DIR}/launch', glob('launch/*.launch.py')),
        (f'{SHARE_DIR}/config', glob('config/*.yaml') + glob('config/*.xml')),
        # URDF snippet and controllers matching config/animatronic.yaml.
        (f'{SHARE_DIR}/config/ros2_control', glob('config/ros2_control/*')),
        (f'{SHARE_DIR}/models', glob('models/*.pt')),
        # ONNX export of the shipped model; TensorRT plans are built on the robot (tensorrt/).
        (f'{SHARE_DIR}/engines/reaction_synth', glob('engines/reaction_synth/*.onnx')
         + glob('engines/reaction_synth/manifest.json')),
    ],
    install_requires=['setuptools'],
    # colcon test runs pytest only when the package declares it (otherwise unittest: 0 tests).
    extras_require={'test': ['pytest']},
    tests_require=['pytest'],
    zip_safe=True,
    maintainer='react_ros maintainers',
    maintainer_email='react-ros@example.com',
    description='Listener facial reactions for social robots from camera and microphone.',
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'react-ros = react_ros.commands:main',
            'reaction_node = react_ros.nodes.reaction_node:main',
            'face_display_node = react_ros.nodes.face_display_node:main',
            'audio_capture_node = react_ros.nodes.audio_capture_node:main',
        ],
    },
)
