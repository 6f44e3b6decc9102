"""python -m pipelines.report --quarter 2025Q4 [--warehouse PATH] [--out DIR] [--force]"""

import sys

from pipelines.report.render import main

sys.exit(main())
