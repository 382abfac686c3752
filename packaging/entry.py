"""The frozen daemon's entry point: `kata-providers`, as the wheel's console script."""

import multiprocessing
import sys

from service.process.cli import main

if __name__ == "__main__":
    multiprocessing.freeze_support()
    sys.exit(main())
