"""dropflow's local AWS: moto's server (pinned 5.2.5) on 127.0.0.1, adapted to run
dropflow's state machines end to end without Docker and without an AWS account.

Run it with the project venv's Python (``bash tests/run.sh --setup-only`` creates it);
``dropflow local up`` does, and passes these options:

    python infra/local/moto_dropflow.py --port 5099 --invoke-url http://127.0.0.1:5100 \
        --state-dir .dropflow [--job-env-file .dropflow/job-env.json] [--max-jobs 4] \
        [--default-queue dropflow-local] [--local-metadata .dropflow/metaflow] \
        [--image python:3.12=/path/to/venv/bin ...] [--exit-on-stdin-eof]

moto 5.2.5 already emulates S3, Step Functions (with a real interpreter once
``execute_state_machine`` is on), Batch, IAM and EventBridge Scheduler. The gaps found
by experiment (listed below) are closed by small monkeypatches applied at import time, each
in its own function below, none editing site-packages:

1. ``batch:submitJob.sync`` and every other service integration: parameters and
   responses are normalised between Step Functions' PascalCase and the service's wire
   names from botocore's service model (moto stubs both methods out, so ``JobName`` never
   became ``jobName`` and the submission's ``jobId`` never became ``JobId``).
2. StartExecution without a name gets a UUID name (``$$.Execution.Name`` was null), and
   StartExecution on a version ARN or an alias ARN runs that version's definition (moto
   failed on both).
3. Lambda invocations, from state machine Task states and from S3 bucket notifications,
   go to a local Lambda Invoke API (``POST {invoke_url}/2015-03-31/functions/NAME/
   invocations``). A handler error (HTTP 500 ``{errorType, errorMessage}``, or AWS's 200
   with ``X-Amz-Function-Error``) is a Lambda function error whose error name is that
   ``errorType``, so ``Retry``/``Catch`` and the execution's error see it. Notifications
   are sent asynchronously (as S3 does), shaped like AWS's (key encoded as S3 encodes it,
   ``versionId``, ``sequencer``), and a delete-marker is announced as
   ``ObjectRemoved:DeleteMarkerCreated``.
4. Batch jobs (``use_docker`` off) run as local processes: the job definition's command,
   overridden by ``ContainerOverrides.Command``; the environment is a minimal host
   environment + the job definition's + the overrides' + ``AWS_BATCH_*`` + the stack's
   (``--job-env-file``, which wins: it points every job at the local endpoints). The exit
   code decides SUCCEEDED or FAILED (``container.exitCode`` is reported), the job
   definition's or the submission's ``attemptDurationSeconds`` is enforced, TerminateJob
   kills the job, and ``.sync`` tasks observe the end. At most ``--max-jobs`` run at once.
   A job submitted to a queue that does not exist locally (``@batch(queue=...)``) runs on
   ``--default-queue``: every queue is this host. Like a container, a job starts in an
   empty working directory; Metaflow local metadata it writes there (``./.metaflow``, with
   ``METAFLOW_DATASTORE_SYSROOT_LOCAL=.``) is merged into ``--local-metadata`` afterwards,
   as Metaflow's own runtime copies a Batch task's metadata back. A job whose job
   definition names an image given with ``--image NAME=DIR`` runs with ``DIR`` (a venv's
   ``bin``, standing in for the image's Python) first on ``PATH`` instead of the stack's.
5. A ``States.*`` error ending a Parallel branch or a Map iteration propagates with its
   name (moto failed the execution with ``States.Runtime``: ``ValueError: Custom Error
   Names MUST NOT begin with the prefix 'States.'``).
6. moto's own clients (the interpreter calling Batch) use 127.0.0.1, not ``localhost``.
7. A ``batch:submitJob.sync`` task waits for its job's end before asking DescribeJobs
   (at most ``SYNC_WAIT_SECONDS`` between asks) instead of asking twice a second: with a
   wide foreach, a hundred Map iterations polling at once kept a core busy in moto.
8. DescribeJobs reads a snapshot of the job table. moto iterated the live dict, so a
   SubmitJob from one Map iteration during another's DescribeJobs failed that call
   (``RuntimeError: dictionary changed size during iteration``, HTTP 500), and the
   interpreter then failed the whole execution with ``States.Runtime``
   ``KeyError('RequestId')``: seen about once in 3,000 jobs. The job definition table
   is read through snapshots too: moto's lookups by name (RegisterJobDefinition,
   DescribeJobDefinitions) iterated it while concurrent deploys registered definitions,
   with the same error (seen once in an end-to-end run).
9. A conditional PutObject (``If-None-Match: *``, ``If-Match: <etag>``) is atomic, as on
   S3: moto 5.2.5 checks the condition and answers ``412 PreconditionFailed`` (and
   ``404 NoSuchKey`` for ``If-Match`` on an absent key) as AWS does, but checks and
   writes in two steps, so two request threads could both pass the check and both write.
   The compile function's claims (``shared/deploy/src/claim.rs``) rely on exactly one
   winning. PutObject requests are serialised by one lock.
10. A Distributed Map whose child executions fail beyond its tolerated failure threshold
   (``ToleratedFailureCount``/``ToleratedFailurePercentage``, both 0 by default: any
   failed child) fails with ``States.ExceedToleratedFailureThreshold``, as AWS documents
   it. moto counted the failed item and let the Map state succeed without its output, so
   the run went on to the join. Its S3 ``ItemReader`` (and ``ResultWriter``) also call
   127.0.0.1 (item 6).
11. EventBridge rules with a Lambda target invoke it, as EventBridge does: asynchronously,
   with the matched event (moto 5.2.5 raised ``NotImplementedError`` for Lambda targets,
   failing the ``PutEvents`` call) and ``time`` in RFC 3339 as AWS sends it (moto's was
   a Unix timestamp). Other targets are left to moto.

Everything listens on 127.0.0.1 only. On SIGTERM/SIGINT (or stdin closing, with
``--exit-on-stdin-eof``) running jobs are killed, then the process exits.
"""

from __future__ import annotations

import argparse
import copy
import datetime
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Any

PINNED_MOTO = "5.2.5"
LOG = logging.getLogger("dropflow.local")

