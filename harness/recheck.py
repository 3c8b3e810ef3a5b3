"""Re-judge a saved history without running anything: ``python -m harness check HISTORY.json``.

Owns: reading a history attached to a bug report, recomputing its verdicts with the checks of this
checkout, comparing each with the verdict recorded in the file, the text and exit code of the
``check`` command, and its ``--html`` picture. No SDK, Toxiproxy or network is involved.

Two kinds of history are understood:

- a conformance test's (saved by the pytest plugin): ``meta["verdicts"]`` is a list of
  ``Verdict.to_json()``. A verdict that carries ``call`` (recorded by ``harness.checks.verdict.check``)
  is recomputed by calling that check again on the events the history held when it first ran; one
  without is shown as "not re-checkable" with its recorded outcome.
- a field-report scenario's (harness/repro/runner.py): meta names the scenario file, the scale and the
  tolerance; the file's expectations are evaluated again (``harness.repro.expect.evaluate``), so the
  file must be at the path the history names or be given with ``--scenario FILE``.

A field-report history whose file declares ``expected = "fail"`` (meta ``expected_failure``) is judged
as the run judged it (``harness.repro.runner.judge_outcome`` on the re-judged verdicts, for the SDK the
run used, meta ``sdk_under_test``): its stated checks are meant to fail, so a run that failed exactly as
stated is REPRODUCED, not FAIL.

Exit codes: 0 every verdict passes (or REPRODUCED: an expected failure reproduced); 1 a verdict fails
(or FAIL of an expected failure: another check failed too, or a stated one was not evaluated;
disagreements are still listed); 6 FIXED (an expected failure's stated checks pass now: the same code as
``python -m harness repro``); 3 none of these, but a recomputed verdict differs from the recorded one
(the history was judged by another version of the checks, or was edited); 2 the input cannot be read or
judged (the message names the fix).

May import: harness.history, harness.checks, harness.repro; harness.report.timeline lazily (--html).
"""

from __future__ import annotations

import importlib
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.checks.verdict import RECORDED_CHECKS, CallCodecError, Verdict, decode_arg
from harness.history import History

EXIT_PASS, EXIT_FAIL, EXIT_INVALID, EXIT_DISAGREE = 0, 1, 2, 3
# The verdicts of an expected failure and FIXED's exit code, as harness.repro.runner has them (a test keeps
# them equal); copied, not imported, because the runner pulls in the whole rig and this command runs nothing.
PASS, REPRODUCED, FIXED = "PASS", "REPRODUCED", "FIXED"
EXIT_FIXED = 6
PROJECT_ROOT = Path(__file__).resolve().parents[1]  # scenario paths in histories are relative to it
_CHECK_MODULE = re.compile(r"harness\.checks(\.[A-Za-z_][A-Za-z0-9_]*)+")

AGREES = "agrees"
DIFFERS = "DISAGREES"
NOT_RECHECKABLE = "not re-checkable"
RERUN_FAILED = "could not be re-run"
NEW = "not in the record"
MISSING = "not recomputed"


class InvalidInput(Exception):
    """The history (or the scenario file it needs) cannot be read or judged; the message says why and
    what to do."""


class RerunError(Exception):
    """A recorded call that this version of the checks cannot run again."""


@dataclass
class Rejudged:
    """One verdict: as recorded in the history, and as recomputed now (None when it could not be)."""

    recorded: Verdict | None
    now: Verdict | None
    status: str
    note: str = ""  # why there is no recomputed verdict, or what differs
    differences: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> Verdict:
        """The verdict that counts: the recomputed one, else the recorded one."""
        v = self.now if self.now is not None else self.recorded
        assert v is not None
        return v

    @property
    def disagrees(self) -> bool:
        return self.status in (DIFFERS, RERUN_FAILED, NEW, MISSING)


