"""``python -m harness.report.timeline HISTORY.json [--html OUT.html] [--title T]``."""

import sys

from harness.report.timeline.cli import main

sys.exit(main())
