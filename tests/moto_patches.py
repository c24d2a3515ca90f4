#!/usr/bin/env python3
"""Regression checks for the local stack's moto patches (infra/local/moto_dropflow.py).

Usage: moto_patches.py [--unpatched]

Run with the test venv's Python (moto 5.2.5 installed). Each check drives the patched moto
backend in process, the way the local stack's request threads do; all checks run, and the
exit code is 1 if any failed. ``--unpatched`` runs the same checks against moto as shipped, to show that they
catch the bug each patch fixes (they are expected to fail then).
"""

import argparse
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "infra" / "local"))

import moto_dropflow  # noqa: E402
from moto.batch.models import BatchBackend  # noqa: E402


class FakeJob:
    """The two things ``describe_jobs`` needs from a moto Batch job."""

    def __init__(self, job_id: str):
        self.job_id = job_id
        self.arn = f"arn:aws:batch:us-east-1:123456789012:job/{job_id}"

    def describe(self) -> dict:
        return {"jobId": self.job_id, "jobArn": self.arn}


def check_describe_jobs_during_submits() -> None:
    """DescribeJobs answers while other threads add jobs (concurrent Map iterations).

    moto 5.2.5 iterates the live job table, so an insert during the scan raised
    ``RuntimeError: dictionary changed size during iteration`` and Step Functions failed
    the whole execution. A tiny GIL switch interval makes the interleaving happen on
    nearly every call instead of about once in 3,000 jobs.
    """
    backend = BatchBackend("us-east-1", "123456789012")
    for index in range(2_000):
        backend._jobs[f"old-{index}"] = FakeJob(f"old-{index}")
    asked = FakeJob("asked")
    backend._jobs[asked.job_id] = asked
    keys = (asked.job_id, asked.arn)
    rounds = 300

    stop = threading.Event()

    def submit_forever() -> None:
        # Add 100 jobs, then drop them: the table changes size on every step but stays
        # about 2,000 jobs long, so each scan takes about the same time.
        churn = [FakeJob(f"churn-{index}") for index in range(100)]
        while not stop.is_set():
            for job in churn:
                backend._jobs[job.job_id] = job
            for job in churn:
                backend._jobs.pop(job.job_id, None)

    submitter = threading.Thread(target=submit_forever, daemon=True)
    previous_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    submitter.start()
    errors: list[str] = []
    try:
        for _ in range(rounds):
            for key in keys:
                try:
                    answer = backend.describe_jobs([key])
                except RuntimeError as error:
                    errors.append(f"describe_jobs([{key!r}]) raised {error}")
                    continue
                if answer != [asked.describe()]:
                    errors.append(f"describe_jobs([{key!r}]) answered {answer}")
    finally:
        stop.set()
        submitter.join()
        sys.setswitchinterval(previous_interval)
    if errors:
        calls = rounds * len(keys)
        raise AssertionError(f"{len(errors)} of {calls} calls went wrong, first: {errors[0]}")


class FakeJobDefinition:
    """What moto's job definition lookups read: a name, a revision and an ARN."""

    def __init__(self, name: str, revision: int = 1):
        self.name = name
        self.revision = revision
        self.arn = f"arn:aws:batch:us-east-1:123456789012:job-definition/{name}:{revision}"


def check_job_definition_lookups_during_registrations() -> None:
    """Lookups by name answer while other threads register job definitions (deploys of
    several flows at once); moto 5.2.5 scanned the live table and could raise
    ``RuntimeError: dictionary changed size during iteration``."""
    backend = BatchBackend("us-east-1", "123456789012")
    for index in range(2_000):
        definition = FakeJobDefinition(f"old-{index}")
        backend._job_definitions[definition.arn] = definition
    asked = FakeJobDefinition("asked", revision=3)
    backend._job_definitions[asked.arn] = asked
    rounds = 300
    stop = threading.Event()

    def register_forever() -> None:
        churn = [FakeJobDefinition(f"churn-{index}") for index in range(100)]
        while not stop.is_set():
            for definition in churn:
                backend._job_definitions[definition.arn] = definition
            for definition in churn:
                backend._job_definitions.pop(definition.arn, None)

    registrar = threading.Thread(target=register_forever, daemon=True)
    previous_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    registrar.start()
    errors: list[str] = []
    try:
        for _ in range(rounds):
            for lookup in (
                lambda: backend.get_job_definition_by_name("asked"),
                lambda: backend.get_job_definitions("asked")[0],
            ):
                try:
                    found = lookup()
                except RuntimeError as error:
                    errors.append(f"lookup raised {error}")
                    continue
                if found is not asked:
                    errors.append(f"lookup answered {found}")
    finally:
        stop.set()
        registrar.join()
        sys.setswitchinterval(previous_interval)
    if errors:
        raise AssertionError(f"{len(errors)} of {rounds * 2} lookups went wrong, first: {errors[0]}")