@dataclass
class Recheck:
    """The re-judgment of one history."""

    history: History
    kind: str  # "conformance test" | "field-report scenario"
    items: list[Rejudged]
    header: list[str] = field(default_factory=list)
    # (verdict, reason) of runner.judge_outcome when the file declares an expected failure: REPRODUCED,
    # FIXED or FAIL (PASS when it is declared for other SDKs only); None: each verdict counts on its own.
    outcome: tuple[str, str] | None = None

    @property
    def exit_code(self) -> int:
        if self.outcome is not None:
            verdict = self.outcome[0]
            if verdict == FIXED:
                return EXIT_FIXED
            if verdict not in (PASS, REPRODUCED):
                return EXIT_FAIL
        elif any(not it.verdict.ok for it in self.items):
            return EXIT_FAIL
        return EXIT_DISAGREE if any(it.disagrees for it in self.items) else EXIT_PASS

    @property
    def result(self) -> str:
        if self.exit_code in (EXIT_PASS, EXIT_FAIL, EXIT_FIXED) and self.outcome is not None:
            return self.outcome[0]
        return {EXIT_PASS: "PASS", EXIT_FAIL: "FAIL", EXIT_DISAGREE: "DISAGREES"}[self.exit_code]

    def summary(self) -> str:
        its = self.items
        passed = sum(1 for it in its if it.now is not None and it.now.ok)
        failed = sum(1 for it in its if it.now is not None and not it.now.ok)
        parts = [f"{passed} PASS", f"{failed} FAIL"]
        unchecked = [it for it in its if it.now is None]
        if unchecked:
            recorded_fail = sum(1 for it in unchecked if not it.verdict.ok)
            parts.append(f"{len(unchecked)} not re-judged (recorded: {len(unchecked) - recorded_fail} PASS, "
                         f"{recorded_fail} FAIL)")
        line = f"RE-JUDGED {self.result}: {len(its)} verdict(s), " + ", ".join(parts)
        bad = sum(1 for it in its if it.disagrees)
        if bad:
            line += (f"; {bad} disagree(s) with the recorded verdict (judged by another version of the "
                     "checks, or the history was edited)")
        if self.outcome is not None and self.outcome[1]:
            line += f"\n{self.outcome[1]}"
        return line

    def text(self) -> str:
        blocks = ["\n".join(self.header)] if self.header else []
        blocks += [_explain_item(it, self.history) for it in self.items]
        blocks.append(self.summary())
        return "\n\n".join(blocks)


# -- reading ---------------------------------------------------------------------------------------
def load_history(path: Path) -> History:
    """``History.load`` with every failure turned into an InvalidInput that names the fix."""
    path = Path(path)
    where = ("the pytest plugin saves them under --history-dir (keep passing tests' with --keep-histories); "
             "`python -m harness repro` writes <out>/history.json")
    if not path.exists():
        raise InvalidInput(f"{path}: no such file. Give the path of a saved history JSON ({where}).")
    if path.is_dir():
        hint = " (it holds a history.json: give that)" if (path / "history.json").is_file() else ""
        raise InvalidInput(f"{path} is a folder{hint}. Give the path of a saved history JSON ({where}).")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot read it ({exc.strerror or exc}); check its permissions.") from exc
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise InvalidInput(f"{path} is not valid JSON ({exc}). A history is the JSON file the plugin or "
                           "`python -m harness repro` saved; attach the original file (this one may be "
                           "truncated or edited).") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("events"), list):
        raise InvalidInput(f"{path} is JSON but not a history (no \"events\" list). Give the history.json "
                           f"saved with the failure ({where}).")
    if not isinstance(raw.get("meta", {}), dict):
        raise InvalidInput(f"{path}: its \"meta\" is not an object; the file is not a saved history.")
    try:
        return History.load(path)
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInput(f"{path}: an event is malformed ({type(exc).__name__}: {exc}); every event needs "
                           "seq, t, source, kind. Attach the original file.") from exc


def _recorded_verdicts(history: History, path: Path) -> list[Verdict]:
    raw = history.meta.get("verdicts")
    if raw is None:
        raise InvalidInput(f"{path} records no verdicts (meta.verdicts): it was saved by a version of the "
                           "harness that did not store them, or by something else. Re-run the test with "
                           "--keep-histories to get one that does; `python -m harness timeline "
                           f"{path}` still shows its events.")
    if not isinstance(raw, list):
        raise InvalidInput(f"{path}: meta.verdicts is not a list; the file was edited or is not a history.")
    out = []
    for i, data in enumerate(raw):
        problem = _verdict_problem(data)
        if problem:
            raise InvalidInput(f"{path}: meta.verdicts[{i}] is not a verdict ({problem}); the file was edited "
                               "or written by something else. Attach the original history.")
        out.append(Verdict.from_json(data))
    return out


def _verdict_problem(data: Any) -> str:
    if not isinstance(data, dict):
        return f"a {type(data).__name__}, not an object"
    expected = {"check": str, "ok": bool, "summary": str, "measured": dict, "evidence": list}
    missing = [k for k in ("check", "ok", "summary") if k not in data]
    if missing:
        return "no " + ", ".join(missing)
    wrong = [k for k, t in expected.items() if k in data and not isinstance(data[k], t)]
    if wrong or not all(isinstance(s, int) for s in data.get("evidence", [])):
        return "wrong type of " + ", ".join(wrong or ["evidence"])
    return ""


