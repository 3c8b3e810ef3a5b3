#!/usr/bin/env python3
"""Regenerate fakes/proto/dapr/durabletask_dapr.binpb from the Go module proxy.

The dapr fork of durabletask-protobuf reaches users through dapr/durabletask-go, whose module
zip carries the fork's schema compiled into ``api/protos/*.pb.go`` (protoc-gen-go embeds each
file's FileDescriptorProto as a ``rawDesc`` byte slice). The zip has no .proto text (the fork is
a git submodule, which module zips leave out), so this script takes those embedded descriptors:
byte for byte what the Go SDK itself registers. It checks the module's checksum and commit
against the pins below, so a changed upstream can never slip in silently.

Run: ``.venv/bin/python fakes/proto/dapr/regen.py`` (needs ``go`` on PATH and the Go module
proxy; writes durabletask_dapr.binpb next to this file). See NOTICE for provenance.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from google.protobuf import duration_pb2, empty_pb2, struct_pb2, timestamp_pb2, wrappers_pb2
from google.protobuf.descriptor_pb2 import FileDescriptorProto, FileDescriptorSet

MODULE = "github.com/dapr/durabletask-go"
VERSION = "v0.14.0"
# What the Go checksum database and the proxy's origin record say about that version.
MODULE_SUM = "h1:fmGKkLnb+oSHkN2l/aezMcqCG0Z9pjOpnEOhblDSijg="
MODULE_COMMIT = "4028a089482f63b1c2741636d87f2025c5dce71d"
# The TaskHubSidecarService files; backend_service/runtime_state are daprd-internal, not served.
FILES = ("orchestration", "attestation", "history_events", "orchestrator_actions", "orchestrator_service")
WKT = (timestamp_pb2, duration_pb2, wrappers_pb2, empty_pb2, struct_pb2)
OUT = Path(__file__).resolve().parent / "durabletask_dapr.binpb"
_RAW_DESC = re.compile(r"var file_(\w+)_proto_rawDesc = \[\]byte\{(.*?)\n\}", re.S)


def download() -> Path:
    """The module's directory in the Go module cache (downloaded through the proxy if absent)."""
    with tempfile.TemporaryDirectory() as empty:  # outside any go.mod, so nothing else is resolved
        proc = subprocess.run(["go", "mod", "download", "-json", f"{MODULE}@{VERSION}"], cwd=empty,
                              capture_output=True, text=True, env={**os.environ, "GOFLAGS": "-mod=mod"})
    if proc.returncode != 0:
        sys.exit(f"go mod download {MODULE}@{VERSION} failed ({proc.stderr.strip() or proc.stdout.strip()}); "
                 "needs Go on PATH and the Go module proxy reachable")
    info = json.loads(proc.stdout)
    commit = info.get("Origin", {}).get("Hash")
    if info.get("Sum") != MODULE_SUM or (commit and commit != MODULE_COMMIT):
        sys.exit(f"{MODULE}@{VERSION}: sum {info.get('Sum')} commit {commit}, pinned {MODULE_SUM} {MODULE_COMMIT}; "
                 "the module changed: review it, then update the pins and NOTICE")
    return Path(info["Dir"])


def embedded_descriptor(pb_go: Path) -> FileDescriptorProto:
    m = _RAW_DESC.search(pb_go.read_text())
    if m is None:
        sys.exit(f"{pb_go}: no `rawDesc = []byte{{...}}` found (a newer protoc-gen-go layout?); adapt _RAW_DESC")
    raw = bytes(int(h, 16) for h in re.findall(r"0x([0-9a-fA-F]{2})", m.group(2)))
    return FileDescriptorProto.FromString(raw)


def main() -> None:
    module_dir = download()
    fds = FileDescriptorSet()
    for mod in WKT:  # dependencies first, as protoc --include_imports writes them
        mod.DESCRIPTOR.CopyToProto(fds.file.add())
    for name in FILES:
        fdp = embedded_descriptor(module_dir / "api" / "protos" / f"{name}.pb.go")
        if fdp.name != f"{name}.proto":
            sys.exit(f"{name}.pb.go embeds {fdp.name!r}, expected {name}.proto")
        fds.file.append(fdp)
    OUT.write_bytes(fds.SerializeToString(deterministic=True))
    print(f"wrote {OUT} ({len(fds.file)} files from {MODULE}@{VERSION}, commit {MODULE_COMMIT})")


if __name__ == "__main__":
    main()
