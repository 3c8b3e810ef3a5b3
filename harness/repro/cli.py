"""``python -m harness repro FILE [--sdk=NAME [--sdk-version X | --sdk-path DIR]] [--sdk-patch F]... [--out DIR]``.

Without --sdk each file runs against the SDK its report is about (its ``sdk``) when that SDK has a
driver, else against the reference build (python), and the verdict says which and why (runner.pick_sdk).
``--sdk-patch FILE`` (repeatable) loads a deliberately broken variant into the driver
(harness/drivers/python/mutants/), to show that a file catches the defect it is about; the verdict, its
verdict.txt and the history (meta ``sdk_patches``) then say "SDK patched: ...", as the conformance gate does.
Exit codes: runner.EXIT_CODES (0 PASS or REPRODUCED, 1 FAIL or NOT IMPLEMENTED, 3 NOT APPLICABLE,
4 ERROR, 5 INCONCLUSIVE, 6 FIXED), 2 an invalid file or usage."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from harness.repro.schema import ScenarioError, load_scenario, vocabulary


def repro(args: Any) -> int:
    if args.vocabulary:
        print(vocabulary())
        return 0
    if not args.files:
        print("error: give at least one scenario FILE (e.g. scenarios/field/*.toml)", file=sys.stderr)
        return 2
    # 1. Every file is valid before anything is started, its scale included: a scale at which the run's
    # (unscaled) timing tolerance would swamp a window is refused (schema.check_tolerance).
    from harness.checks.windows import DEFAULT_TOLERANCE_S
    tol = DEFAULT_TOLERANCE_S if args.timing_tolerance is None else args.timing_tolerance
    scenarios, bad = [], False
    for f in args.files:
        try:
            scenarios.append(load_scenario(f, scale=args.scale, tolerance=tol))
        except ScenarioError as exc:
            print(str(exc), file=sys.stderr)
            bad = True
    if bad:
        return 2
    if args.validate:
        for sc in scenarios:
            print(f"{sc.path}: valid ({len(sc.steps)} steps, {len(sc.expects)} expectations, scale {sc.scale:g}, "
                  f"runs {sc.duration:.2f}s)")
        return 0
    patches = _patch_files(args.sdk_patch)
    if patches is None:
        return 2
    # 2. The SDK build of each file: --sdk, else the SDK its report is about (else the reference build).
    from harness.paths import default_cache_dir
    cache = Path(args.conformance_cache) if args.conformance_cache else default_cache_dir()
    picked = _builds(scenarios, args.sdk_choice, cache)
    if isinstance(picked, int):
        return picked
    runs, builds = picked
    if patches and not _loads_patches(builds, patches):
        return 2
    patched = patched_text(patches)
    # 3. Run them, one after the other.
    from harness.repro.output import default_out_dir
    from harness.repro.runner import ScenarioRun
    codes, results = [], []
    for sc, pick in runs:
        print(f"\n=== {sc.path}: {sc.title}\n    against {builds[pick.sdk].label}: {pick.note}\n"
              + (f"    {patched}\n" if patches else "")
              + f"    at scale {sc.scale:g}: {sc.duration:.2f}s of run time = "
              f"{sc.duration / sc.scale:g}s of field time", flush=True)
        echo = None if args.quiet else (lambda s: print("    " + s, flush=True))
        if args.out is not None and len(scenarios) == 1:
            folder = args.out
        else:
            folder = None
        # The note is shown on the verdict's SDK line and kept in the history: a patched build's verdict
        # must never read as the release's.
        note = f"{pick.note}; {patched}" if patches else pick.note
        run = ScenarioRun(sc, sdk=builds[pick.sdk], sdk_note=note, toxiproxy_url=args.toxiproxy_url,
                          toxiproxy_bin=args.toxiproxy_bin, toxiproxy_mode=args.toxiproxy, cache_dir=cache, tolerance=tol, echo=echo,
                          log_dir=(folder / "logs") if folder else None, patches=patches)
        out = run.run()
        if out.history is not None:
            out.history.meta["sdk_patches"] = [Path(p).name for p in patches]
        _save_and_show(out, folder or default_out_dir(args.out or Path("histories") / "repro", out), patches)
        codes.append(out.exit_code)
        results.append(f"{sc.name}: {out.verdict} against {builds[pick.sdk].label}"
                       + (" (patched)" if patches else "") + f" (exit {out.exit_code})")
    if len(scenarios) > 1:
        print("\nsummary:\n  " + "\n  ".join(results))
    return max(codes) if any(codes) else 0


def _save_and_show(out: Any, folder: Path, patches: list[str]) -> None:
    """Write the run's outputs into ``folder`` and print its timeline, verdict and files."""
    from harness.repro.output import compact_timeline, verdict_text, write_outputs
    files = write_outputs(out, folder)
    if out.history is not None:
        print(compact_timeline(out.history, out.scenario.scale, limit=60))
    print()
    print(verdict_text(out))
    if patches:
        print(patched_text(patches))
    print(f"output: {folder}/")
    for k, p in files.items():
        print(f"  {k:14} {p}")
    if "timeline" not in files:
        print("  (no timeline picture: harness/report/timeline/ is not available; the history JSON has it all)")


def _builds(scenarios: list[Any], choice: Any, cache: Path) -> tuple[list[tuple[Any, Any]], dict[str, Any]] | int:
    """Each file with the SDK it runs against (runner.pick_sdk) and the builds resolved for them (each
    once), or the exit code after printing why not: 2 for usage, 4 when a build is not available."""
    from harness.repro.runner import pick_sdk
    from harness.sdk import BuildChoice, SdkUnavailable, SdkUsageError, resolve, validate_choice
    builds: dict[str, Any] = {}
    runs = []
    try:
        validate_choice(choice)  # e.g. --sdk-version without --sdk
        for sc in scenarios:
            pick = pick_sdk(sc, choice.sdk)
            if pick.sdk not in builds:
                builds[pick.sdk] = resolve(choice if choice.sdk else BuildChoice(pick.sdk), cache)
                print(f"SDK under test: {builds[pick.sdk].header()}")
            runs.append((sc, pick))
    except (SdkUsageError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except SdkUnavailable as exc:
        print(f"error: SDK not available: {exc}", file=sys.stderr)
        return 4
    return runs, builds


def patched_text(patches: list[str]) -> str:
    """The line a patched run's verdict carries (the conformance gate's words: harness/report/gate.py)."""
    names = ", ".join(Path(p).name for p in patches) or "none"
    return f"SDK patched: {names}" + (" (a deliberately broken variant, not the release)" if patches else "")


def _patch_files(given: list[Any]) -> list[str] | None:
    """--sdk-patch as absolute paths (the driver runs in another folder), or None after saying which is
    not there."""
    patches = [str(Path(p).resolve()) for p in given]
    missing = [p for p in patches if not Path(p).is_file()]
    if missing:
        print(f"error: --sdk-patch {', '.join(missing)}: no such file (the broken variants are in "
              "harness/drivers/python/mutants/)", file=sys.stderr)
        return None
    return patches


def _loads_patches(builds: dict[str, Any], patches: list[str]) -> bool:
    """Whether every build's driver can load ``patches`` (SdkBuild.command); if not, says so."""
    from harness.sdk import SdkUsageError
    for build in builds.values():
        try:
            build.command(patches)
        except SdkUsageError as exc:
            print(f"error: {exc}; run the file against a build whose driver loads patches (--sdk=python)",
                  file=sys.stderr)
            return False
    return True
