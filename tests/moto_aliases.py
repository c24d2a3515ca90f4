"""moto's server (pinned 5.2.5) that starts executions on state machine aliases and
versions, for the tests that call the trigger API:

    python tests/moto_aliases.py -H 127.0.0.1 -p PORT

moto 5.2.5 answers StartExecution on an alias ARN (``...:stateMachine:NAME:live``) with
``StateMachineDoesNotExist``. This applies the local stack's own StartExecution patch
(``infra/local/moto_dropflow.py``, item 2: the execution belongs to the state machine and
reports ``stateMachineVersionArn``/``stateMachineAliasArn``), and the local stack's
atomic conditional writes for S3 and DynamoDB (concurrency tests need what AWS guarantees:
one of several conditional writers wins), and runs moto's server as shipped otherwise:
executions are recorded and never run.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "infra" / "local"))

import moto_dropflow  # noqa: E402


def main() -> None:
    moto_dropflow.check_moto_version()
    moto_dropflow.patch_start_execution()
    moto_dropflow.patch_dynamodb_atomic_writes()
    moto_dropflow.patch_s3_atomic_conditional_put()
    from moto.server import main as moto_main

    moto_main(sys.argv[1:])


if __name__ == "__main__":
    main()
