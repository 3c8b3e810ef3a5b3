"""Root conftest. The plugin itself is registered through the pytest11 entry point
(pyproject.toml), so the same plugin runs here and in an SDK repo that pip-installed us.
This file only keeps pytest away from folders that hold no tests."""

collect_ignore = ["fakes", "harness", "bin", "scripts", "docs", "histories"]
