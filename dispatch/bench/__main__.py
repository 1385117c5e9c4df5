"""`python -m dispatch.bench`: see dispatch/bench/run.py."""

import sys

from dispatch.bench.run import main

sys.exit(main())
