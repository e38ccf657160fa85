"""Local bundling, once: pip resolves the Lambda platform's wheels; no Docker involved."""

from __future__ import annotations

import shutil
from pathlib import Path

import aws_cdk as cdk

from infra.asset import ARCHITECTURE, EXCLUDE, LAMBDA_ROOT, PLATFORM, RUNTIME, PipBundling


def test_local_bundling_builds_the_lambda_asset(tmp_path: Path) -> None:
    # Given the bundler the stack uses
    bundling = PipBundling(LAMBDA_ROOT, RUNTIME, PLATFORM)
    assert bundling.python_version == "3.13"

    # When it bundles into an empty directory
    assert bundling.try_bundle(str(tmp_path)) is True

    # Then the package and its requirements are there, without caches or boto3
    assert (tmp_path / "sgrevert" / "detect.py").is_file()
    assert (tmp_path / "slack_sdk").is_dir()
    assert (tmp_path / "aws_lambda_powertools").is_dir()
    assert not (tmp_path / "boto3").exists()  # the Lambda runtime provides it
    assert not [p for p in tmp_path.rglob("__pycache__")]
    requirements = (LAMBDA_ROOT / "requirements.txt").read_text().split()
    pins = {
        line.split("==")[0].lower().replace("-", "_"): line.split("==")[1]
        for line in requirements
        if "==" in line
    }
    for name, version in pins.items():
        assert (tmp_path / f"{name}-{version}.dist-info").is_dir(), name
    # and every wheel runs on the functions' Graviton (arm64) processors
    assert ARCHITECTURE.name == "arm64"
    tags = [
        line.removeprefix("Tag: ").strip()
        for wheel in tmp_path.glob("*.dist-info/WHEEL")
        for line in wheel.read_text().splitlines()
        if line.startswith("Tag: ")
    ]
    assert tags
    assert all(tag.endswith("-any") or "aarch64" in tag for tag in tags), tags


def test_caches_and_build_leftovers_do_not_change_the_asset(tmp_path: Path) -> None:
    # Given a copy of the asset source and its fingerprint (the asset hash)
    source = tmp_path / "lambdas"
    shutil.copytree(
        LAMBDA_ROOT, source, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    )
    before = cdk.FileSystem.fingerprint(str(source), exclude=EXCLUDE)

    # When tests or an editable install leave caches and metadata behind
    (source / "sgrevert" / "__pycache__").mkdir()
    (source / "sgrevert" / "__pycache__" / "store.cpython-311.pyc").write_bytes(b"\0")
    (source / "sgrevert.egg-info").mkdir()
    (source / "sgrevert.egg-info" / "PKG-INFO").write_text("Name: sgrevert\n")

    # Then the asset is the same; a code change still changes it
    assert cdk.FileSystem.fingerprint(str(source), exclude=EXCLUDE) == before
    (source / "sgrevert" / "added.py").write_text("ADDED = True\n")
    assert cdk.FileSystem.fingerprint(str(source), exclude=EXCLUDE) != before
