"""``python -m harness repro FILE --sdk=python [--sdk-version X | --sdk-path DIR] [--out DIR]``."""

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
    # 2. The SDK build.
    from harness.paths import default_cache_dir
    from harness.sdk import ADAPTERS, SdkUnavailable, SdkUsageError, resolve
    choice = args.sdk_choice
    if choice.sdk is None:
        print(f"error: --sdk is required; available: {', '.join(ADAPTERS)}", file=sys.stderr)
        return 2
    cache = Path(args.conformance_cache) if args.conformance_cache else default_cache_dir()
    try:
        build = resolve(choice, cache)
    except SdkUsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except SdkUnavailable as exc:
        print(f"error: SDK not available: {exc}", file=sys.stderr)
        return 4
    print(f"SDK under test: {build.header()}")
    # 3. Run them, one after the other.
    from harness.repro.output import compact_timeline, default_out_dir, verdict_text, write_outputs
    from harness.repro.runner import ScenarioRun
    codes = []
    for sc in scenarios:
        print(f"\n=== {sc.path}: {sc.title}\n    at scale {sc.scale:g}: {sc.duration:.2f}s of run time = "
              f"{sc.duration / sc.scale:g}s of field time", flush=True)
        echo = None if args.quiet else (lambda s: print("    " + s, flush=True))
        if args.out is not None and len(scenarios) == 1:
            folder = args.out
        else:
            folder = None
        run = ScenarioRun(sc, sdk=build, toxiproxy_url=args.toxiproxy_url,
                          toxiproxy_bin=args.toxiproxy_bin, toxiproxy_mode=args.toxiproxy, cache_dir=cache, tolerance=tol, echo=echo,
                          log_dir=(folder / "logs") if folder else None)
        out = run.run()
        if folder is None:
            folder = default_out_dir(args.out or Path("histories") / "repro", out)
        files = write_outputs(out, folder)
        if out.history is not None:
            print(compact_timeline(out.history, sc.scale, limit=60))
        print()
        print(verdict_text(out))
        print(f"output: {folder}/")
        for k, p in files.items():
            print(f"  {k:14} {p}")
        if "timeline" not in files:
            print("  (no timeline picture: harness/report/timeline/ is not available; the history JSON has it all)")
        codes.append(out.exit_code)
    if len(scenarios) > 1:
        print("\nsummary: " + ", ".join(f"{sc.name}={c}" for sc, c in zip(scenarios, codes, strict=True)))
    return max(codes) if any(codes) else 0
