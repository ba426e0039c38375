"""The contract is a buf module others can consume: named, its googleapis dependency declared,
and buildable from the repository's files alone (no make step, no Buf Schema Registry), with
the vendored googleapis files equal to the ones the Python runtime ships."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml
from google.api import annotations_pb2

REPOSITORY = Path(__file__).resolve().parents[2]
BUF = REPOSITORY / "node_modules" / ".bin" / "buf"
VENDORED = REPOSITORY / "third_party" / "googleapis"
GOOGLEAPIS_MODULE = "buf.build/googleapis/googleapis"
PROTOVALIDATE_MODULE = "buf.build/bufbuild/protovalidate"
VENDORED_FILES = [
    "google/api/annotations.proto",
    "google/api/http.proto",
    "google/rpc/error_details.proto",
    "google/rpc/status.proto",
]


def buf(*arguments: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BUF), *map(str, arguments)], cwd=cwd, capture_output=True, text=True, check=False
    )


def test_the_module_is_named_and_declares_googleapis() -> None:
    config = yaml.safe_load((REPOSITORY / "buf.yaml").read_text(encoding="utf-8"))
    modules = {module["path"]: module.get("name") for module in config["modules"]}
    assert modules["proto"] == "buf.build/ibkr-grpc/ibkr-grpc"
    assert config["deps"] == [GOOGLEAPIS_MODULE, PROTOVALIDATE_MODULE]
    # The vendored copies stand in for the registry modules under the same names.
    assert modules["third_party/googleapis"] == GOOGLEAPIS_MODULE
    assert modules["third_party/protovalidate"] == PROTOVALIDATE_MODULE
    assert not (REPOSITORY / "buf.lock").exists()


def test_a_fresh_clone_builds_and_lints_with_buf_alone(tmp_path: Path) -> None:
    """Only what git holds (proto/, third_party/, buf.yaml): nothing from build/ or .venv."""
    clone = tmp_path / "clone"
    for folder in ("proto", "third_party"):
        shutil.copytree(REPOSITORY / folder, clone / folder)
    shutil.copy(REPOSITORY / "buf.yaml", clone / "buf.yaml")
    image = tmp_path / "image.binpb"
    commands: list[list[str | Path]] = [
        ["build", "-o", tmp_path / "workspace.binpb"],
        ["lint"],
        ["build", "proto", "-o", image],
        ["breaking", "proto", "--against", image],
    ]
    for command in commands:
        result = buf(*command, cwd=clone)
        assert result.returncode == 0, f"buf {command[0]}: {result.stderr}{result.stdout}"


def test_the_build_fails_without_the_vendored_module(tmp_path: Path) -> None:
    """The dependency is real: without its files (and with no registry) nothing builds."""
    clone = tmp_path / "clone"
    shutil.copytree(REPOSITORY / "proto", clone / "proto")
    config = yaml.safe_load((REPOSITORY / "buf.yaml").read_text(encoding="utf-8"))
    config["modules"] = [module for module in config["modules"] if module["path"] == "proto"]
    (clone / "buf.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    result = buf("build", "-o", tmp_path / "image.binpb", cwd=clone)
    assert result.returncode != 0
    assert "imported file does not exist" in result.stderr
    assert "cannot find `google.api.http`" in result.stderr


def test_the_vendored_googleapis_files_are_the_runtimes() -> None:
    """Unchanged copies of the files inside googleapis-common-protos (the runtime the Python
    code is generated for): upgrading that package means copying them again."""
    installed = Path(annotations_pb2.__file__).parents[2]
    for name in VENDORED_FILES:
        vendored = (VENDORED / name).read_text(encoding="utf-8")
        assert vendored == (installed / name).read_text(encoding="utf-8"), name
    assert sorted(str(path.relative_to(VENDORED)) for path in VENDORED.rglob("*.proto")) == sorted(
        VENDORED_FILES
    )
    assert (VENDORED / "LICENSE").read_text(encoding="utf-8").lstrip().startswith("Apache License")
