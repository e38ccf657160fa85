#!/usr/bin/env python3
"""CDK entry point. cdk.json runs `python3 app.py`: activate the virtualenv first.

`npx cdk synth` builds the pipeline stack (the default); `npx cdk deploy -c direct=true`
deploys the application stack alone, without a pipeline. See the README.
"""

from __future__ import annotations

import sys
from pathlib import Path

# The infrastructure reads the table shape and setting rules from the Lambda package's
# source in this checkout, whether or not the package is installed.
sys.path.insert(0, str(Path(__file__).resolve().parent / "lambdas"))

import aws_cdk as cdk

from infra.app import build
from infra.settings import SettingsError


def main() -> None:
    app = cdk.App()
    try:
        build(app)
    except SettingsError as error:
        sys.exit(str(error))
    app.synth()


if __name__ == "__main__":
    main()
