"""Field-report reproductions: declarative scenario files (TOML) run against an SDK build.

- schema.py   the file format: parsing, validation (errors name file, step and field), time scaling
- sidecar.py  the fake sidecar plus the few server behaviours a field report needs on top of it
- runner.py   ScenarioRun: starts Toxiproxy, the fake, the proxy and the SDK driver, plays the timeline
- expect.py   expectations -> checker functions of harness/checks/ (one vocabulary with the suite)
- output.py   compact timeline, verdict text, history JSON and timeline picture in an output folder

See scenarios/README.md for the user's guide and the format reference.
"""

from harness.repro.schema import Scenario, ScenarioError, load_scenario

__all__ = ["Scenario", "ScenarioError", "load_scenario"]
