"""Run the react_ros command line: `python -m react_ros COMMAND ...`."""

import sys

from react_ros.commands import main

sys.exit(main())
