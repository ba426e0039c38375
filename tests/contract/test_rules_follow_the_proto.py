"""The server's request rules are the .proto files' buf.validate annotations: a rule changed in
a .proto (and regenerated) changes what the server refuses, with no server code touched."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ibkr.v1 import order_service_pb2
from ibkr_grpc.api.request_rules import RequestRules
from ibkr_grpc.domain.errors import ValidationError

REPOSITORY = Path(__file__).resolve().parents[2]
REPLAY_LAST_RULE = """  int32 replay_last = 5 [(buf.validate.field).int32 = {
    gte: 0
    lte: 1000
  }];"""
STRICTER_RULE = REPLAY_LAST_RULE.replace("lte: 1000", "lte: 10")

# Run in its own interpreter: one process holds one ibkr/v1/order_service.proto.
CHECK = """
import json
from ibkr.v1 import order_service_pb2
from ibkr_grpc.api.request_rules import RequestRules
from ibkr_grpc.domain.errors import ValidationError
try:
    RequestRules().check(order_service_pb2.StreamOrderEventsRequest(replay_last=500))
except ValidationError as error:
    print(json.dumps([[v.field, v.description] for v in error.field_violations]))
else:
    print(json.dumps([]))
"""


def test_the_repository_rule_lets_500_events_replay() -> None:
    RequestRules().check(order_service_pb2.StreamOrderEventsRequest(replay_last=500))
    with pytest.raises(ValidationError) as raised:
        RequestRules().check(order_service_pb2.StreamOrderEventsRequest(replay_last=1001))
    assert [violation.field for violation in raised.value.field_violations] == ["replay_last"]


def test_a_stricter_rule_in_the_proto_refuses_them(tmp_path: Path) -> None:
    proto = tmp_path / "proto"
    shutil.copytree(REPOSITORY / "proto", proto)
    orders = proto / "ibkr" / "v1" / "order_service.proto"
    text = orders.read_text(encoding="utf-8")
    assert REPLAY_LAST_RULE in text
    orders.write_text(text.replace(REPLAY_LAST_RULE, STRICTER_RULE), encoding="utf-8")
    generated = tmp_path / "generated"
    generated.mkdir()
    sources = sorted(str(path.relative_to(proto)) for path in proto.rglob("*.proto"))
    protoc = [
        sys.executable,
        "-m",
        "grpc_tools.protoc",
        f"-I{proto}",
        f"-I{REPOSITORY / 'third_party' / 'googleapis'}",
        f"-I{REPOSITORY / 'third_party' / 'protovalidate'}",
        f"--python_out={generated}",
        *sources,
        "buf/validate/validate.proto",
    ]
    result = subprocess.run(protoc, capture_output=True, text=True, check=False, timeout=120)
    assert result.returncode == 0, result.stderr
    # Regular packages, so that these modules come before the installed ones.
    for package in ("ibkr", "ibkr/v1", "buf", "buf/validate"):
        (generated / package / "__init__.py").touch()
    environment = {**os.environ, "PYTHONPATH": str(generated)}
    result = subprocess.run(
        [sys.executable, "-c", CHECK],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env=environment,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    violations = json.loads(result.stdout)
    assert [field for field, _ in violations] == ["replay_last"], violations
    assert "less than or equal to 10" in violations[0][1]
