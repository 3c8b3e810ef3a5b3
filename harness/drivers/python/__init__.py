"""The Python driver: ``driver.py`` runs in the SDK's own interpreter (it imports only the standard
library and durabletask); ``mutants/`` holds deliberately broken SDK variants it can load with
``--patch`` for the suite's own tests."""

from pathlib import Path

DRIVER_SCRIPT = Path(__file__).parent / "driver.py"
MUTANTS_DIR = Path(__file__).parent / "mutants"
