"""Run the react_ros command line: `python -m react_ros COMMAND ...`."""

import sys

from react_ros.cli import main

sys.exit(main())
