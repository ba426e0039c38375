"""The client builds into a publishable wheel, offline, with what an installation needs: both
packages, the generated ibkr.v1 modules and their type stubs, py.typed markers, and metadata
whose dependencies are ranges."""

from __future__ import annotations

import email.parser
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

CLIENT = Path(__file__).resolve().parents[2] / "clients" / "python"
GENERATED = CLIENT / "src" / "ibkr" / "v1"


def build_wheel(folder: Path) -> Path:
    # --no-build-isolation: the build backend (hatchling) comes from this environment, so the
    # build needs no network.
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", "--wheel-dir", str(folder), str(CLIENT)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = folder.glob("ibkr_grpc_client-*.whl")
    return wheel


@pytest.mark.slow
def test_the_wheel_holds_both_packages_typed_and_ranged_dependencies(
    tmp_path: Path,
) -> None:
    wheel = build_wheel(tmp_path)
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        (metadata_name,) = [name for name in names if name.endswith(".dist-info/METADATA")]
        metadata = email.parser.Parser().parsestr(archive.read(metadata_name).decode())
    generated = {
        f"ibkr/v1/{path.name}" for path in GENERATED.iterdir() if path.suffix in {".py", ".pyi"}
    }
    hand_written = {
        f"ibkr_client/{path.name}" for path in (CLIENT / "src" / "ibkr_client").glob("*.py")
    }
    assert "ibkr/v1/order_service_pb2_grpc.pyi" in generated
    assert generated | hand_written <= names
    assert {"ibkr/py.typed", "ibkr_client/py.typed", "ibkr/__init__.py"} <= names
    # The buf.validate messages every generated ibkr.v1 module imports (their rule annotations).
    assert {"buf/validate/validate_pb2.py", "buf/validate/validate_pb2.pyi"} <= names
    assert not [name for name in names if "__pycache__" in name or name.startswith("tests/")]
    assert metadata["Name"] == "ibkr-grpc-client"
    assert metadata["License-Expression"] == "Apache-2.0"
    assert metadata["Requires-Python"] == ">=3.11"
    assert metadata["Description-Content-Type"] == "text/markdown"
    assert "ibkr-grpc-client" in (metadata.get_payload() or "")
    assert "Typing :: Typed" in metadata.get_all("Classifier", [])
    requirements = metadata.get_all("Requires-Dist", [])
    assert {requirement.split("<")[0].split(">")[0] for requirement in requirements} == {
        "grpcio", "grpcio-health-checking", "grpcio-status", "protobuf", "googleapis-common-protos",
    }  # fmt: skip
    assert all("==" not in requirement for requirement in requirements), requirements
