"""Command line: ``python -m harness <command>``.

  provision-toxiproxy   find or build the Toxiproxy server binary into the cache
  timeline HISTORY.json print a saved history as a timeline (--html OUT.html draws it)
  repro FILE --sdk=python  run a field-report scenario file (scenarios/README.md)
  repro FILE.toml       reproduce a field report from a scenario file (scenarios/README.md)
  check HISTORY.json    re-judge a saved history's verdicts without running anything (--html OUT.html)
  matrix RUN_DIR...     several runs' results.json side by side (--diff BASE_DIR NEW_DIR: the release diff)
  rig TARGET... [ARGS]  run a conformance selection or a field file inside the rig container (Docker)
  docker-clean          remove the containers this harness labelled whose owner process is gone
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.net.toxiproxy_docker import MODES as TOXIPROXY_MODES
from harness.options import add_sdk_options, sdk_choice
from harness.report.matrix_cli import add_matrix_command, run_matrix


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("provision-toxiproxy", help="find or build the Toxiproxy server binary")
    p.add_argument("--toxiproxy-bin", default=None)
    p.add_argument("--cache", default=None)
    t = sub.add_parser("timeline", help="print a saved history as a timeline")
    t.add_argument("history", type=Path)
    t.add_argument("--html", type=Path, default=None,
                   help="draw it instead: an HTML page with an SVG timeline (connections as lanes, RPCs as bars, "
                        "faults as shaded bands)")
    add_repro_command(sub)
    add_matrix_command(sub)
    c = sub.add_parser(
        "check", help="re-judge a saved history's verdicts (no SDK, no Toxiproxy, no network)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Re-judge a saved history with the checks of this checkout, without running anything: a "
                    "conformance test's history (saved by the pytest plugin, --keep-histories) or a field "
                    "report's (written by `python -m harness repro`). Each verdict is printed with its "
                    "evidence, the recorded and the recomputed outcome, and whether they agree.",
        epilog="exit codes:\n  0  every verdict passes, or REPRODUCED (a field file's expected failure "
               "reproduced)\n  1  a verdict fails, or FAIL of an expected failure (another check failed too)\n"
               "  6  FIXED: a field file's expected failure no longer reproduces (as `repro` exits)\n"
               "  3  none of these, but a recomputed verdict differs from the recorded one (the history was "
               "judged by\n     another version of the checks, or edited)\n"
               "  2  the history (or the scenario file it needs) cannot be read; the message names the fix\n"
               "A field history whose file says expected = \"fail\" is judged as `repro` judged it "
               "(harness/repro/runner.py\njudge_outcome, for the SDK the run used): REPRODUCED, FIXED or FAIL, "
               "with the reason.")
    c.add_argument("history", type=Path, metavar="HISTORY.json", help="a saved history (histories/<test>.json, "
                   "<repro out>/history.json)")
    c.add_argument("--scenario", type=Path, default=None, metavar="FILE",
                   help="field-report histories only: the scenario file the run used, when it is not at the "
                        "path the history names")
    c.add_argument("--html", type=Path, default=None, metavar="OUT.html",
                   help="also draw the timeline with the re-judged verdicts into OUT.html")
    args, extra = _parse(parser, sub, argv)
    if args.command in DOCKER_COMMANDS:
        return run_docker_command(args, extra)
    if args.command == "repro":
        args.sdk_choice = sdk_choice(lambda flag: getattr(args, flag.lstrip("-").replace("-", "_")))

    if args.command == "provision-toxiproxy":
        from harness.net.toxiproxy_server import ToxiproxyUnavailable, find_or_build_binary
        from harness.paths import default_cache_dir
        try:
            path = find_or_build_binary(args.toxiproxy_bin, Path(args.cache) if args.cache else default_cache_dir())
        except ToxiproxyUnavailable as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(f"toxiproxy server: {path}")
        return 0
    if args.command == "timeline":
        if args.html:
            from harness.report.timeline import main as timeline_main
            return timeline_main([str(args.history), "--html", str(args.html)])
        from harness.history import History
        print(History.load(args.history).format())
        return 0
    if args.command == "repro":
        from harness.repro.cli import repro
        return repro(args)
    if args.command == "check":
        from harness.recheck import run as recheck_run
        return recheck_run(args.history, scenario=args.scenario, html=args.html)
    if args.command == "matrix":
        return run_matrix(args)
    return 2


# -- Docker: the rig in a container, and the clean-up of labelled containers -------------------------
RIG_IMAGE = "durabletask-conformance/rig:latest"  # built by docker/build.py rig
RIG_WORKDIR = "/opt/conformance"  # the harness checkout inside the image (docker/rig/Dockerfile)


DOCKER_COMMANDS = ("rig", "docker-clean")


def add_repro_command(sub: argparse._SubParsersAction) -> None:
    """`repro FILE...`: its options (the SDK build ones are shared with pytest: harness/options.py)."""
    r = sub.add_parser("repro", help="run a field-report scenario file against an SDK build",
                       description="Run scenario files (see scenarios/README.md). Exit code: 0 PASS, 0 also "
                                   "REPRODUCED (an expected failure reproduced), 1 FAIL or NOT "
                                   "IMPLEMENTED (the build lacks a promised option), 2 invalid file or usage, "
                                   "3 NOT APPLICABLE (an optional feature missing), 4 ERROR (could not run), "
                                   "5 INCONCLUSIVE (the driver cannot observe the build), 6 FIXED (an expected "
                                   "failure no longer reproduces).")
    r.add_argument("files", nargs="*", type=Path, metavar="FILE")
    add_sdk_options(r.add_argument)
    r.add_argument("--out", type=Path, default=None,
                   help="output folder (one FILE) or parent folder (several); default histories/repro/<name>--<sdk>--<time>")
    r.add_argument("--scale", type=float, default=None, help="override the file's scale (1 = field time)")
    r.add_argument("--timing-tolerance", type=float, default=None,
                   help="the machine-latency tolerance added (unscaled) to each bound (default: "
                        "harness/checks/windows.py DEFAULT_TOLERANCE_S); a scale at which it exceeds half a "
                        "window is refused")
    r.add_argument("--toxiproxy", default="auto", choices=TOXIPROXY_MODES,
                   help="how to run Toxiproxy: auto (a binary already there, else Docker, else build it), "
                        "binary, docker (the official image on the host's loopback)")
    r.add_argument("--toxiproxy-url", default=None)
    r.add_argument("--toxiproxy-bin", default=None)
    r.add_argument("--conformance-cache", default=None)
    r.add_argument("--validate", action="store_true", help="only validate the files; start nothing")
    r.add_argument("--vocabulary", action="store_true", help="print every fault, action and check with its fields")
    r.add_argument("--quiet", action="store_true", help="no live step lines")
    r.add_argument("--sdk-patch", metavar="FILE", action="append", default=[],
                   help="(for the suite's own tests) exec FILE in the driver process to build a deliberately "
                        "broken SDK variant (harness/drivers/python/mutants/); repeatable; the verdict says the "
                        "build was patched")


def _parse(parser: argparse.ArgumentParser, sub: argparse._SubParsersAction,
           argv: list[str] | None) -> tuple[argparse.Namespace, list[str]]:
    """Add the Docker commands, then parse: the known arguments and the rest, which only ``rig``
    takes (pytest's or repro's arguments, passed on into the container)."""
    add_docker_commands(sub)
    args, extra = parser.parse_known_args(argv)
    if extra and args.command != "rig":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return args, extra


def add_docker_commands(sub: argparse._SubParsersAction) -> None:
    g = sub.add_parser(
        "rig", help="run a conformance selection or a field file inside the rig container (Docker)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run the whole rig (Toxiproxy, the fake, the harness, the SDK driver) in one Linux container "
                    "with NET_ADMIN, so every fault (iptables on one connection, ss -K, the RST sniffer) runs as "
                    "on a Linux CI machine, also from macOS or Windows (Docker Desktop). TARGETs are pytest "
                    "selections inside the image (conformance/test_tcp_reset.py, conformance -k reset) or field "
                    "files (*.toml; a file on this machine is mounted in); every other argument goes to pytest "
                    "or to `python -m harness repro` unchanged (--sdk=python, -k, -n 2, --strict ...). Histories, "
                    "the report and pictures are written to --out on this machine. Exit code: the inner command's.",
        epilog="examples:\n  python -m harness rig conformance/test_tcp_reset.py --sdk=python\n"
               "  python -m harness rig scenarios/field/aca_stream_timeout.toml --sdk=python\n"
               "  python -m harness rig conformance --sdk=python --sdk-path=../durabletask-python --network=bridge\n"
               "The image: python docker/build.py rig (docker/rig/Dockerfile); --sdk=python tests the SDK baked "
               "into it.")
    g.add_argument("targets", nargs="+", metavar="TARGET")
    g.add_argument("--image", default=RIG_IMAGE, help="the rig image (default %(default)s)")
    g.add_argument("--out", type=Path, default=None,
                   help="folder on this machine for histories, report, junit.xml, pictures "
                        "(default histories/rig/<time>)")
    g.add_argument("--network", default="none",
                   help="the container's network (default 'none': loopback only, nothing leaves it; 'bridge' "
                        "when the SDK build must be installed from its registry inside, e.g. --sdk-version)")
    d = sub.add_parser("docker-clean", help="remove containers this harness labelled whose owner process is gone")
    d.add_argument("--all", action="store_true", help="remove every labelled container, running owners too")


def run_docker_command(args: argparse.Namespace, extra: list[str]) -> int:
    from harness.net.toxiproxy_docker import DockerUnavailable, engine, remove_orphans
    try:
        client = engine()
        if args.command == "docker-clean":
            removed = remove_orphans(client, everything=args.all)
            print(f"removed {len(removed)} container(s)" + (f": {' '.join(removed)}" if removed else ""))
            return 0
        return _run_rig(client, args, extra)
    except DockerUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _rig_invocation(targets: list[str], extra: list[str]) -> tuple[list[str], dict[str, dict[str, str]]]:
    """The command run inside the rig container and the host paths it needs mounted: field files
    that exist here, and an --sdk-path checkout (read-write: pip builds in the source tree)."""
    import os
    mounts: dict[str, dict[str, str]] = {}
    inner_targets = []
    for i, t in enumerate(targets):
        if t.endswith(".toml") and Path(t).is_file():
            inner = f"/in/{i}/{Path(t).name}"
            mounts[str(Path(t).resolve())] = {"bind": inner, "mode": "ro"}
            t = inner
        inner_targets.append(t)
    inner_extra = []
    for a in extra:
        if a.startswith("--sdk-path="):
            mounts[os.path.abspath(a.split("=", 1)[1])] = {"bind": "/sdk-src", "mode": "rw"}
            a = "--sdk-path=/sdk-src"
        inner_extra.append(a)
    if all(t.endswith(".toml") for t in inner_targets):
        cmd = ["python", "-m", "harness", "repro", *inner_targets, "--out", "/out", *inner_extra]
    else:
        cmd = ["python", "-m", "pytest", *inner_targets, "-p", "no:cacheprovider", "--toxiproxy=binary",
               "--history-dir=/out/histories", "--conformance-report=/out/report", "--junitxml=/out/junit.xml",
               *inner_extra]
    return cmd, mounts


def _run_rig(client: object, args: argparse.Namespace, extra: list[str]) -> int:
    import os
    import shlex
    import time

    from harness.net.toxiproxy_docker import DockerUnavailable, forget, run_labelled
    if any(t.endswith(".toml") for t in args.targets) and not all(t.endswith(".toml") for t in args.targets):
        print("error: give either field files (*.toml) or pytest selections, not both", file=sys.stderr)
        return 2
    import docker.errors
    try:
        client.images.get(args.image)  # type: ignore[attr-defined]
    except docker.errors.ImageNotFound:
        raise DockerUnavailable(f"no rig image {args.image} on this engine: build it with `python docker/build.py "
                                "rig` (a checkout of this harness), or pass --image") from None
    out = (args.out or Path("histories") / "rig" / time.strftime("%Y%m%d-%H%M%S")).resolve()
    out.mkdir(parents=True, exist_ok=True)
    cmd, mounts = _rig_invocation(args.targets, extra)
    mounts[str(out)] = {"bind": "/out", "mode": "rw"}
    # Root inside (iptables needs it); hand the outputs back to whoever runs this.
    script = f"{shlex.join(cmd)}; rc=$?; chown -R {os.getuid()}:{os.getgid()} /out; exit $rc"
    print(f"rig: {args.image}: {shlex.join(cmd)}\nrig: output {out}/", flush=True)
    container = run_labelled(client, args.image, role="rig", name=f"dt-rig-{os.getpid()}-{int(time.time())}",
                             command=["sh", "-c", script], working_dir=RIG_WORKDIR, volumes=mounts,
                             network_mode=args.network, cap_add=["NET_ADMIN", "NET_RAW"])
    try:
        for chunk in container.logs(stream=True, follow=True):
            sys.stdout.write(chunk.decode(errors="replace"))
            sys.stdout.flush()
        return int(container.wait().get("StatusCode", 4))
    finally:  # also on Ctrl-C: the container goes with us
        container.remove(force=True)
        forget(container)


if __name__ == "__main__":
    sys.exit(main())
