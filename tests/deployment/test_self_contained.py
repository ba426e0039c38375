"""The repository carries what its tests need: the deployment tests pass in a clone of the
committed HEAD that has nothing beside it (no sibling folder of any kind), so a test that
reads outside the repository fails here before it fails in someone else's clone."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deployment.stack import ROOT

# Untracked build outputs the deployment tests read (compose.yaml bind-mounts webapp/dist);
# `make test` builds them first. They are linked from this checkout, never copied.
BUILD_OUTPUTS = ("webapp/dist", "node_modules/swagger-ui-dist")
# The deployment tests take a few seconds; this leaves room for a slow machine, not a hang.
TIME_LIMIT_SECONDS = 300


def clone_alone(destination: Path) -> Path:
    git = shutil.which("git")
    if git is None:
        pytest.fail("git is needed to clone the repository")
    clone = destination / "repository"
    subprocess.run(
        [git, "clone", "--quiet", "--no-hardlinks", str(ROOT), str(clone)],
        check=True,
        timeout=120,
    )
    for output in BUILD_OUTPUTS:
        if (ROOT / output).exists():
            (clone / output).parent.mkdir(parents=True, exist_ok=True)
            (clone / output).symlink_to(ROOT / output)
    return clone


def test_the_deployment_tests_pass_in_a_clone_with_nothing_beside_it(tmp_path: Path) -> None:
    clone = clone_alone(tmp_path)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["repository"]
    # The clone's own code first: the virtual environment's editable install points at this
    # checkout, whose uncommitted edits are not what HEAD holds.
    python_path = os.pathsep.join(
        str(clone / folder) for folder in ("server/src", "clients/python/src")
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/deployment",
            "--ignore=tests/deployment/test_self_contained.py",
        ],
        cwd=clone,
        env={**os.environ, "PYTHONPATH": python_path},
        capture_output=True,
        text=True,
        timeout=TIME_LIMIT_SECONDS,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
