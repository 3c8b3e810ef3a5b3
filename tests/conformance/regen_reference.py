"""Print the verdicts of an unpatched release on the whole suite, as JSON for
tests/conformance/reference_verdicts.json:  python -m tests.conformance.regen_reference 1.12.0"""

import json
import sys
import tempfile
from pathlib import Path

from tests.conformance.test_broken_variants import run_suite

if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as d:
        code, _out, verdicts, _ = run_suite(Path(d), "conformance", sdk_version=sys.argv[1])
    print(json.dumps(dict(sorted(verdicts.items())), indent=1))
