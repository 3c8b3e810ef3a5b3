#!/usr/bin/env bash
# Regenerate fakes/proto/orchestrator_service.binpb (a FileDescriptorSet, WKT imports included).
# The fake loads this into a private descriptor pool at runtime, so no generated _pb2 code and no
# protobuf/grpcio gencode version pin ever enters the harness.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
WKT="$("$PY" -c 'import grpc_tools, os; print(os.path.join(os.path.dirname(grpc_tools.__file__), "_proto"))')"
cd "$ROOT/fakes/proto"
"$PY" -m grpc_tools.protoc --include_imports \
  --descriptor_set_out=orchestrator_service.binpb \
  -I . -I "$WKT" orchestrator_service.proto
echo "wrote $ROOT/fakes/proto/orchestrator_service.binpb"