def check_describe_jobs_keeps_moto_semantics() -> None:
    """Ids, ARNs, unknown ids and no filter answer as moto's own DescribeJobs does."""
    backend = BatchBackend("us-east-1", "123456789012")
    first, second = FakeJob("first"), FakeJob("second")
    backend._jobs = {"first": first, "second": second}
    cases = {
        ("first",): [first.describe()],
        ("second", "first"): [first.describe(), second.describe()],
        (first.arn,): [first.describe()],
        ("missing",): [],
        ("first", "missing"): [first.describe()],
    }
    for jobs, expected in cases.items():
        answer = backend.describe_jobs(list(jobs))
        if answer != expected:
            raise AssertionError(f"describe_jobs({list(jobs)}) answered {answer}, not {expected}")
    everything = backend.describe_jobs(None)
    if everything != [first.describe(), second.describe()]:
        raise AssertionError(f"describe_jobs(None) answered {everything}")


def check_plain_backend_starts_on_an_alias() -> None:
    """StartExecution on an alias ARN, in moto's plain backend (item 2, tests' emulator).

    moto 5.2.5 answers ``StateMachineDoesNotExist`` for ``...:stateMachine:NAME:live``;
    patched, the execution belongs to the state machine and knows its version and alias.
    """
    from moto.stepfunctions.exceptions import StateMachineDoesNotExist
    from moto.stepfunctions.models import StepFunctionBackend

    backend = StepFunctionBackend("us-east-1", "123456789012")
    machine = backend.create_state_machine(
        name="AliasFlow",
        definition='{"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}',
        roleArn="arn:aws:iam::123456789012:role/dropflow-test",
        publish=True,
    )
    version_arn = f"{machine.arn}:1"
    alias = backend.create_state_machine_alias(
        "live", [{"stateMachineVersionArn": version_arn, "weight": 100}], None
    )
    try:
        execution = backend.start_execution(alias.arn, "run-1", "{}")
    except StateMachineDoesNotExist as error:
        raise AssertionError(f"StartExecution on {alias.arn} failed: {error}")
    described = backend.describe_execution(execution.execution_arn)
    listed = backend.list_executions(machine.arn)[0]
    found = (
        getattr(described, "dropflow_version_arn", None),
        getattr(described, "dropflow_alias_arn", None),
        [e.execution_arn for e in listed],
    )
    expected = (version_arn, alias.arn, [execution.execution_arn])
    if found != expected:
        raise AssertionError(f"(version, alias, listed) were {found}, not {expected}")


