"""The one Lambda code asset both functions run: `lambdas/sgrevert` plus its requirements.

Bundled on the machine running synth, without Docker: pip installs
`lambdas/requirements.txt` as wheels built for the Lambda platform (manylinux, arm64,
the runtime's Python version), so the bundle is right whatever the build machine runs.
Synth therefore needs PyPI (or the index in `PIP_INDEX_URL`), not AWS credentials.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import aws_lambda as lambda_

LAMBDA_ROOT = Path(__file__).resolve().parent.parent / "lambdas"
PACKAGE = "sgrevert"
RUNTIME = lambda_.Runtime.PYTHON_3_13
ARCHITECTURE = lambda_.Architecture.ARM_64  # Graviton: cheaper per GB-second, same code
PLATFORM = "manylinux2014_aarch64"  # must match ARCHITECTURE: wheels built for arm64
# Never part of the asset (and never part of its hash): caches and build leftovers.
EXCLUDE = ["**/__pycache__", "**/*.pyc", "*.egg-info", "**/.pytest_cache", "**/.mypy_cache"]


def python_version(runtime: lambda_.Runtime) -> str:
    """`python3.13` -> `3.13`: the version pip resolves wheels for."""
    return runtime.name.removeprefix("python")


@jsii.implements(cdk.ILocalBundling)
class PipBundling:
    """Local bundling: pip-install the requirements for Lambda's platform, copy the package."""

    def __init__(self, source: Path, runtime: lambda_.Runtime, platform: str) -> None:
        self.source = source
        self.python_version = python_version(runtime)
        self.platform = platform

    # jsii passes the BundlingOptions positionally; they are not needed here.
    def try_bundle(self, output_dir: str, *_options: Any, **_kwargs: Any) -> bool:
        output = Path(output_dir)
        command = [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-compile",  # .pyc for the build machine's Python would be dead weight
            "--target",
            str(output),
            "--platform",
            self.platform,
            "--implementation",
            "cp",
            "--python-version",
            self.python_version,
            "--only-binary=:all:",
            "--requirement",
            str(self.source / "requirements.txt"),
        ]
        # A fixed argument list, no shell: the only inputs are paths of this checkout.
        result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
        if result.returncode != 0:
            # Fail synth loudly: falling back to Docker would hide the cause.
            raise RuntimeError(
                f"bundling {self.source} failed (pip exit {result.returncode}):\n{result.stderr}"
            )
        shutil.copytree(
            self.source / PACKAGE,
            output / PACKAGE,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
            dirs_exist_ok=True,
        )
        return True


class LambdaAsset:
    """One code asset, shared by every function of a stack.

    One `AssetCode` object: CDK stages and uploads it once however many functions use it
    (the S3 asset construct appears under the first function that binds it).
    """

    def __init__(self) -> None:
        self.bundling = PipBundling(LAMBDA_ROOT, RUNTIME, PLATFORM)
        self.code = lambda_.Code.from_asset(
            str(LAMBDA_ROOT),
            exclude=EXCLUDE,
            bundling=cdk.BundlingOptions(image=RUNTIME.bundling_image, local=self.bundling),
        )
