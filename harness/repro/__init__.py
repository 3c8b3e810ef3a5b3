"""Field-report reproductions: declarative scenario files (TOML) run against an SDK build.

- model.py    the words: field specs, Kind (one fault, action or check), the parsed Step/Expect/Scenario
- kinds.py    every fault, action and check, declared once: fields, doc, and its apply/evaluate function
- steps.py    what each fault and action does (network: harness/net; server: the fake's public hooks)
- expect.py   what each check evaluates: expectations -> checker functions of harness/checks/
- schema.py   the file format: parsing, validation (errors name file, step and field), time scaling
- runner.py   ScenarioRun: starts the rig (harness/rig.py: Toxiproxy, fake, proxy, SDK driver), plays
              the timeline, clears what is in force, evaluates the expectations
- output.py   compact timeline, verdict text, history JSON and timeline picture in an output folder

Import order inside the package (no cycles): model <- steps, expect <- kinds <- schema <- runner <-
output <- cli.

See scenarios/README.md for the user's guide and the format reference.
"""

from harness.repro.schema import Scenario, ScenarioError, load_scenario

__all__ = ["Scenario", "ScenarioError", "load_scenario"]
