"""What a run shows and leaves behind: a compact timeline, the verdict, and an output folder with the
history (JSON), the verdicts and a timeline picture (harness/report/timeline/, when it is available)."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from harness.history import DRIVER, FAKE, NETWORK, SCENARIO, Event, History
from harness.repro.runner import FAIL, FIXED, Outcome

_SKIP = {(FAKE, "message_sent"), (SCENARIO, "tcp_connections"), (FAKE, "work_item_queued")}
_DRIVER_KEEP = {"channel_created", "worker_started", "worker_stopped", "activity_started",
                "activity_finished", "client_call_done", "log"}


def _keep(ev: Event) -> bool:
    if (ev.source, ev.kind) in _SKIP:
        return ev.kind == "message_sent" and ev.get("item") not in ("healthPing",)
    if ev.source == DRIVER:
        return ev.kind in _DRIVER_KEEP or (ev.kind == "rpc_done" and ev.get("method") == "GetWorkItems")
    if ev.source == FAKE and ev.kind in ("rpc_start", "rpc_end"):
        return ev.get("method") not in ("CompleteActivityTask",) or ev.kind == "rpc_end" and ev.get("code") != "OK"
    return True


def _describe(ev: Event) -> str:
    d = ev.data
    if ev.source == SCENARIO and ev.kind == "step":
        extra = " ".join(f"{k}={v}" for k, v in (d.get("params") or {}).items())
        return (f"STEP {d.get('step')} {d.get('name')} {d.get('phase')} (field t={d.get('field_at_s'):g}s) "
                f"{extra}").rstrip()
    if ev.kind in ("rpc_start",) and ev.source == FAKE:
        return f"{d.get('method')} call {d.get('call_id')} from {d.get('peer')} (gen {d.get('server_gen')})"
    if ev.kind == "rpc_end" and ev.source == FAKE:
        return f"{d.get('method')} call {d.get('call_id')} ended {d.get('code')} by {d.get('ended_by')} {d.get('details')!r}"
    if ev.kind == "rpc_done":
        return f"SDK saw {d.get('method')} end: {d.get('code')} {d.get('details')!r}"
    if ev.kind == "server_fault":
        return f"server fault {d.get('fault')} on {d.get('method')} call {d.get('call_id')} {d.get('code', '')} {d.get('details', '')!r}"
    if ev.source == NETWORK and ev.kind in ("fault_start", "fault_end"):
        return f"{ev.kind} {d.get('fault')} {d.get('stream')} {d.get('attributes') or ''}"
    skip = {"request", "metadata", "peer", "params", "options", "capabilities"}
    return ev.kind + " " + " ".join(f"{k}={_short(v)}" for k, v in d.items() if k not in skip)


def _short(v: object, n: int = 60) -> str:
    s = v if isinstance(v, str) else json.dumps(v, default=str)
    return s if len(s) <= n else s[: n - 3] + "..."


def compact_timeline(history: History, scale: float, limit: int = 80) -> str:
    start = history.first(source=SCENARIO, kind="scenario_start")
    t0 = start.t if start is not None else history.t0
    evs = [e for e in history.events if _keep(e)]
    pings = len(history.select(FAKE, "message_sent", item="healthPing"))
    lines = [f"{'run t':>9} {'field t':>9}  source   event"]
    shown = evs if len(evs) <= limit else evs[: limit // 2] + [None] + evs[-limit // 2:]
    for e in shown:
        if e is None:
            lines.append(f"{'...':>9} {'':>9}  ({len(evs) - limit} events omitted; see history.json)")
            continue
        rel = e.t - t0
        lines.append(f"{rel:9.3f} {rel / scale:9.1f}  {e.source:8} {_describe(e)}")
    lines.append(f"({pings} HealthPing messages not shown)")
    return "\n".join(lines)


def verdict_text(out: Outcome) -> str:
    sc = out.scenario
    sdk = out.sdk or {}
    head = [f"scenario: {sc.path}  —  {sc.title}",
            f"source:   {', '.join(sc.source)}",
            f"SDK:      {sdk.get('sdk', out.sdk_name or '?')} {sdk.get('sdk_version', '?')}"
            + (f"  ({out.sdk_note})" if out.sdk_note else ""),
            f"scale:    {sc.scale:g} (file default {sc.file_scale:g}); run took {sc.duration:.2f}s "
            f"= {sc.duration / sc.scale:g}s of field time"]
    body = [v.explain(out.history) for v in out.verdicts]
    if out.reason:
        body.append(out.reason)
    tail = [f"VERDICT: {out.verdict}   ({expected_text(out)})"]
    if sc.known_defect and out.verdict == FAIL:
        tail.append(f"known defect: {sc.known_defect}")
    return "\n".join(head + [""] + body + [""] + tail)


def expected_text(out: Outcome) -> str:
    """What the file expects of the build that ran: a pass, or the stated failure (``[expected_failure]``)."""
    sc = out.scenario
    ef = sc.expected_failure_for(out.sdk_name)
    if ef is None:
        gap = " (the file's expected failure is for " + ", ".join(sc.expected_failure.sdks) + " only)" \
            if sc.expected_failure is not None else ""
        return f"expected of a correct build: PASS{gap}"
    then = "; a build that passes them is reported FIXED (exit 6)" if out.verdict != FIXED else ""
    return (f"expected: FAIL of {ef.labels(sc.expects)} only, a {ef.kind} ({ef.report}){then}")


def default_out_dir(base: Path, out: Outcome) -> Path:
    sdk = out.sdk or {}
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return base / f"{out.scenario.name}--{safe(str(sdk.get('sdk', 'sdk')))}-{safe(str(sdk.get('sdk_version', 'unknown')))}--{stamp}"


def write_outputs(out: Outcome, folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    h = out.history
    if h is not None:
        files["history"] = h.save(folder / "history.json")
    (folder / "verdict.txt").write_text(verdict_text(out) + "\n")
    files["verdict"] = folder / "verdict.txt"
    if h is not None:
        (folder / "timeline.txt").write_text(compact_timeline(h, out.scenario.scale, limit=10**6) + "\n")
        files["timeline_text"] = folder / "timeline.txt"
        try:
            from harness.report.timeline import render_timeline  # written by another part of the project
        except ImportError:
            render_timeline = None
        if render_timeline is not None:
            title = f"{out.scenario.title} — {out.verdict} (scale {out.scenario.scale:g})"
            try:
                files["timeline"] = Path(render_timeline(h, folder / "timeline.html", title=title,
                                                         verdicts=out.verdicts))
            except Exception as exc:  # the picture is a bonus; the history is the record
                (folder / "timeline-error.txt").write_text(f"render_timeline failed: {exc!r}\n")
    if out.driver_stderr:
        (folder / "sdk-driver-stderr.txt").write_text(out.driver_stderr)
    return files


def safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