# Variables a job inherits from the host (a container would bring its own): the basics,
# and the host's TLS trust and proxies, which an image built for the network it runs in
# carries (pip and uv inside a task reach the package index through them).
HOST_ENV = (
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "LANG",
    "LC_ALL",
    "SHELL",
    "TZ",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
)


def check_moto_version() -> None:
    """The patches target moto's internals at one version: refuse any other."""
    import moto

    if moto.__version__ != PINNED_MOTO:
        sys.exit(
            f"error: moto {moto.__version__} is installed; dropflow's local stack needs "
            f"moto {PINNED_MOTO} (run `bash tests/run.sh --setup-only`)"
        )


# ----------------------------------------------------------------------------------------
# 1. Service integration parameters and responses, normalised from botocore's model.


def patch_service_normalisation() -> None:
    """Restores ``StateTaskService._normalise_parameters`` and ``_normalise_response``.

    Step Functions accepts ``JobName``/``ContainerOverrides.Environment[].Name`` for Batch's
    ``jobName``/``environment[].name`` and answers with ``JobId``; moto's interpreter has
    the conversion code (``_to_boto_request``, ``_from_boto_response``) but its two entry
    points are stubs. They are re-implemented here with the operation's input and output
    shapes from botocore's service model.
    """
    import botocore.session
    from botocore import xform_name
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (
        StateTaskService,
    )

    session = botocore.session.get_session()
    models: dict[str, Any] = {}
    lock = threading.Lock()

    def operation_model(service: str, action: str):
        with lock:
            if service not in models:
                models[service] = session.get_service_model(service)
        model = models[service]
        wanted = xform_name(action)
        for name in model.operation_names:
            if xform_name(name) == wanted:
                return model.operation_model(name)
        return None

    def _normalise_parameters(
        self, parameters, boto_service_name=None, service_action_name=None
    ) -> None:
        service = self._get_boto_service_name(boto_service_name=boto_service_name)
        action = self._get_boto_service_action(service_action_name=service_action_name)
        operation = operation_model(service, action)
        if operation is not None and operation.input_shape is not None:
            self._to_boto_request(parameters, operation.input_shape)

    def _normalise_response(
        self, response, boto_service_name=None, service_action_name=None
    ) -> None:
        service = self._get_boto_service_name(boto_service_name=boto_service_name)
        action = self._get_boto_service_action(service_action_name=service_action_name)
        operation = operation_model(service, action)
        if operation is not None and operation.output_shape is not None:
            self._from_boto_response(response, operation.output_shape)

    StateTaskService._normalise_parameters = _normalise_parameters
    StateTaskService._normalise_response = _normalise_response


# ----------------------------------------------------------------------------------------
# 2. StartExecution: a name when none is given; versions and aliases.


def patch_start_execution() -> None:
    """StartExecution names unnamed executions and runs versions and aliases.

    Without a name moto starts the execution with ``name=None`` (``$$.Execution.Name`` is
    null, the ARN ends in ``None``); AWS generates a UUID. On a version ARN
    (``...:stateMachine:NAME:3``) moto fails in ``_handle_name_input_idempotency``, and on
    an alias ARN (``...:stateMachine:NAME:live``) with ``StateMachineDoesNotExist``. Here
    both resolve to the version's definition and role; the execution belongs to the
    state machine (its ARN, ListExecutions) and reports ``stateMachineVersionArn`` and
    ``stateMachineAliasArn`` as AWS does. The same holds for moto's plain backend (the one
    without ``execute_state_machine``, whose executions never run), which the tests'
    emulator uses (``tests/moto_aliases.py``).
    """
    import random

    from moto.stepfunctions.exceptions import StateMachineDoesNotExist
    from moto.stepfunctions.models import StepFunctionBackend
    from moto.stepfunctions.parser.api import InvalidExecutionInput
    from moto.stepfunctions.parser.backend.execution import Execution
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend
    from moto.stepfunctions.responses import StepFunctionResponse

    original = StepFunctionsParserBackend.start_execution

    def resolve(backend, arn: str):
        """(state machine, version, alias ARN) for a qualified ARN, else None."""
        parts = arn.split(":")
        if len(parts) != 8:
            return None
        base_arn, qualifier = ":".join(parts[:7]), parts[7]
        base = next((m for m in backend.state_machines if m.arn == base_arn), None)
        if base is None:
            raise StateMachineDoesNotExist(f"State Machine Does Not Exist: '{arn}'")
        alias_arn = None
        if qualifier.isdigit():
            version = base.versions.get(int(qualifier))
        else:
            alias = base.aliases.get(qualifier)
            if alias is None:
                raise StateMachineDoesNotExist(f"State Machine Does Not Exist: '{arn}'")
            alias_arn = alias.arn
            routes = alias.routing_configuration or []
            weights = [int(r.get("weight", 0)) for r in routes]
            if not routes or sum(weights) <= 0:
                raise StateMachineDoesNotExist(f"Alias routes nowhere: '{arn}'")
            route = random.choices(routes, weights=weights)[0]
            version_arn = route["stateMachineVersionArn"]
            version = base.versions.get(int(version_arn.rsplit(":", 1)[1]))
        if version is None:
            raise StateMachineDoesNotExist(f"State Machine Does Not Exist: '{arn}'")
        return base, version, alias_arn

    def start_execution(
        self, state_machine_arn, name=None, execution_input=None, trace_header=None
    ):
        name = name or str(uuid.uuid4())
        target = resolve(self, state_machine_arn)
        if target is None:
            return original(self, state_machine_arn, name, execution_input, trace_header)
        base, version, alias_arn = target
        existing = base._handle_name_input_idempotency(name, execution_input)
        if existing is not None:
            return existing
        # As moto does for the unqualified ARN: a snapshot that shares no live executions
        # and shares the backend, then the version's definition and role.
        clone = copy.deepcopy(base, {id(base.executions): [], id(base.backend): base.backend})
        clone.definition = version.definition
        clone.roleArn = version.roleArn
        input_data = "{}" if execution_input is None else execution_input
        try:
            json.loads(input_data)
        except Exception as error:  # noqa: BLE001 - moto reports any parse error alike
            raise InvalidExecutionInput(str(error))
        execution = Execution(
            name=name,
            sm_type=clone.sm_type,
            role_arn=clone.roleArn,
            exec_arn=f"arn:{self.partition}:states:{self.region_name}:{self.account_id}"
            f":execution:{base.name}:{name}",
            account_id=self.account_id,
            region_name=self.region_name,
            state_machine=clone,
            start_date=datetime.datetime.now(tz=datetime.timezone.utc),
            cloud_watch_logging_session=None,
            input_data=input_data,
            trace_header=trace_header,
            activity_store={},
        )
        execution.dropflow_version_arn = version.arn
        execution.dropflow_alias_arn = alias_arn
        base.executions.append(execution)
        execution.start()
        return execution

    plain_original = StepFunctionBackend.start_execution

    def start_plain_execution(self, state_machine_arn, name, execution_input):
        """The plain backend: the execution is recorded (it never runs) on its machine."""
        target = resolve(self, state_machine_arn)
        if target is None:
            return plain_original(self, state_machine_arn, name, execution_input)
        base, version, alias_arn = target
        if name:
            self._validate_name(name)
        execution = base.start_execution(
            region_name=self.region_name,
            account_id=self.account_id,
            execution_name=name or str(uuid.uuid4()),
            execution_input=execution_input,
        )
        if not hasattr(execution, "dropflow_version_arn"):
            execution.dropflow_version_arn = version.arn
            execution.dropflow_alias_arn = alias_arn
        return execution

    def qualified(execution, item: dict) -> None:
        version_arn = getattr(execution, "dropflow_version_arn", None)
        alias_arn = getattr(execution, "dropflow_alias_arn", None)
        if version_arn:
            item["stateMachineVersionArn"] = version_arn
        if alias_arn:
            item["stateMachineAliasArn"] = alias_arn

    original_describe = StepFunctionResponse.describe_execution
    original_list = StepFunctionResponse.list_executions

    def describe_execution(self):
        result = original_describe(self)
        if isinstance(result.result, dict):
            execution = self.stepfunction_backend.describe_execution(
                self._get_param("executionArn")
            )
            qualified(execution, result.result)
        return result

    def list_executions(self):
        result = original_list(self)
        items = result.result.get("executions") if isinstance(result.result, dict) else None
        for item in items or []:
            try:
                execution = self.stepfunction_backend.describe_execution(item["executionArn"])
            except Exception:  # noqa: BLE001 - listing must not fail on a vanished run
                continue
            qualified(execution, item)
        return result

    StepFunctionsParserBackend.start_execution = start_execution
    StepFunctionBackend.start_execution = start_plain_execution
    StepFunctionResponse.describe_execution = describe_execution
    StepFunctionResponse.list_executions = list_executions