# -- re-running one recorded call ------------------------------------------------------------------
def rerun(call: Any, history: History) -> Verdict:
    """Recompute a verdict from its recorded ``call`` on ``history``. Only checks decorated with
    ``harness.checks.verdict.check`` can be named, so a crafted file cannot run anything else."""
    if not isinstance(call, dict) or not isinstance(call.get("fn"), str) \
            or not isinstance(call.get("kwargs", {}), dict):
        raise RerunError(f"malformed recorded call {call!r}")
    fn_name = call["fn"]
    module = fn_name.partition(":")[0]
    if not _CHECK_MODULE.fullmatch(module):
        raise RerunError(f"{fn_name} is not a check of harness.checks")
    try:
        importlib.import_module(module)
    except ImportError as exc:
        raise RerunError(f"this version of the checks has no module {module}") from exc
    fn = RECORDED_CHECKS.get(fn_name)
    if fn is None:
        raise RerunError(f"this version of the checks has no check {fn_name}")
    try:
        kwargs = {k: decode_arg(v) for k, v in call.get("kwargs", {}).items()}
    except CallCodecError as exc:
        raise RerunError(f"cannot decode its arguments: {exc}") from exc
    seen = _prefix(history, call.get("history_len"))
    try:
        result = fn(seen, **kwargs)
    except Exception as exc:  # a changed signature, or a check that breaks on this record
        raise RerunError(f"{fn_name} raised {type(exc).__name__}: {exc}") from exc
    if isinstance(result, list):
        index = call.get("index", 0)
        if not isinstance(index, int) or not 0 <= index < len(result):
            raise RerunError(f"{fn_name} returned {len(result)} verdict(s); the recorded one was #{index}")
        result = result[index]
    if not isinstance(result, Verdict):
        raise RerunError(f"{fn_name} returned {type(result).__name__}, not a Verdict")
    return result


def _prefix(history: History, n: Any) -> History:
    """The history as it was when it held its first ``n`` events (seq is the append order)."""
    if not isinstance(n, int) or isinstance(n, bool) or n >= len(history):
        return history
    return history.prefix(n)


# -- comparing -------------------------------------------------------------------------------------
def _canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def differences(recorded: Verdict, now: Verdict, *, evidence: bool = True) -> list[str]:
    """What differs between a recorded verdict and its recomputation ([] when they agree)."""
    out = []
    if recorded.ok != now.ok:
        out.append(f"outcome: recorded {_word(recorded.ok)}, now {_word(now.ok)}")
    if recorded.check != now.check:
        out.append(f"check: recorded {recorded.check!r}, now {now.check!r}")
    if recorded.summary != now.summary:
        out.append(f"summary: recorded {recorded.summary!r}")
    if _canon(recorded.measured) != _canon(now.measured):
        was, now_text = _measured_text(recorded.measured), _measured_text(now.measured)
        out.append(f"measured: recorded {was if was != now_text else _canon(recorded.measured)}")
    if evidence and list(recorded.evidence) != list(now.evidence):
        out.append(f"evidence: recorded events {list(recorded.evidence)}, now {list(now.evidence)}")
    return out


def _measured_text(measured: dict[str, Any]) -> str:
    """As ``Verdict.explain`` shows it."""
    return ", ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in measured.items()) or "{}"


