"""``python -m reports``: build, summarise, compare and export devicebench results."""

import sys

from reports.cli import main

if __name__ == "__main__":
    sys.exit(main())