# ----------------------------------------------------------------------------------------
# 3. Lambda: every invocation goes to the local Invoke API.


def function_name(arn_or_name: str) -> str:
    """``arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]`` or ``NAME`` → NAME."""
    parts = arn_or_name.split(":")
    if len(parts) >= 7 and parts[5] == "function":
        return parts[6]
    return arn_or_name


class InvokeApi:
    """A client of the Lambda Invoke API (`cargo lambda watch`'s, or dropflow's own)."""

    def __init__(self, url: str, timeout: float = 900.0):
        self.url = url.rstrip("/")
        self.timeout = timeout

    def invoke(self, function: str, payload: bytes, asynchronous: bool = False):
        """Returns (status, function error or None, payload bytes)."""
        name = urllib.parse.quote(function_name(function), safe="")
        request = urllib.request.Request(
            f"{self.url}/2015-03-31/functions/{name}/invocations",
            data=payload,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "X-Amz-Invocation-Type": "Event" if asynchronous else "RequestResponse",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                body = response.read()
                return response.status, response.headers.get("X-Amz-Function-Error"), body
        except urllib.error.HTTPError as error:
            body = error.read()
            if error.code == 404:
                return 404, "ResourceNotFound", body
            # `cargo lambda watch` and dropflow's server answer a handler error with 500.
            return error.code, "Unhandled", body
        except OSError as error:
            failure = {
                "errorType": "Lambda.ServiceException",
                "errorMessage": f"the local Lambda Invoke API at {self.url} did not answer: {error}",
            }
            return 502, "Unhandled", json.dumps(failure).encode()


def error_payload(status: int, kind: str, body: bytes, function: str) -> dict:
    """The ``{errorType, errorMessage}`` of a failed invocation."""
    try:
        payload = json.loads(body)
    except ValueError:
        payload = None
    if not isinstance(payload, dict) or "errorType" not in payload:
        text = body.decode("utf-8", "replace")[:1000]
        payload = {"errorType": "Lambda.ServiceException", "errorMessage": text}
    if kind == "ResourceNotFound":
        payload = {
            "errorType": "Lambda.ResourceNotFoundException",
            "errorMessage": f"Function not found: {function} (the local Invoke API has no "
            f"function named {function_name(function)!r})",
        }
    payload.setdefault("errorMessage", f"HTTP {status}")
    return payload


def patch_lambda_forwarding(invoke_api: InvokeApi) -> None:
    """State machine Lambda tasks call the local Invoke API.

    Both the direct form (``Resource`` = a function ARN) and ``arn:aws:states:::lambda:
    invoke`` go through ``lambda_eval_utils``; its two invokers are replaced. A function
    error becomes ``FunctionError: Unhandled`` with the ``{errorType, errorMessage}``
    payload, which moto's interpreter turns into an error named ``errorType``.
    """
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import (
        lambda_eval_utils,
    )

    def invoke(parameters: dict) -> dict:
        function = parameters["FunctionName"]
        payload = parameters.get("Payload") or b"{}"
        if isinstance(payload, str):
            payload = payload.encode()
        asynchronous = parameters.get("InvocationType") == "Event"
        status, kind, body = invoke_api.invoke(function, payload, asynchronous)
        response: dict[str, Any] = {"StatusCode": 202 if asynchronous else 200}
        if kind is not None:
            response["FunctionError"] = "Unhandled"
            response["Payload"] = error_payload(status, kind, body, function)
            return response
        try:
            response["Payload"] = json.loads(body) if body else None
        except ValueError:
            response["Payload"] = body.decode("utf-8", "replace")
        response["ExecutedVersion"] = "$LATEST"
        return response

    def _invoke_lambda_function(parameters, region, state_credentials):
        return invoke(parameters)

    def exec_lambda_function(env, parameters, region, account, credentials):
        response = invoke(parameters)
        if response.get("FunctionError"):
            raise lambda_eval_utils.LambdaFunctionErrorException(
                response["FunctionError"],
                json.dumps(response["Payload"], separators=(",", ":")),
            )
        env.stack.append(response)

    lambda_eval_utils._invoke_lambda_function = _invoke_lambda_function
    lambda_eval_utils.exec_lambda_function = exec_lambda_function


def patch_s3_notifications(invoke_api: InvokeApi) -> None:
    """S3 bucket notifications reach the local functions, shaped and sent as on AWS.

    moto calls the Lambda synchronously inside the PUT and only if moto hosts the
    function; AWS invokes asynchronously (retrying a failed invocation twice) with a key
    URL-encoded as in a query string but keeping ``/``, and a ``versionId`` and
    ``sequencer`` the receiver can order and dedupe by. A versioned bucket's delete
    creates a delete marker, announced as ``ObjectRemoved:DeleteMarkerCreated``
    (moto sends nothing).
    """
    from moto.s3 import models as s3_models
    from moto.s3 import notifications

    sequence = {"value": 0}
    sequence_lock = threading.Lock()

    def next_sequencer() -> str:
        with sequence_lock:
            sequence["value"] += 1
            return f"{int(time.time() * 1000):012X}{sequence['value']:08X}"

    original_event = notifications._get_s3_event

    def _get_s3_event(event_name, bucket, key, notification_id):
        event = original_event(event_name, bucket, key, notification_id)
        record = event["Records"][0]
        record["s3"]["object"]["key"] = urllib.parse.quote_plus(key.name, safe="/")
        version = getattr(key, "version_id", None)
        if version and version != "null" and bucket.is_versioned:
            record["s3"]["object"]["versionId"] = str(version)
        record["s3"]["object"]["sequencer"] = next_sequencer()
        record["userIdentity"] = {"principalId": "AWS:AIDALOCALDROPFLOW"}
        record["requestParameters"] = {"sourceIPAddress": "127.0.0.1"}
        record["responseElements"] = {
            "x-amz-request-id": uuid.uuid4().hex[:16].upper(),
            "x-amz-id-2": uuid.uuid4().hex,
        }
        record["s3"]["bucket"]["ownerIdentity"] = {"principalId": "LOCALDROPFLOW"}
        return event

    def deliver(function_arn: str, body: bytes) -> None:
        for attempt in range(3):
            status, kind, answer = invoke_api.invoke(function_arn, body, asynchronous=True)
            if kind is None:
                return
            LOG.warning(
                "S3 notification to %s failed (attempt %d of 3, HTTP %d): %s",
                function_name(function_arn),
                attempt + 1,
                status,
                answer.decode("utf-8", "replace")[:500],
            )
            if kind == "ResourceNotFound":
                return
            time.sleep(1 + 2 * attempt)

    def _invoke_awslambda(account_id, event_body, fn_arn, region_name):
        body = json.dumps(event_body).encode()
        threading.Thread(
            target=deliver, args=(fn_arn, body), name="s3-notification", daemon=True
        ).start()

    notifications._get_s3_event = _get_s3_event
    notifications._invoke_awslambda = _invoke_awslambda

    original_delete = s3_models.S3Backend.delete_object

    def delete_object(self, bucket_name, key_name, version_id=None, bypass=False):
        outcome = original_delete(self, bucket_name, key_name, version_id, bypass)
        meta = outcome[1] if isinstance(outcome, tuple) and len(outcome) > 1 else {}
        if version_id is None and meta.get("delete-marker") == "true":
            notifications.send_event(
                self.account_id,
                notifications.S3NotificationEvent.OBJECT_REMOVED_DELETE_MARKER_CREATED_EVENT,
                self.get_bucket(bucket_name),
                _MarkerKey(key_name, meta.get("version-id")),
            )
        return outcome

    s3_models.S3Backend.delete_object = delete_object


class _MarkerKey:
    """What a notification needs of a delete marker (moto's marker has no name/etag)."""

    def __init__(self, name: str, version_id: str | None):
        self.name = name
        self.version_id = version_id
        self.etag = ""
        self.size = 0


def patch_eventbridge_lambda_targets(invoke_api: InvokeApi) -> None:
    """A rule's Lambda targets get the matched event, invoked asynchronously (item 11)."""
    from moto.events import models as events_models
    from moto.utilities.arns import parse_arn

    original = events_models.Rule.send_to_targets

    def is_lambda(target: dict) -> bool:
        return parse_arn(target["Arn"]).service == "lambda"

    def deliver(function_arn: str, body: bytes) -> None:
        # The Invoke API answers an Event invocation at once and retries a failing
        # handler itself, as Lambda's asynchronous invocation does.
        status, kind, answer = invoke_api.invoke(function_arn, body, asynchronous=True)
        if kind is not None:
            LOG.warning(
                "EventBridge delivery to %s failed (HTTP %d): %s",
                function_name(function_arn),
                status,
                answer.decode("utf-8", "replace")[:500],
            )

    def send_to_targets(self, original_event, transform_input=True):
        if not self.event_pattern.matches_event(original_event):
            return
        lambdas = [t for t in self.targets if is_lambda(t)]
        for target in lambdas:
            if target.get("Input") or target.get("InputPath") or target.get("InputTransformer"):
                raise NotImplementedError("Lambda targets with Input/InputPath/InputTransformer")
            event = dict(original_event)
            stamp = event.get("time")
            if isinstance(stamp, (int, float)):
                event["time"] = datetime.datetime.fromtimestamp(
                    stamp, tz=datetime.timezone.utc
                ).strftime("%Y-%m-%dT%H:%M:%SZ")
            body = json.dumps(event, default=str).encode()
            threading.Thread(
                target=deliver, args=(target["Arn"], body), name="eventbridge", daemon=True
            ).start()
        others = [t for t in self.targets if not is_lambda(t)]
        if others:
            rest = copy.copy(self)
            rest.targets = others
            original(rest, original_event, transform_input)

    events_models.Rule.send_to_targets = send_to_targets


# ----------------------------------------------------------------------------------------
# 4. Batch jobs as local processes.


class LocalBatch:
    """Runs Batch jobs as host processes, at most ``max_jobs`` at once.

    Each job runs in its own session (so its whole process group can be killed) in a
    fresh working directory ``<state>/jobs/<job id>/`` (removed afterwards), with its
    output in ``<state>/jobs/<job id>.log`` and its pid in ``<state>/jobs/<pid>.pid``
    while it runs (``dropflow local down`` kills what a crash left behind).
    """

    def __init__(
        self,
        state_dir: Path,
        job_env: dict[str, str],
        max_jobs: int,
        default_queue: str | None = None,
        metadata_root: Path | None = None,
        images: dict[str, str] | None = None,
    ):
        self.images = images or {}
        self.default_queue = default_queue
        self.metadata_root = metadata_root
        self.metadata_lock = threading.Lock()
        self.jobs_dir = state_dir / "jobs"
        self.jobs_dir.mkdir(parents=True, exist_ok=True)
        self.job_env = job_env
        self.slots = threading.BoundedSemaphore(max_jobs)
        self.running: dict[str, subprocess.Popen] = {}
        self.lock = threading.Lock()
        self.stopping = False
        # Job id -> set once the job has ended (see ``wait_for_end``).
        self.ended: dict[str, threading.Event] = {}

    def _ended_event(self, job_id: str) -> threading.Event:
        with self.lock:
            return self.ended.setdefault(job_id, threading.Event())

    def wait_for_end(self, job_id: str, timeout: float) -> None:
        """Returns once ``job_id`` has ended, or after ``timeout`` seconds."""
        event = self._ended_event(job_id)
        if event.wait(timeout):
            with self.lock:
                self.ended.pop(job_id, None)

    def environment(self, job) -> dict[str, str]:
        env = {k: os.environ[k] for k in HOST_ENV if k in os.environ}
        properties = job.job_definition.container_properties or {}
        for variable in properties.get("environment") or []:
            env[variable["name"]] = variable["value"]
        for variable in job.container_overrides.get("environment") or []:
            env[variable["name"]] = variable["value"]
        environments = getattr(job.job_queue, "environments", None) or []
        env.update(
            AWS_BATCH_JOB_ID=job.job_id,
            AWS_BATCH_JQ_NAME=job.job_queue.name,
            AWS_BATCH_CE_NAME=getattr(environments[0], "name", "local") if environments else "local",
            AWS_BATCH_JOB_ATTEMPT="1",
            AWS_EXECUTION_ENV="dropflow-local",
        )
        env.update(self.job_env)
        image = properties.get("image")
        if image in self.images:
            env["PATH"] = f"{self.images[image]}:{os.environ.get('PATH', '/usr/bin:/bin')}"
        return env

    def merge_metadata(self, workdir: Path) -> None:
        """Merges the Metaflow local metadata a job wrote in its working directory into
        ``<metadata_root>/.metaflow``, where Metaflow's Client (with
        ``METAFLOW_DATASTORE_SYSROOT_LOCAL=<metadata_root>``) finds every task."""
        if self.metadata_root is None:
            return
        import shutil

        found = [workdir / ".metaflow", *workdir.glob("*/.metaflow")]
        with self.metadata_lock:
            for source in found:
                if source.is_dir() and not source.is_symlink():
                    shutil.copytree(
                        source,
                        self.metadata_root / ".metaflow",
                        dirs_exist_ok=True,
                        symlinks=True,
                    )

    def command(self, job) -> list[str]:
        properties = job.job_definition.container_properties or {}
        command = job.container_overrides.get("command") or properties.get("command") or []
        return job._add_parameters_to_command(command)

    def start(self, job) -> None:
        threading.Thread(
            target=self.run, args=(job,), name=f"batch-{job.job_id}", daemon=True
        ).start()

    def run(self, job) -> None:
        try:
            with self.slots:
                if self.stopping or job.stop:
                    self.finish(job, None, job.job_stopped_reason or "Job cancelled")
                    return
                self.execute(job)
        except Exception as error:  # noqa: BLE001 - a job must always end
            LOG.exception("batch job %s failed to run", job.job_id)
            self.finish(job, None, f"dropflow local Batch could not run the job: {error}")

    def execute(self, job) -> None:
        command = self.command(job)
        if not command:
            self.finish(job, None, "The job has no command (job definition or overrides)")
            return
        workdir = self.jobs_dir / job.job_id
        workdir.mkdir(parents=True, exist_ok=True)
        env = self.environment(job)
        env["TMPDIR"] = str(workdir)
        env["HOME"] = env.get("HOME") or str(workdir)
        log_path = self.jobs_dir / f"{job.job_id}.log"
        timeout = job._get_attempt_duration()
        job.job_started_at = datetime.datetime.now()
        job.log_stream_name = job._stream_name
        job._start_attempt()
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                command,
                cwd=workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        pid_file = self.jobs_dir / f"{process.pid}.pid"
        pid_file.write_text(job.job_id)
        with self.lock:
            self.running[job.job_id] = process
        LOG.info("batch job %s (%s) started: pid %d", job.job_name, job.job_id, process.pid)
        deadline = time.monotonic() + timeout if timeout else None
        reason = None
        while process.poll() is None:
            if job.stop or self.stopping:
                reason = job.job_stopped_reason or "Job terminated: the local stack is stopping"
                self.kill(process)
            elif deadline is not None and time.monotonic() > deadline:
                reason = "Job attempt duration exceeded timeout"
                self.kill(process)
            time.sleep(0.1)
        with self.lock:
            self.running.pop(job.job_id, None)
        pid_file.unlink(missing_ok=True)
        try:
            self.merge_metadata(workdir)
        except OSError as error:
            LOG.warning("batch job %s: local metadata not merged: %s", job.job_id, error)
        _remove_tree(workdir)
        code = process.returncode
        if reason is None and code != 0:
            reason = "Essential container in task exited"
        LOG.info("batch job %s (%s) exited %s", job.job_name, job.job_id, code)
        self.finish(job, code if code >= 0 else 128 - code, reason)

    @staticmethod
    def kill(process: subprocess.Popen, grace: float = 2.0) -> None:
        """SIGTERM the job's process group, then SIGKILL it after ``grace`` seconds."""
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def finish(self, job, exit_code: int | None, reason: str | None) -> None:
        job.exit_code = exit_code
        if reason:
            job.job_stopped_reason = reason
        job._mark_stopped(success=exit_code == 0 and reason is None)
        self._ended_event(job.job_id).set()

    def stop_all(self) -> None:
        """Kills every running job (the stack is going down)."""
        self.stopping = True
        with self.lock:
            processes = list(self.running.values())
        for process in processes:
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 3
        for process in processes:
            try:
                process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            (self.jobs_dir / f"{process.pid}.pid").unlink(missing_ok=True)


def _remove_tree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def patch_local_batch(batch: LocalBatch) -> None:
    """moto's Docker-less Batch marks every job SUCCEEDED at once; run them instead.

    ``BatchSimpleBackend._mark_job_as_finished`` (called at SubmitJob) now hands the job
    to [`LocalBatch`]; it stays RUNNING until its process exits. DescribeJobs reports
    ``container.exitCode`` and no longer grows the overrides' environment on every call
    (moto appends to the submitted list), and TerminateJob/CancelJob on a Docker-less
    backend reach the job.
    """
    from moto.batch.models import Job
    from moto.batch_simple.models import BatchSimpleBackend

    def _mark_job_as_finished(self, include_start_attempt, job):
        self.backend._jobs[job.job_id] = job
        if include_start_attempt:
            batch.start(job)
        else:
            # An array job's parent only tracks its children.
            job.job_started_at = datetime.datetime.now()

    original_property = Job._get_container_property

    def _get_container_property(self, p, default):
        if p != "environment":
            return original_property(self, p, default)
        merged: dict[str, str] = {}
        properties = self.job_definition.container_properties or {}
        for variable in properties.get("environment") or []:
            merged[variable["name"]] = variable["value"]
        for variable in self.container_overrides.get("environment") or []:
            merged[variable["name"]] = variable["value"]
        merged["AWS_BATCH_JOB_ID"] = self.job_id
        return [{"name": k, "value": v} for k, v in merged.items()]

    original_describe = Job.describe

    def describe(self):
        result = original_describe(self)
        if self.job_stopped and isinstance(result.get("container"), dict):
            if self.exit_code is not None:
                result["container"]["exitCode"] = self.exit_code
        return result

    original_submit = BatchSimpleBackend.submit_job

    def submit_job(self, job_name, job_def_id, job_queue, *args, **kwargs):
        # Every job runs on this host: a queue named by a flow (`@batch(queue=...)`) that
        # the local stack does not have is the local queue.
        if batch.default_queue and self.get_job_queue(job_queue) is None:
            LOG.info(
                "batch job %s: queue %r does not exist locally; running it on %r",
                job_name,
                job_queue,
                batch.default_queue,
            )
            job_queue = batch.default_queue
        return original_submit(self, job_name, job_def_id, job_queue, *args, **kwargs)

    BatchSimpleBackend.submit_job = submit_job
    BatchSimpleBackend._mark_job_as_finished = _mark_job_as_finished
    Job._get_container_property = _get_container_property
    Job.describe = describe


# Longest a `.sync` Batch task waits between two DescribeJobs calls.
SYNC_WAIT_SECONDS = 5.0


def patch_batch_sync_wait(batch: LocalBatch) -> None:
    """``batch:submitJob.sync`` asks DescribeJobs when the job has ended, not twice a second.

    moto's interpreter polls each running ``.sync`` task every 0.5 s, over HTTP to
    itself. A Map running a hundred iterations at once (the local Batch runs a few jobs,
    the rest wait in the queue as on AWS) then spends most of a core answering
    DescribeJobs. Here the resolver first waits (up to ``SYNC_WAIT_SECONDS``) for the
    local Batch to report the job's end, so a task still sees its job's final status
    as soon as the job ends.
    """
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_batch as service,
    )

    original = service.StateTaskServiceBatch._build_sync_resolver

    def _build_sync_resolver(self, env, *args, **kwargs):
        submitted = env.stack[-1] if env.stack else None
        job_id = submitted.get("JobId") if isinstance(submitted, dict) else None
        resolve = original(self, env, *args, **kwargs)
        if resolve is None or not job_id:
            return resolve

        def wait_then_resolve():
            batch.wait_for_end(job_id, SYNC_WAIT_SECONDS)
            return resolve()

        return wait_then_resolve

    service.StateTaskServiceBatch._build_sync_resolver = _build_sync_resolver