def _word(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def _compared(recorded: Verdict, now: Verdict, *, evidence: bool = True) -> Rejudged:
    if recorded.requirement and not now.requirement:
        now.requirement = recorded.requirement  # tagged by the test (for_requirement), not by the check
    diff = differences(recorded, now, evidence=evidence)
    return Rejudged(recorded, now, DIFFERS if diff else AGREES, differences=diff)


# -- the two kinds of history ----------------------------------------------------------------------
def recheck_conformance(history: History, path: Path) -> Recheck:
    """Re-run the recorded call of every verdict of a conformance test's history."""
    items = []
    for rec in _recorded_verdicts(history, path):
        if rec.call is None:
            items.append(Rejudged(rec, None, NOT_RECHECKABLE,
                                  "no call was recorded: the test built this verdict itself, or a check "
                                  "argument had no JSON encoding"))
            continue
        try:
            now = rerun(rec.call, history)
        except RerunError as exc:
            items.append(Rejudged(rec, None, RERUN_FAILED, str(exc)))
            continue
        items.append(_compared(rec, now))
    if not items:
        raise InvalidInput(f"{path}: meta.verdicts is empty: the test ended before any check judged it "
                           "(see its error in the test report); there is nothing to re-judge.")
    m = history.meta
    sdk = m.get("sdk") or {}
    head = [f"re-judging {path}: conformance test {m.get('test') or history.name or '?'}",
            f"  SDK {sdk.get('sdk', '?')} {sdk.get('sdk_version', '')}".rstrip()
            + f", tolerance {m.get('tolerance_s', '?')}s, {len(history)} events, {len(items)} recorded verdict(s)"]
    return Recheck(history, "conformance test", items, head)


def find_scenario(history: History, path: Path, given: Path | None) -> Path:
    """The scenario file a field-report history needs: ``given``, else the path it names (as given,
    or relative to this checkout)."""
    if given is not None:
        if not Path(given).is_file():
            raise InvalidInput(f"--scenario {given}: no such file.")
        return Path(given)
    named = history.meta.get("scenario")
    if not isinstance(named, str) or not named:
        raise InvalidInput(f"{path}: meta.scenario is empty; pass the scenario file with --scenario FILE.")
    for candidate in (Path(named), PROJECT_ROOT / named):
        if candidate.is_file():
            return candidate
    raise InvalidInput(f"{path} was judged from the scenario file {named}, which is not here. Re-judging "
                       "needs that file (its expectations are evaluated again): pass it with "
                       "--scenario FILE (the same version the run used).")


def _scenario_of(history: History, path: Path, given: Path | None, scale: Any) -> tuple[Path, Any]:
    """The scenario the run played: ``--scenario`` if given, else the file's text the history embeds
    (the exact version the run used), else the file at the path the history names."""
    from harness.repro.schema import load_scenario, parse_scenario, tomllib
    text = history.meta.get("scenario_text")
    if given is None and isinstance(text, str) and text and tomllib is not None:
        named = Path(str(history.meta.get("scenario") or "<embedded scenario>"))
        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise InvalidInput(f"{path}: meta.scenario_text is not valid TOML ({exc}); pass the file with "
                               "--scenario FILE.") from exc
        return named, parse_scenario(raw, named, scale=scale)
    file = find_scenario(history, path, given)
    return file, load_scenario(file, scale=scale)


def recheck_scenario(history: History, path: Path, scenario: Path | None = None) -> Recheck:
    """Evaluate a field-report scenario's expectations again on its saved history."""
    from harness.repro.expect import evaluate
    from harness.repro.schema import ScenarioError
    m = history.meta
    if m.get("verdict") in ("NOT APPLICABLE", "ERROR") and not m.get("verdicts"):
        raise InvalidInput(f"{path}: the run ended {m['verdict']} ({m.get('verdict_reason') or 'no reason'}), "
                           "so it has no verdicts to re-judge.")
    tolerance, scale = m.get("tolerance_s"), m.get("scale")
    if not isinstance(tolerance, (int, float)) or (scale is not None and not isinstance(scale, (int, float))):
        raise InvalidInput(f"{path}: meta.tolerance_s / meta.scale are missing or not numbers; the file is "
                           "not a history written by `python -m harness repro`.")
    try:
        file, sc = _scenario_of(history, path, scenario, scale)
    except ScenarioError as exc:
        raise InvalidInput(f"{file} is not a valid scenario file any more:\n{exc}\nPass the version the run "
                           "used with --scenario FILE.") from exc
    recorded = _recorded_verdicts(history, path)
    seen = _prefix(history, _evaluated_len(recorded))
    try:
        now = evaluate(sc, seen, float(tolerance))
    except Exception as exc:  # a file whose expectations this version cannot evaluate
        raise InvalidInput(f"cannot evaluate {file}'s expectations on {path}: {type(exc).__name__}: {exc}. "
                           "Pass the scenario file the run used with --scenario FILE.") from exc
    head = [f"re-judging {path}: field-report scenario {file} (scale {sc.scale:g}, tolerance {tolerance}s)",
            f"  recorded verdict {m.get('verdict', '?')}, {len(history)} events, {len(recorded)} recorded "
            f"verdict(s), {len(now)} recomputed"]
    if m.get("sdk_patches"):  # `repro --sdk-patch`: the verdicts are about a broken variant, not the release
        head.append(f"  SDK patched: {', '.join(map(str, m['sdk_patches']))} (a deliberately broken variant)")
    items = _pair(recorded, now)
    outcome = None
    if m.get("expected_failure") or sc.expected_failure is not None:
        outcome = _expected_failure_outcome(sc, items, history, path)
        head.append(f"  expected = \"fail\" ([expected_failure]): judged as the run was, for the SDK it ran "
                    f"against ({m.get('sdk_under_test')})")
    return Recheck(history, "field-report scenario", items, head, outcome)


def _expected_failure_outcome(sc: Any, items: list[Rejudged], history: History, path: Path) -> tuple[str, str]:
    """``runner.judge_outcome`` on the re-judged verdicts: the file's stated checks must fail for the
    SDK the run used (meta.sdk_under_test; an expected failure may hold for some SDKs only)."""
    from harness.repro.runner import judge_outcome
    if "sdk_under_test" not in history.meta:
        raise InvalidInput(f"{path}: the scenario declares an expected failure but meta.sdk_under_test (the --sdk "
                           "name the run used) is missing, so which SDK it holds for cannot be told; the file "
                           "was edited or written by an older harness. Attach the original history, or re-run "
                           "the file with `python -m harness repro`.")
    return judge_outcome(sc, [it.verdict for it in items], history.meta["sdk_under_test"])


def _evaluated_len(recorded: list[Verdict]) -> int | None:
    """How many events the history held when the runner evaluated it, when its verdicts say so."""
    lens = [v.call.get("history_len") for v in recorded if isinstance(v.call, dict)]
    lens = [n for n in lens if isinstance(n, int)]
    return max(lens) if lens else None


def _pair(recorded: list[Verdict], now: list[Verdict]) -> list[Rejudged]:
    """Match recomputed verdicts to recorded ones by check name, in order."""
    unused = list(recorded)
    items = []
    for v in now:
        rec = next((r for r in unused if r.check == v.check), None)
        if rec is None:
            items.append(Rejudged(None, v, NEW, "the recorded verdicts have none with this check"))
            continue
        unused.remove(rec)
        # The runner stores check, ok, summary and measured only: compare evidence when it was recorded.
        items.append(_compared(rec, v, evidence=bool(rec.evidence)))
    items += [Rejudged(r, None, MISSING, "the scenario file's expectations no longer produce this verdict")
              for r in unused]
    return items


def recheck(path: Path, scenario: Path | None = None) -> Recheck:
    """Re-judge the history at ``path``; InvalidInput when it cannot be."""
    history = load_history(path)
    if history.meta.get("scenario"):
        return recheck_scenario(history, Path(path), scenario)
    return recheck_conformance(history, Path(path))


# -- text, picture, command ------------------------------------------------------------------------
def _explain_item(it: Rejudged, history: History) -> str:
    v = it.verdict
    lines = [v.explain(history)]
    if it.status == AGREES:
        lines.append(f"  re-judged: {_word(v.ok)}, as recorded")
    elif it.status == DIFFERS:
        lines.append(f"  re-judged: {_word(v.ok)}; DISAGREES with the recorded verdict:")
        lines += [f"    - {d}" for d in it.differences]
    elif it.status == NEW:
        lines.append(f"  re-judged: {_word(v.ok)}; DISAGREES: {it.note}")
    else:
        label = {NOT_RECHECKABLE: "not re-checkable", RERUN_FAILED: "could not be re-run (DISAGREES)",
                 MISSING: "not recomputed (DISAGREES)"}[it.status]
        lines.append(f"  {label}: shown as recorded ({_word(v.ok)}); {it.note}")
    return "\n".join(lines)


def draw(result: Recheck, out: Path, history_path: Path) -> Path:
    """The timeline picture with the re-judged verdicts (harness.report.timeline)."""
    from harness.report.timeline import render_timeline
    name = result.history.meta.get("test") or result.history.name or Path(history_path).name
    title = f"{name} \u2014 re-judged {result.result}"
    return render_timeline(result.history, Path(out), title=title, verdicts=[it.verdict for it in result.items])


def run(path: Path, *, scenario: Path | None = None, html: Path | None = None) -> int:
    """``python -m harness check``: print the re-judgment, draw it if asked; returns the exit code."""
    try:
        result = recheck(path, scenario)
    except InvalidInput as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    if scenario is not None and result.kind != "field-report scenario":
        print(f"note: --scenario {scenario} ignored: {path} is a conformance test's history", file=sys.stderr)
    print(result.text())
    if html is not None:
        try:
            print(f"timeline: {draw(result, html, path)}")
        except ImportError as exc:
            print(f"error: cannot draw the timeline: harness.report.timeline is not available ({exc})",
                  file=sys.stderr)
        except OSError as exc:
            print(f"error: cannot write {html}: {exc}", file=sys.stderr)
    return result.exit_code
