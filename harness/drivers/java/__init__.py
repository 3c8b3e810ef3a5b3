"""The Java driver: a Maven project (``pom.xml``, ``src/``) built once per SDK build by the adapter
(harness/sdk/java.py) into the cache and run as ``java -cp driver.jar:lib/* dtconformance.driver.Driver``."""

from pathlib import Path

DRIVER_PROJECT = Path(__file__).parent
MAIN_CLASS = "dtconformance.driver.Driver"
