"""The Java SDKs: ``com.microsoft:durabletask-client`` (``--sdk=java``) and the Dapr fork
``io.dapr:durabletask-client`` (``--sdk=dapr-java``) from Maven Central, and the JVM that runs their
driver (harness/drivers/java/).

A build is the driver compiled against one SDK release: ``mvn -q -B package`` once into
``<cache>/drivers/java-<group>.<artifact>-<version>-<hash of the driver's source>``, reused while the
source is unchanged. The two SDKs are the same code under two Java packages (``com.microsoft.durabletask``
and ``io.dapr.durabletask``, whose orchestration factory lives in ``.orchestration``), so the driver's
source is written against the Microsoft package and its imports are renamed for the Dapr build.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from harness.drivers.java import DRIVER_PROJECT, MAIN_CLASS
from harness.sdk.base import BuildChoice, BuildOption, DriverCommand, SdkBuild, SdkUnavailable
from harness.sdk.cache_lock import locked, tail

MVN_TIMEOUT_S = 900.0
# A small heap, one GC thread and C1 only: the driver is a thin shell around the SDK, and the machine
# running the suite is small; none of these changes what the SDK does.
JVM_OPTIONS = ("-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xmx256m")
_INSTALL_HINT = "install a JDK (17+) and Maven 3.8+, e.g. `apt-get install openjdk-17-jdk-headless maven`"


@dataclass(frozen=True)
class JavaFlavour:
    """One Java SDK family on Maven Central."""

    sdk: str  # the --sdk value
    group: str
    artifact: str
    default_version: str
    package: str  # the SDK's Java package
    schema: str  # the wire schema it speaks (fakes/schemas.py)

    @property
    def coordinates(self) -> str:
        return f"{self.group}:{self.artifact}"


MICROSOFT = JavaFlavour("java", "com.microsoft", "durabletask-client", "1.5.0", "com.microsoft.durabletask",
                        "microsoft")
# io.dapr 1.17.1's vendored proto keeps microsoft's method names and WorkItem cases (healthPing = 4 included)
# but writes ScheduleTaskAction 4 = TaskRouter router and 5 = string taskExecutionId, the dapr fork's fields.
DAPR = JavaFlavour("dapr-java", "io.dapr", "durabletask-client", "1.17.1", "io.dapr.durabletask", "dapr")


def _source_files() -> list[Path]:
    return sorted([DRIVER_PROJECT / "pom.xml", *(DRIVER_PROJECT / "src").rglob("*.java")])


def _source_for(flavour: JavaFlavour, text: str) -> str:
    """The driver source for ``flavour``: written for the Microsoft package, imports renamed for Dapr's."""
    if flavour.package == MICROSOFT.package:
        return text
    text = text.replace(f"import {MICROSOFT.package}.TaskOrchestrationFactory;",
                        f"import {flavour.package}.orchestration.TaskOrchestrationFactory;")
    return re.sub(rf"^import {re.escape(MICROSOFT.package)}\.", f"import {flavour.package}.", text, flags=re.M)


def source_hash(flavour: JavaFlavour) -> str:
    h = hashlib.sha256(flavour.package.encode())
    for p in _source_files():
        h.update(str(p.relative_to(DRIVER_PROJECT)).encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()[:12]


def build_dir(flavour: JavaFlavour, version: str, cache_dir: Path) -> Path:
    return Path(cache_dir) / "drivers" / f"java-{flavour.group}.{flavour.artifact}-{version}-{source_hash(flavour)}"


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise SdkUnavailable(f"`{name}` is not on PATH: the Java driver needs it to build and run. Fix: {_INSTALL_HINT}.")
    return path


def _built(out: Path) -> bool:
    return (out / "driver.jar").is_file() and any((out / "lib").glob("*.jar"))


def build_driver(flavour: JavaFlavour, version: str, cache_dir: Path) -> Path:
    """The driver built against ``flavour`` ``version`` (cached); SdkUnavailable with Maven's reason if not."""
    final = build_dir(flavour, version, cache_dir)
    with locked(final.parent / f".{final.name}.lock"):
        if _built(final):
            return final
        shutil.rmtree(final, ignore_errors=True)  # a broken leftover, e.g. from a killed run
        # Build aside and rename, so that no other process ever sees a half-built driver.
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{final.name}-", dir=final.parent))
        try:
            project = tmp / "project"
            for src in _source_files():
                dst = project / src.relative_to(DRIVER_PROJECT)
                dst.parent.mkdir(parents=True, exist_ok=True)
                dst.write_text(_source_for(flavour, src.read_text()))
            _mvn(project, flavour, version)
            out = tmp / "out"
            out.mkdir()
            os.replace(project / "target" / "driver.jar", out / "driver.jar")
            os.replace(project / "target" / "lib", out / "lib")
            os.replace(out, final)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def _mvn(project: Path, flavour: JavaFlavour, version: str) -> None:
    cmd = [_tool("mvn"), "-q", "-B", "package", f"-Dsdk.groupId={flavour.group}",
           f"-Dsdk.artifactId={flavour.artifact}", f"-Dsdk.version={version}"]
    try:
        res = subprocess.run(cmd, cwd=project, capture_output=True, text=True, timeout=MVN_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        raise SdkUnavailable(f"building the Java driver for {flavour.coordinates}:{version} took longer than "
                             f"{MVN_TIMEOUT_S:.0f}s") from exc
    if res.returncode != 0:
        out = tail(res.stdout + "\n" + res.stderr, 30)
        hint = (f"Is {flavour.coordinates}:{version} published on Maven Central (or installed in ~/.m2)?"
                if "Could not resolve dependencies" in out or "could not be resolved" in out else "")
        raise SdkUnavailable(f"Maven could not build the Java driver for {flavour.coordinates}:{version}. "
                             f"{hint}\n{out}")


def resolve_java_sdk(flavour: JavaFlavour, *, version: str | None, path: str | None, cache_dir: Path) -> SdkBuild:
    if path:
        raise SdkUnavailable(
            f"--sdk-path is not supported for --sdk={flavour.sdk} yet. Fix: publish the checkout to the local "
            "Maven repository (`./gradlew publishToMavenLocal`, or `mvn install`) and pass its version with "
            "--sdk-version.")
    version = version or flavour.default_version
    java = _tool("java")
    out = build_driver(flavour, version, Path(cache_dir))
    argv = (java, *JVM_OPTIONS, "-cp", f"{out / 'driver.jar'}{os.pathsep}{out / 'lib'}/*", MAIN_CLASS)
    return SdkBuild(flavour.sdk, "java", version, f"maven:{flavour.coordinates}:{version}", DriverCommand(argv),
                    runtime=f"java {java}", schema=flavour.schema)


class JavaAdapter:
    """``--sdk=java`` (com.microsoft:durabletask-client) or ``--sdk=dapr-java`` (io.dapr:durabletask-client)."""

    language = "java"
    build_options: tuple[BuildOption, ...] = ()

    def __init__(self, flavour: JavaFlavour) -> None:
        self.flavour = flavour
        self.name = flavour.sdk
        self.registry = f"Maven Central {flavour.coordinates}, default {flavour.default_version}"

    def resolve(self, choice: BuildChoice, cache_dir: Path) -> SdkBuild:
        return resolve_java_sdk(self.flavour, version=choice.version, path=choice.path, cache_dir=cache_dir)