def winners(writers: int, write: Callable[[int], str], refusal: str) -> int:
    """Runs ``write(0..writers)`` on as many threads, released together, and counts the
    answers ``ok``; any answer but ``ok`` and ``refusal`` (an exception raised is an answer
    too, ``Type: message``) fails the check."""
    barrier = threading.Barrier(writers)
    results: list[str] = []

    def run(index: int) -> None:
        barrier.wait()
        try:
            results.append(write(index))
        except Exception as error:  # noqa: BLE001 - reported as a wrong answer
            results.append(f"{type(error).__name__}: {error}")

    threads = [threading.Thread(target=run, args=(i,)) for i in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    unexpected = [r for r in results if r not in ("ok", refusal)]
    if unexpected:
        raise AssertionError(f"unexpected answers {unexpected}")
    return results.count("ok")


@contextmanager
def tiny_switch_interval() -> Iterator[None]:
    """A 1 µs GIL switch interval, so threads interleave inside moto's handlers."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


def check_conditional_puts_are_atomic() -> None:
    """Of concurrent conditional PutObjects on one key, exactly one succeeds (item 9).

    Per round, 8 threads released together write the same new key with
    ``If-None-Match: *``, then 8 more write it with ``If-Match`` on the etag all of them
    read. S3 lets one of each group through and answers the rest ``412
    PreconditionFailed``; moto 5.2.5 checks and writes in two steps, so with a tiny GIL
    switch interval several writers pass the check. Also checks the answers one at a time:
    ``If-None-Match: *`` on an existing key and a wrong ``If-Match`` are 412, a right
    ``If-Match`` succeeds.
    """
    import boto3
    from botocore.exceptions import ClientError
    from moto import mock_aws

    writers, rounds = 8, 40
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="dropflow-check")
        # Versioned, as dropflow's bucket is.
        s3.put_bucket_versioning(
            Bucket="dropflow-check", VersioningConfiguration={"Status": "Enabled"}
        )

        def code(call) -> str:
            try:
                call()
            except ClientError as error:
                return error.response["Error"]["Code"]
            return "ok"

        first = s3.put_object(Bucket="dropflow-check", Key="one", Body=b"1")["ETag"]
        put = lambda **kw: s3.put_object(Bucket="dropflow-check", Key="one", Body=b"2", **kw)  # noqa: E731
        answers = [code(lambda: put(IfNoneMatch="*")), code(lambda: put(IfMatch='"0"')), code(lambda: put(IfMatch=first))]
        if answers != ["PreconditionFailed", "PreconditionFailed", "ok"]:
            raise AssertionError(f"single conditional puts answered {answers}")

        def race(key: str, phase: str, condition: dict) -> int:
            def write(index: int) -> str:
                # Distinct bodies: S3's etag is the content's MD5, so equal bodies would
                # rightly match the same If-Match.
                body = f"{key} {phase} {index}".encode()
                return code(lambda: s3.put_object(
                    Bucket="dropflow-check", Key=key, Body=body, **condition))

            return winners(writers, write, "PreconditionFailed")

        wrong: list[str] = []
        with tiny_switch_interval():
            for round_ in range(rounds):
                key = f"race-{round_}"
                created = race(key, "create", {"IfNoneMatch": "*"})
                etag = s3.head_object(Bucket="dropflow-check", Key=key)["ETag"]
                replaced = race(key, "replace", {"IfMatch": etag})
                if (created, replaced) != (1, 1):
                    wrong.append(f"{key}: {created} creates and {replaced} replaces succeeded")
        if wrong:
            raise AssertionError(f"{len(wrong)} of {rounds} rounds let more than one writer through, first: {wrong[0]}")

def check_conditional_updates_are_atomic() -> None:
    """Of concurrent DynamoDB UpdateItems conditioned on one revision, exactly one succeeds.

    Per round, 8 threads released together read nothing new and all update the same item
    from revision N to N+1 with ``ConditionExpression: #rev = :rev``, as the metadata
    service's optimistic writes do. DynamoDB lets one through and answers the rest
    ``ConditionalCheckFailedException``; moto 5.2.5 checks and writes in two steps, so with
    a tiny GIL switch interval several writers pass.
    """
    import boto3
    from botocore.exceptions import ClientError
    from moto import mock_aws

    writers, rounds = 8, 40
    with mock_aws():
        db = boto3.client("dynamodb", region_name="us-east-1")
        db.create_table(
            TableName="dropflow-check",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )

        def race(key: str) -> int:
            db.put_item(TableName="dropflow-check", Item={"pk": {"S": key}, "rev": {"N": "0"}})

            def write(index: int) -> str:
                try:
                    db.update_item(
                        TableName="dropflow-check",
                        Key={"pk": {"S": key}},
                        UpdateExpression="SET #rev = :next, #who = :who",
                        ConditionExpression="#rev = :rev",
                        ExpressionAttributeNames={"#rev": "rev", "#who": "who"},
                        ExpressionAttributeValues={
                            ":rev": {"N": "0"}, ":next": {"N": "1"}, ":who": {"S": str(index)},
                        },
                    )
                except ClientError as error:
                    return error.response["Error"]["Code"]
                return "ok"

            return winners(writers, write, "ConditionalCheckFailedException")

        wrong: list[str] = []
        with tiny_switch_interval():
            for round_ in range(rounds):
                succeeded = race(f"race-{round_}")
                if succeeded != 1:
                    wrong.append(f"race-{round_}: {succeeded} conditional updates succeeded")
        if wrong:
            raise AssertionError(f"{len(wrong)} of {rounds} rounds let more than one writer through, first: {wrong[0]}")

#: A Distributed Map over [1, 2, 3] whose child for item 2 fails; the Map's Catch keeps
#: the error it sees.
FAILING_CHILD_MAP = {
    "StartAt": "each",
    "States": {
        "each": {
            "Type": "Map",
            "ItemsPath": "$.items",
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "route",
                "States": {
                    "route": {
                        "Type": "Choice",
                        "Choices": [{"Variable": "$", "NumericEquals": 2, "Next": "boom"}],
                        "Default": "fine",
                    },
                    "boom": {"Type": "Fail", "Error": "ValueError", "Cause": "boom"},
                    "fine": {"Type": "Pass", "End": True},
                },
            },
            "ResultPath": None,
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "caught"}],
            "End": True,
        },
        "caught": {"Type": "Pass", "End": True},
    },
}


def check_distributed_map_fails_with_a_failed_child() -> None:
    """A Distributed Map with a failed child execution fails with
    ``States.ExceedToleratedFailureThreshold`` (AWS's default threshold is 0), which its
    ``Catch`` sees; moto 5.2.5 let the Map succeed without that child's result."""
    import json
    import logging
    import time

    import boto3
    from moto import mock_aws

    logging.getLogger("moto").setLevel(logging.CRITICAL)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        machine = sfn.create_state_machine(
            name="failing-child",
            definition=json.dumps(FAILING_CHILD_MAP),
            roleArn="arn:aws:iam::123456789012:role/dropflow",
        )["stateMachineArn"]
        run = sfn.start_execution(
            stateMachineArn=machine, input=json.dumps({"items": [1, 2, 3]})
        )["executionArn"]
        for _ in range(600):
            described = sfn.describe_execution(executionArn=run)
            if described["status"] != "RUNNING":
                break
            time.sleep(0.05)
    output = json.loads(described.get("output") or "{}")
    expected = {
        "Error": "States.ExceedToleratedFailureThreshold",
        "Cause": moto_dropflow.MAP_RUN_THRESHOLD_CAUSE,
    }
    if described["status"] != "SUCCEEDED" or output.get("error") != expected:
        raise AssertionError(
            f"the Map's Catch saw {output.get('error')} ({described['status']}), not {expected}"
        )


class RecordingInvokeApi:
    """Stands in for the local Lambda Invoke API: records asynchronous invocations."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict, bool]] = []
        self.arrived = threading.Event()

    def invoke(self, function: str, payload: bytes, asynchronous: bool = False):
        import json

        self.calls.append((function, json.loads(payload), asynchronous))
        self.arrived.set()
        return 202, None, b""


INVOKE_API = RecordingInvokeApi()


def check_eventbridge_invokes_lambda_targets() -> None:
    """A rule whose target is a Lambda function invokes it asynchronously with the event,
    ``time`` in RFC 3339 (moto 5.2.5 raised ``NotImplementedError``, failing PutEvents)."""
    import json

    import boto3
    from moto import mock_aws

    function = "arn:aws:lambda:us-east-1:123456789012:function:dropflow-trigger"
    with mock_aws():
        events = boto3.client("events", region_name="us-east-1")
        events.create_event_bus(Name="dropflow")
        events.put_rule(
            Name="all",
            EventBusName="dropflow",
            EventPattern=json.dumps({"account": ["123456789012"]}),
        )
        events.put_targets(
            Rule="all", EventBusName="dropflow", Targets=[{"Id": "t", "Arn": function}]
        )
        try:
            answer = events.put_events(
                Entries=[
                    {
                        "EventBusName": "dropflow",
                        "Source": "acme",
                        "DetailType": "data_ready",
                        "Detail": json.dumps({"a": 1}),
                    }
                ]
            )
        except Exception as error:  # moto as shipped: NotImplementedError, HTTP 500
            raise AssertionError(f"PutEvents failed: {error!r}") from error
    if answer["FailedEntryCount"] != 0:
        raise AssertionError(f"PutEvents refused the entry: {answer}")
    if not INVOKE_API.arrived.wait(10):
        raise AssertionError("the rule's Lambda target was never invoked")
    target, event, asynchronous = INVOKE_API.calls[0]
    if target != function or not asynchronous:
        raise AssertionError(f"invoked {target} (asynchronous: {asynchronous})")
    if event["detail-type"] != "data_ready" or event["detail"] != {"a": 1}:
        raise AssertionError(f"the function got {event}")
    if not isinstance(event["time"], str) or not event["time"].endswith("Z"):
        raise AssertionError(f"time is {event['time']!r}, not RFC 3339")


CHECKS = [
    check_describe_jobs_keeps_moto_semantics,
    check_describe_jobs_during_submits,
    check_job_definition_lookups_during_registrations,
    check_conditional_puts_are_atomic,
    check_conditional_updates_are_atomic,
    check_distributed_map_fails_with_a_failed_child,
    check_plain_backend_starts_on_an_alias,
    check_eventbridge_invokes_lambda_targets,
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--unpatched", action="store_true", help="check moto as shipped")
    arguments = parser.parse_args()
    if not arguments.unpatched:
        moto_dropflow.patch_batch_describe_snapshot()
        moto_dropflow.patch_s3_atomic_conditional_put()
        moto_dropflow.patch_dynamodb_atomic_writes()
        moto_dropflow.patch_distributed_map_failures()
        moto_dropflow.patch_start_execution()
        moto_dropflow.patch_eventbridge_lambda_targets(INVOKE_API)
    failures = 0
    for check in CHECKS:
        try:
            check()
        except AssertionError as error:
            failures += 1
            print(f"FAILED {check.__name__}: {error}")
        else:
            print(f"ok     {check.__name__}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
