"""``python -m xai_bench.datasets prepare|check`` (the DVC stage ``prepare_data``)."""

import sys

from .prepare import main

sys.exit(main())
