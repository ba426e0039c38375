"""No change may break the published v1 contract: its wire format (buf breaking, FILE rules) or
its HTTP routes (which buf's rules do not look at).

The baselines are every committed version of proto/ in this repository's history, plus the ref
in CONTRACT_BASELINE_REF when set (a pull request's base branch, say). The working tree is
checked against each of them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from google.protobuf import descriptor_pb2

from tests.contract.contract_helpers import http_rule_of

REPOSITORY = Path(__file__).resolve().parents[2]
BUF = REPOSITORY / "node_modules" / ".bin" / "buf"
THIRD_PARTY = REPOSITORY / "third_party"
# buf's FILE rules for the language options every file sets (test_language_options.py). Before
# the options existed no code in those languages was generated from the contract, so setting them
# broke nobody; from then on, changing one is a break like any other.
LANGUAGE_OPTION_RULES = [
    "FILE_SAME_CSHARP_NAMESPACE",
    "FILE_SAME_GO_PACKAGE",
    "FILE_SAME_JAVA_MULTIPLE_FILES",
    "FILE_SAME_JAVA_OUTER_CLASSNAME",
    "FILE_SAME_JAVA_PACKAGE",
    "FILE_SAME_OBJC_CLASS_PREFIX",
    "FILE_SAME_PHP_NAMESPACE",
    "FILE_SAME_RUBY_PACKAGE",
]


def run(*command: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(part) for part in command], cwd=cwd, capture_output=True, text=True, check=False
    )


def baseline_refs() -> list[str]:
    """Every commit that changed proto/, newest first, and CONTRACT_BASELINE_REF if set."""
    log = run("git", "log", "--format=%H", "--", "proto", cwd=REPOSITORY)
    assert log.returncode == 0, f"git history is needed for the breaking check: {log.stderr}"
    refs = log.stdout.split()
    extra = os.environ.get("CONTRACT_BASELINE_REF")
    if extra:
        refs.insert(0, extra)
    return refs


def workspace(root: Path) -> Path:
    """A buf workspace at root laid out as this repository's: its buf.yaml and the vendored
    modules (third_party/googleapis) that proto/ imports."""
    shutil.copytree(THIRD_PARTY, root / "third_party")
    shutil.copy(REPOSITORY / "buf.yaml", root / "buf.yaml")
    return root


def build(root: Path, output: Path, *, descriptor_set: bool = False) -> Path:
    extra = ["--as-file-descriptor-set"] if descriptor_set else []
    result = run(BUF, "build", "proto", *extra, "-o", output, cwd=root)
    assert result.returncode == 0, result.stderr
    return output


def checkout(ref: str, destination: Path) -> Path:
    destination.mkdir(parents=True)
    # Only proto/ of the baseline: older buf.yaml files imported googleapis from build/, which
    # a checkout does not have; today's workspace layout builds every version of proto/.
    archive = subprocess.run(
        ["git", "archive", ref, "proto"],
        cwd=REPOSITORY,
        capture_output=True,
        check=True,
    )
    subprocess.run(["tar", "-x", "-C", str(destination)], input=archive.stdout, check=True)
    return workspace(destination)


def has_language_options(descriptor_set: Path) -> bool:
    """Whether every file of the baseline has them: 310159d added them to some files only (the
    others followed in later commits), and adding them to a file is not a break."""
    files = descriptor_pb2.FileDescriptorSet()
    files.ParseFromString(descriptor_set.read_bytes())
    return all(
        file.options.HasField("go_package") for file in files.file if file.package == "ibkr.v1"
    )


def breaking_config(baseline_descriptors: Path) -> list[str]:
    """buf.yaml as it is, or, against a baseline from before the language options, without the
    rules that compare them."""
    if has_language_options(baseline_descriptors):
        return []
    config = yaml.safe_load((REPOSITORY / "buf.yaml").read_text(encoding="utf-8"))
    config["breaking"]["except"] = LANGUAGE_OPTION_RULES
    return ["--config", json.dumps(config)]


def http_routes(descriptor_set: Path) -> dict[str, str]:
    files = descriptor_pb2.FileDescriptorSet()
    files.ParseFromString(descriptor_set.read_bytes())
    routes: dict[str, str] = {}
    for file in files.file:
        if file.package != "ibkr.v1":
            continue
        for service in file.service:
            for method in service.method:
                rule = http_rule_of(method.options)
                routes[f"{service.name}.{method.name}"] = str(rule).strip()
    return routes


@pytest.fixture(scope="module")
def current(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("current")
    image = build(REPOSITORY, folder / "image.binpb")
    descriptors = build(REPOSITORY, folder / "descriptors.binpb", descriptor_set=True)
    return image, descriptors


def test_no_breaking_change_against_any_committed_contract(
    tmp_path: Path, current: tuple[Path, Path]
) -> None:
    _, current_descriptors = current
    current_routes = http_routes(current_descriptors)
    for index, ref in enumerate(baseline_refs()):
        root = checkout(ref, tmp_path / f"baseline-{index}")
        image = build(root, root / "image.binpb")
        descriptors = build(root, root / "descriptors.binpb", descriptor_set=True)
        config = breaking_config(descriptors)
        result = run(BUF, "breaking", "proto", "--against", image, *config, cwd=REPOSITORY)
        assert result.returncode == 0, f"breaks the contract of {ref}:\n{result.stdout}"
        routes = http_routes(descriptors)
        changed = {
            method: (route, current_routes.get(method))
            for method, route in routes.items()
            if current_routes.get(method) != route
        }
        assert changed == {}, f"HTTP routes removed or changed since {ref}"


def test_the_check_catches_a_removed_field(tmp_path: Path, current: tuple[Path, Path]) -> None:
    image, _ = current
    root = workspace(tmp_path)
    shutil.copytree(REPOSITORY / "proto", root / "proto")
    orders = root / "proto" / "ibkr" / "v1" / "order_service.proto"
    text = orders.read_text(encoding="utf-8")
    assert "  bool validate_only = 14;\n" in text
    orders.write_text(text.replace("  bool validate_only = 14;\n", ""), encoding="utf-8")
    result = run(BUF, "breaking", "proto", "--against", image, cwd=root)
    assert result.returncode != 0
    assert "validate_only" in result.stdout


def test_the_check_catches_a_changed_http_route(tmp_path: Path, current: tuple[Path, Path]) -> None:
    _, descriptors = current
    root = workspace(tmp_path)
    shutil.copytree(REPOSITORY / "proto", root / "proto")
    orders = root / "proto" / "ibkr" / "v1" / "order_service.proto"
    text = orders.read_text(encoding="utf-8")
    orders.write_text(text.replace('get: "/v1/fills"', 'get: "/v1/executions"'), encoding="utf-8")
    before = http_routes(descriptors)
    after = http_routes(build(root, root / "descriptors.binpb", descriptor_set=True))
    assert before["OrderService.ListFills"] != after["OrderService.ListFills"]
    # The wire check alone lets this through; that is why routes are compared separately.
    image = build(REPOSITORY, tmp_path / "image.binpb")
    assert run(BUF, "breaking", "proto", "--against", image, cwd=root).returncode == 0
