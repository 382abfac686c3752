"""`python -m service`: the same as the `kata-providers` command."""

import sys

from service.process.cli import main

sys.exit(main())
