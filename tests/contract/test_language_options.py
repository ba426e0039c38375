"""Every proto file carries the same language options, so that Go, Java, C#, Objective-C, PHP
and Ruby code generated from the contract lands in one known package per language (buf lint's
PACKAGE_SAME_* rules only ask that files agree, not that the options exist). A new file must
copy the block from an existing one."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2

REPOSITORY = Path(__file__).resolve().parents[2]
BUF = REPOSITORY / "node_modules" / ".bin" / "buf"

# What each option must say; java_outer_classname differs per file (see outer_class_name).
PACKAGE_OPTIONS = {
    "csharp_namespace": "Ibkr.V1",
    "go_package": "github.com/ibkr-grpc/ibkr-grpc/clients/go/ibkr/v1;ibkrv1",
    "java_multiple_files": True,
    "java_package": "io.github.ibkrgrpc.ibkr.v1",
    "objc_class_prefix": "IBK",
    "php_namespace": "Ibkr\\V1",
    "ruby_package": "Ibkr::V1",
}


def buf(*arguments: str | Path, cwd: Path = REPOSITORY) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BUF), *map(str, arguments)], cwd=cwd, capture_output=True, text=True, check=False
    )


def contract_files(tmp_path: Path) -> list[descriptor_pb2.FileDescriptorProto]:
    """Every .proto file under proto/, as buf compiles it (new files included)."""
    output = tmp_path / "contract.binpb"
    result = buf("build", "proto", "--as-file-descriptor-set", "-o", output)
    assert result.returncode == 0, result.stderr
    files = descriptor_pb2.FileDescriptorSet()
    files.ParseFromString(output.read_bytes())
    return [file for file in files.file if file.name.startswith("ibkr/")]


def outer_class_name(file_name: str) -> str:
    """order_service.proto -> OrderServiceProto, Google's convention for java_outer_classname."""
    stem = Path(file_name).stem
    return "".join(part.capitalize() for part in stem.split("_")) + "Proto"


def test_every_proto_file_sets_every_language_option(tmp_path: Path) -> None:
    files = contract_files(tmp_path)
    on_disk = sorted(
        str(path.relative_to(REPOSITORY / "proto"))
        for path in (REPOSITORY / "proto").rglob("*.proto")
    )
    assert sorted(file.name for file in files) == on_disk
    for file in files:
        options = file.options
        found = {
            field.name: value
            for field, value in options.ListFields()
            if field.name in PACKAGE_OPTIONS
        }
        assert found == PACKAGE_OPTIONS, f"{file.name}: set the language options block"
        assert options.java_outer_classname == outer_class_name(file.name), file.name


def test_the_go_package_is_the_go_clients_module() -> None:
    go_mod = (REPOSITORY / "clients" / "go" / "go.mod").read_text(encoding="utf-8")
    module = re.search(r"^module (\S+)$", go_mod, re.MULTILINE)
    assert module is not None
    import_path, package = str(PACKAGE_OPTIONS["go_package"]).split(";")
    assert import_path == f"{module.group(1)}/ibkr/v1"
    assert package == "ibkrv1"
    assert (REPOSITORY / "clients" / "go" / "ibkr" / "v1").is_dir()


@pytest.mark.parametrize(
    ("option", "changed", "rule"),
    [
        ("go_package", '"example.com/elsewhere;ibkrv1"', "FILE_SAME_GO_PACKAGE"),
        ("java_package", '"com.example.ibkr.v1"', "FILE_SAME_JAVA_PACKAGE"),
        ("csharp_namespace", '"Example.Ibkr.V1"', "FILE_SAME_CSHARP_NAMESPACE"),
    ],
)
def test_changing_a_language_option_is_a_breaking_change(
    tmp_path: Path, option: str, changed: str, rule: str
) -> None:
    before = tmp_path / "before.binpb"
    assert buf("build", "proto", "-o", before).returncode == 0
    root = tmp_path / "changed"
    shutil.copytree(REPOSITORY / "proto", root / "proto")
    shutil.copytree(REPOSITORY / "third_party", root / "third_party")
    shutil.copy(REPOSITORY / "buf.yaml", root / "buf.yaml")
    common = root / "proto" / "ibkr" / "v1" / "common.proto"
    text, count = re.subn(
        rf"^option {option} = .*;$",
        f"option {option} = {changed};",
        common.read_text(encoding="utf-8"),
        flags=re.MULTILINE,
    )
    assert count == 1
    common.write_text(text, encoding="utf-8")
    result = buf("breaking", "proto", "--against", before, "--error-format", "json", cwd=root)
    assert result.returncode != 0
    assert f'"type":"{rule}"' in result.stdout
