"""Run `react-ros train` as python -m react_ros.train."""

import sys

from react_ros.train.cli import main

sys.exit(main())