def patch_batch_describe_snapshot() -> None:
    """DescribeJobs scans a copy of the job table, not the table other threads write.

    ``BatchBackend.describe_jobs`` iterated ``self._jobs`` while other request threads
    (SubmitJob from concurrent Map iterations) inserted into it; see item 8 above. The copy
    is taken in one step under the GIL; ids and ARNs match as in moto, in table order.
    """
    from moto.batch.models import BatchBackend

    def describe_jobs(self, jobs: list[str] | None) -> list[dict[str, Any]]:
        wanted = set(jobs or [])
        snapshot = list(self._jobs.items())
        return [
            job.describe()
            for key, job in snapshot
            if not wanted or key in wanted or job.arn in wanted
        ]

    BatchBackend.describe_jobs = describe_jobs
    patch_batch_job_definitions_snapshot()


class SnapshotTable(dict):
    """A dict whose iteration walks a copy taken in one step under the GIL, so another
    thread inserting meanwhile cannot fail it."""

    def keys(self):  # type: ignore[override]
        return list(dict.keys(self))

    def values(self):  # type: ignore[override]
        return list(dict.values(self))

    def items(self):  # type: ignore[override]
        return list(dict.items(self))

    def __iter__(self):
        return iter(list(dict.keys(self)))


def patch_batch_job_definitions_snapshot() -> None:
    """Every scan of a Batch backend's job definition table reads a snapshot (item 8).

    moto's lookups by name and revision (``get_job_definition_by_name``, used by
    RegisterJobDefinition; ``get_job_definitions``, DescribeJobDefinitions) iterate
    ``self._job_definitions`` while other request threads register definitions. The table
    becomes a :class:`SnapshotTable` when the backend is made: the same entries, order and
    answers.
    """
    from moto.batch.models import BatchBackend

    if getattr(BatchBackend.__init__, "_dropflow_snapshot", False):
        return
    original_init = BatchBackend.__init__

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self._job_definitions = SnapshotTable(self._job_definitions)

    __init__._dropflow_snapshot = True  # type: ignore[attr-defined]
    BatchBackend.__init__ = __init__


