"""Mutant: a replaced client channel is closed at once instead of after a grace period.

Expected to FAIL CLI-RECREATE-007 (RETIRE-1: calls in flight on the old channel finish on it): a
long poll in flight is cancelled by the recreation. How: the module-level grace
``_RETIRED_CHANNEL_CLOSE_DELAY_SECONDS`` (read at call time by both clients) is set to 0.
"""

import durabletask.client as _c

_c._RETIRED_CHANNEL_CLOSE_DELAY_SECONDS = 0.0