# ----------------------------------------------------------------------------------------
# 5. States.* errors leaving a Parallel branch or a Map iteration.


def patch_nested_states_errors() -> None:
    """A ``States.*`` error that ends a Parallel branch or a Map iteration propagates.

    moto re-raises a nested scope's error as ``CustomErrorName(name)``, which refuses names
    starting with ``States.`` (a rule for names written in ASL), so a branch ending in
    ``Fail`` with ``States.TaskFailed`` (or an uncaught ``States.Timeout``) failed the
    execution with ``States.Runtime: ValueError``. Here a known ``States.*`` name becomes
    the interpreter's own ``StatesErrorName`` (so ``Retry``/``Catch`` match it exactly as
    AWS does), and an unknown one is kept as it is.
    """
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import (
        CustomErrorName,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.error_name import (
        ErrorName,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
        StatesErrorName,
    )

    original_init = CustomErrorName.__init__

    def __new__(cls, error_name=None):
        if cls is CustomErrorName and str(error_name or "").startswith("States."):
            try:
                return StatesErrorName.from_name(error_name)
            except ValueError:
                pass
        return object.__new__(cls)

    def __init__(self, error_name):
        if str(error_name or "").startswith("States."):
            ErrorName.__init__(self, error_name=error_name)
        else:
            original_init(self, error_name)

    CustomErrorName.__new__ = staticmethod(__new__)
    CustomErrorName.__init__ = __init__


# ----------------------------------------------------------------------------------------
# 9. Atomic conditional PutObject (S3 conditional writes).


def serialise(cls: Any, names: tuple[str, ...]) -> None:
    """Runs the methods ``names`` of ``cls`` under one lock shared by them, so none of
    them runs between another one's read and write. Applying it twice changes nothing."""
    lock = threading.Lock()
    for name in names:
        original = getattr(cls, name)
        if getattr(original, "_dropflow_atomic", False):
            continue

        def atomic(self: Any, *args: Any, _original: Any = original, **kwargs: Any):
            with lock:
                return _original(self, *args, **kwargs)

        atomic._dropflow_atomic = True  # type: ignore[attr-defined]
        setattr(cls, name, atomic)


def patch_s3_atomic_conditional_put() -> None:
    """Check and write of a PutObject happen under one lock, as one step.

    S3 applies ``If-None-Match: *`` and ``If-Match: <etag>`` atomically: of concurrent
    conditional writes to a key at most one succeeds, the others get ``412
    PreconditionFailed``. moto 5.2.5's ``S3Response.put_object`` reads the current object to
    check the condition, then stores the new one, with no lock between (see item 9 above).
    Every PutObject takes the lock, conditional or not, so an unconditional write cannot
    land between another request's check and write either. Only the in-memory check and
    store are serialised: the request body was read before.
    """
    from moto.s3.responses import S3Response

    serialise(S3Response, ("put_object",))


def patch_dynamodb_atomic_writes() -> None:
    """Check and write of a DynamoDB write happen under one lock, as one step.

    DynamoDB applies a ``ConditionExpression`` atomically: of concurrent ``UpdateItem``
    calls conditioned on the same revision (the metadata service's tag mutations, run and
    task records), one succeeds and the others get ``ConditionalCheckFailedException``.
    moto 5.2.5's handlers evaluate the condition and then write, with no lock between, so
    under load two writers both pass and one update is lost. Every write operation takes
    one lock, so none can land between another's check and write.
    """
    from moto.dynamodb.responses import DynamoHandler

    serialise(
        DynamoHandler,
        ("put_item", "update_item", "delete_item", "batch_write_item", "transact_write_items"),
    )


# ----------------------------------------------------------------------------------------
# 6. moto's internal clients on 127.0.0.1.


def patch_loopback() -> None:
    """moto's interpreter calls its own server at ``http://localhost:PORT``; use
    127.0.0.1, the only address the stack listens on."""
    import boto3
    from botocore.config import Config
    from moto.settings import moto_server_port
    from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import (
        TimeoutSeconds,
    )
    from moto.stepfunctions.parser.asl.utils import boto_client

    def boto_client_for(region: str, service: str, state_credentials: Any = None):
        return boto3.client(
            aws_access_key_id="ak",
            aws_secret_access_key="sk",
            region_name=region,
            service_name=service,
            endpoint_url=f"http://127.0.0.1:{moto_server_port()}",
            config=Config(
                parameter_validation=False,
                retries={"max_attempts": 0, "total_max_attempts": 1},
                connect_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
                read_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
            ),
        )

    # Modules bind the function at import: rebind it wherever it was imported.
    original = boto_client.boto_client_for
    for module in list(sys.modules.values()):
        name = getattr(module, "__name__", "") or ""
        if name.startswith("moto.stepfunctions") and getattr(module, "boto_client_for", None) is original:
            module.boto_client_for = boto_client_for


# ----------------------------------------------------------------------------------------
# 9. A Distributed Map fails when its child executions do.

#: The cause AWS gives a Map Run that exceeded its tolerated failure threshold.
MAP_RUN_THRESHOLD_CAUSE = "The specified tolerated failure threshold was exceeded"


def patch_distributed_map_failures() -> None:
    """A Distributed Map fails with ``States.ExceedToleratedFailureThreshold`` when more of
    its child executions failed (or timed out) than it tolerates; see item 10 above.

    AWS fails the Map Run as soon as the threshold is crossed and stops the other
    children; here the running children finish first (moto runs them to the end), then the
    Map state fails with AWS's error name, which its ``Catch`` sees as on AWS. The child's
    own error is not in it: on AWS it is in the child execution's history only.
    """
    from moto.stepfunctions.parser.api import HistoryEventType, MapRunFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
        StatesErrorName,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.distributed_iteration_component import (
        DistributedIterationComponent,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    # The S3 ItemReader and ResultWriter build their clients at call time: import them now
    # so patch_loopback (item 6) points them at 127.0.0.1 too.
    import moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.eval.resource_eval_s3  # noqa: F401
    import moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer.resource_eval.resource_eval_s3  # noqa: F401

    original = DistributedIterationComponent._map_run

    def _map_run(self, env, eval_input) -> None:
        original(self, env, eval_input)
        record = eval_input.map_run_record
        items = record.item_counter
        failed = items.failed.get() + items.timed_out.get()
        total = items.total.get()
        tolerated_count = record.tolerated_failure_count or 0
        tolerated_percentage = record.tolerated_failure_percentage or 0.0
        if failed == 0 or (
            failed <= tolerated_count and 100.0 * failed / max(total, 1) <= tolerated_percentage
        ):
            return
        env.stack.pop()  # the children's outputs
        error = StatesErrorName(typ=StatesErrorNameType.StatesExceedToleratedFailureThreshold)
        raise FailureEventException(
            failure_event=FailureEvent(
                env=env,
                error_name=error,
                event_type=HistoryEventType.MapStateFailed,
                event_details=EventDetails(
                    mapRunFailedEventDetails=MapRunFailedEventDetails(
                        error=error.error_name, cause=MAP_RUN_THRESHOLD_CAUSE
                    )
                ),
            )
        )

    DistributedIterationComponent._map_run = _map_run


def import_interpreter() -> None:
    """Imports every Step Functions task module now, so the patches see them all."""
    import importlib
    import pkgutil

    import moto.stepfunctions.parser.asl.component.state.exec.state_task as state_task

    for info in pkgutil.walk_packages(state_task.__path__, state_task.__name__ + "."):
        importlib.import_module(info.name)
    importlib.import_module("moto.stepfunctions.parser.models")
    importlib.import_module("moto.stepfunctions.responses")
    importlib.import_module("moto.batch_simple.models")
    importlib.import_module("moto.s3.models")


# ----------------------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="moto_dropflow.py",
        description="moto server with dropflow's local adaptations, on 127.0.0.1",
    )
    parser.add_argument("--port", type=int, required=True, help="moto's port")
    parser.add_argument(
        "--invoke-url",
        required=True,
        help="the local Lambda Invoke API, e.g. http://127.0.0.1:5100",
    )
    parser.add_argument("--state-dir", type=Path, default=Path(".dropflow"))
    parser.add_argument(
        "--job-env-file",
        type=Path,
        help="JSON object of variables every Batch job gets (they win over the job's)",
    )
    parser.add_argument(
        "--max-jobs",
        type=int,
        default=max(2, os.cpu_count() or 2),
        help="Batch jobs run at once (the others wait)",
    )
    parser.add_argument(
        "--default-queue",
        help="run jobs submitted to a queue that does not exist on this queue instead",
    )
    parser.add_argument(
        "--local-metadata",
        type=Path,
        help="merge the Metaflow local metadata (./.metaflow) each job writes into DIR/.metaflow",
    )
    parser.add_argument(
        "--image",
        action="append",
        default=[],
        metavar="NAME=DIR",
        help="jobs whose job definition names image NAME run with DIR first on PATH",
    )
    parser.add_argument(
        "--exit-on-stdin-eof",
        action="store_true",
        help="stop when stdin closes (the parent went away)",
    )
    return parser.parse_args(argv)


def parse_images(given: list[str]) -> dict[str, str]:
    """``--image NAME=DIR`` options as a dict (the last one for a name wins)."""
    images = {}
    for item in given:
        name, separator, directory = item.partition("=")
        if not separator or not name or not directory:
            raise SystemExit(f"--image {item!r}: expected NAME=DIR (a venv's bin directory)")
        images[name] = str(Path(directory).resolve())
    return images


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    # One line per request (the interpreter polls DescribeJobs twice a second) is noise.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    check_moto_version()
    os.environ["MOTO_PORT"] = str(args.port)
    # Credentials for moto's own boto3 clients (any value works).
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")

    state_dir = args.state_dir.resolve()
    job_env: dict[str, str] = {}
    if args.job_env_file:
        job_env = {str(k): str(v) for k, v in json.loads(args.job_env_file.read_text()).items()}
    invoke_api = InvokeApi(args.invoke_url)
    batch = LocalBatch(
        state_dir,
        job_env,
        max(1, args.max_jobs),
        args.default_queue,
        args.local_metadata.resolve() if args.local_metadata else None,
        images=parse_images(args.image),
    )

    import_interpreter()
    patch_service_normalisation()
    patch_start_execution()
    patch_lambda_forwarding(invoke_api)
    patch_s3_notifications(invoke_api)
    patch_eventbridge_lambda_targets(invoke_api)
    patch_local_batch(batch)
    patch_batch_sync_wait(batch)
    patch_batch_describe_snapshot()
    patch_s3_atomic_conditional_put()
    patch_dynamodb_atomic_writes()
    patch_nested_states_errors()
    patch_distributed_map_failures()
    patch_loopback()

    from moto.moto_api._internal.models import moto_api_backend

    moto_api_backend.set_config(
        {
            "stepfunctions": {"execute_state_machine": True},
            "lambda": {"use_docker": False},
            "batch": {"use_docker": False},
        }
    )

    def shutdown(*_: Any) -> None:
        batch.stop_all()
        logging.shutdown()
        # Execution threads may still wait on jobs: leave without joining them.
        os._exit(0)

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    if args.exit_on_stdin_eof:

        def watch_stdin() -> None:
            try:
                while sys.stdin.buffer.read(4096):
                    pass
            except OSError:
                pass
            os.kill(os.getpid(), signal.SIGTERM)

        threading.Thread(target=watch_stdin, name="stdin-watchdog", daemon=True).start()

    from werkzeug.serving import run_simple

    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )

    LOG.info(
        "dropflow local AWS (moto %s) on http://127.0.0.1:%d, Lambda invokes to %s",
        PINNED_MOTO,
        args.port,
        args.invoke_url,
    )
    app = DomainDispatcherApplication(create_backend_app)
    try:
        run_simple(
            "127.0.0.1",
            args.port,
            app,
            threaded=True,
            request_handler=MotoRequestHandler,
        )
    finally:
        shutdown()


if __name__ == "__main__":
    main()
