"""moto's server (pinned 5.2.5) with IAM enforcement that the tests can trust, for
tests/tests/iam_enforcement.rs:

    python tests/moto_iam.py -H 127.0.0.1 -p PORT

moto enforces IAM once ``POST /moto-api/reset-auth`` sets the number of unauthenticated
requests to allow (the test does its set-up first, then sends ``0``). From then on every
request must be SigV4-signed by a known IAM user key or by credentials from
``sts:AssumeRole``, and moto evaluates the policies of that user or role
(``moto/iam/access_control.py``, ``IAMRequestBase.check_action_permitted``): Allow and
Deny statements, ``Action``/``NotAction`` with ``*`` wildcards, explicit Deny first.
What it does not do, and what this file changes (each its own function below,
applied at start-up, none editing site-packages):

1. Resources. moto authorizes S3 requests against the bucket or object ARN, but every
   other service against the resource ``"*"`` (``BaseResponse.call_action`` uses
   ``_determine_resource`` only where a service defines it: SQS, IAM, STS), so a
   statement whose ``Resource`` is an ARN never allows anything there. A Step Functions
   alias or version ARN (``stateMachine:NAME:live``) is its own resource, and its
   ``aws:ResourceTag`` keys are its state machine's tags, as the template assumes.
   ``patch_resources`` gives Step Functions, Secrets Manager, DynamoDB, Batch and
   EventBridge Scheduler requests the ARN AWS authorizes them against (see
   ``RESOURCE_RULES``); actions without resource-level permissions stay ``"*"``.
2. Action names. moto's Batch handler names its actions after the URL
   (``registerjobdefinition``), which no policy's ``batch:RegisterJobDefinition``
   matches (matching is case-sensitive in moto); ``patch_action_names`` uses the
   operation's name from botocore's service model, as IAM does.
3. Conditions. moto passes no condition context for these requests, and treats a
   condition whose key has no value as satisfied (``TrustCondition.verify_condition``
   loops over no values), so every condition held; a condition that failed (only
   ``sts:ExternalId`` ever had a value) made an Allow statement an explicit Deny.
   ``patch_conditions`` evaluates ``StringEquals`` as IAM does (a missing key fails)
   with the keys ``aws:ResourceTag/<key>`` (the state machine's tags, read from moto)
   and ``aws:RequestTag/<key>`` (the request's ``tags``) for Step Functions, and a
   condition that fails makes the statement not apply. Any other operator or key is
   unknown here and fails, so a statement that depends on it never allows anything.
4. Signatures of EventBridge Scheduler requests. moto recomputes every SigV4 signature
   from the request it received; for Scheduler's REST requests (``GET
   /schedules/NAME``) its recomputation differs from botocore's own and from the Rust
   SDK's (``SignatureDoesNotMatch`` for a correctly signed request), so
   ``patch_scheduler_signatures`` skips the signature comparison for the ``scheduler``
   service only. The caller is still identified by its access key id, and an assumed
   role's session token must still match.
5. StartExecution on an alias or version ARN, which moto 5.2.5 refuses: the local stack's
   own patch (``infra/local/moto_dropflow.py``, item 2), so the trigger API starts runs
   on the ``live`` alias here as on AWS.

Not evaluated at all, even so: ``iam:PassRole`` (moto never asks for it when a role is
passed, so ``iam:PassedToService`` conditions are not exercised), trust policies'
conditions (the test assumes the roles before enforcement starts), resource-based
policies (bucket policies, the compile function's ``lambda:InvokeFunction``
permission), service-linked behaviour (Step Functions running a state machine with its
execution role) and permission boundaries or SCPs.
"""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path
from typing import Any, Callable
from urllib.parse import unquote, urlsplit

_CONTEXT = threading.local()


def _states_resource(response: Any) -> str:
    body = _json_body(response)
    action = response._get_action()
    if action == "CreateStateMachine":
        name = body.get("name", "")
        return f"arn:aws:states:{response.region}:{response.current_account}:stateMachine:{name}"
    if action == "CreateStateMachineAlias":
        # The alias to be: <state machine ARN>:<name>, from the version it routes to.
        routes = body.get("routingConfiguration") or [{}]
        version = str(routes[0].get("stateMachineVersionArn", ""))
        machine = ":".join(version.split(":")[:7])
        return f"{machine}:{body.get('name', '')}" if machine else "*"
    for key in (
        "stateMachineArn",
        "stateMachineAliasArn",
        "executionArn",
        "resourceArn",
    ):
        if body.get(key):
            return str(body[key])
    return "*"


def _secretsmanager_resource(response: Any) -> str:
    secret_id = _json_body(response).get("SecretId")
    if not secret_id:
        return "*"
    from moto.secretsmanager.models import secretsmanager_backends

    backend = secretsmanager_backends[response.current_account][response.region]
    try:
        return backend.describe_secret(secret_id).arn
    except Exception:  # an unknown secret: authorize against the id as given
        return str(secret_id)


def _dynamodb_resource(response: Any) -> str:
    table = _json_body(response).get("TableName")
    if not table:
        return "*"
    return f"arn:aws:dynamodb:{response.region}:{response.current_account}:table/{table}"


def _batch_resource(response: Any) -> str:
    action = _canonical_action("batch", response._get_action())
    prefix = f"arn:aws:batch:{response.region}:{response.current_account}"
    body = _json_body(response)
    if action == "RegisterJobDefinition":
        return f"{prefix}:job-definition/{body.get('jobDefinitionName', '')}"
    if action == "SubmitJob":
        return f"{prefix}:job-definition/{body.get('jobDefinition', '')}"
    if action in ("TagResource", "UntagResource", "ListTagsForResource"):
        path = urlsplit(response.uri).path
        return unquote(path.split("/v1/tags/", 1)[-1]) or "*"
    if action == "TerminateJob":
        return f"{prefix}:job/{body.get('jobId', '')}"
    return "*"


def _scheduler_resource(response: Any) -> str:
    path = urlsplit(response.uri).path
    if not path.startswith("/schedules/"):
        return "*"
    name = unquote(path.split("/schedules/", 1)[1])
    group = (response.querystring.get("groupName") or [None])[0]
    group = group or _json_body(response).get("GroupName") or "default"
    return f"arn:aws:scheduler:{response.region}:{response.current_account}:schedule/{group}/{name}"


#: The response class of each service and how its requests name their resource.
RESOURCE_RULES: dict[str, tuple[str, str, Callable[[Any], str]]] = {
    "states": ("moto.stepfunctions.responses", "StepFunctionResponse", _states_resource),
    "secretsmanager": (
        "moto.secretsmanager.responses",
        "SecretsManagerResponse",
        _secretsmanager_resource,
    ),
    "dynamodb": ("moto.dynamodb.responses", "DynamoHandler", _dynamodb_resource),
    "batch": ("moto.batch.responses", "BatchResponse", _batch_resource),
    "scheduler": (
        "moto.scheduler.responses",
        "EventBridgeSchedulerResponse",
        _scheduler_resource,
    ),
}


def _json_body(response: Any) -> dict[str, Any]:
    if isinstance(response.body, dict):  # DynamoDB's handler parses it first
        return response.body
    try:
        body = json.loads(response.body or "{}")
    except (TypeError, ValueError):
        return {}
    return body if isinstance(body, dict) else {}


def patch_resources() -> None:
    """Requests of the services in ``RESOURCE_RULES`` are authorized against their ARN."""
    import importlib

    for _service, (module, cls, rule) in RESOURCE_RULES.items():
        response_class = getattr(importlib.import_module(module), cls)
        response_class._determine_resource = lambda self, rule=rule: rule(self)


_OPERATIONS: dict[str, dict[str, str]] = {}


def _canonical_action(service: str, action: str) -> str:
    """``action`` spelt as the service's operation (``registerjobdefinition`` ->
    ``RegisterJobDefinition``); unchanged when the service or operation is unknown."""
    if service not in _OPERATIONS:
        import botocore.session

        try:
            model = botocore.session.get_session().get_service_model(
                {"states": "stepfunctions"}.get(service, service)
            )
            _OPERATIONS[service] = {name.lower(): name for name in model.operation_names}
        except Exception:
            _OPERATIONS[service] = {}
    return _OPERATIONS[service].get(action.lower(), action)


def patch_action_names() -> None:
    """IAM actions are the operations' names, whatever moto's handler calls them."""
    from moto.iam import access_control

    original = access_control.IAMRequestBase.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        service, _, action = self._action.partition(":")
        self._action = f"{service}:{_canonical_action(service, action)}"

    access_control.IAMRequestBase.__init__ = init


def _state_machine_tags(response: Any, resource: str) -> dict[str, str]:
    """The tags of the state machine ``resource`` names (an alias or version ARN counts
    as its state machine's), or none."""
    parts = resource.split(":")
    if len(parts) < 7 or parts[5] != "stateMachine":
        return {}
    from moto.stepfunctions.models import stepfunctions_backends

    backend = stepfunctions_backends[response.current_account][response.region]
    try:
        tags = backend.list_tags_for_resource(":".join(parts[:7]))["tags"]
    except Exception:
        return {}
    return {tag["key"]: tag["value"] for tag in tags}


def _condition_context(response: Any, resource: str) -> dict[str, str]:
    if response.service_name != "stepfunctions":
        return {}
    context = {f"aws:ResourceTag/{k}": v for k, v in _state_machine_tags(response, resource).items()}
    for tag in _json_body(response).get("tags") or []:
        if isinstance(tag, dict) and "key" in tag:
            context[f"aws:RequestTag/{tag['key']}"] = str(tag.get("value", ""))
    return context


def _conditions_hold(conditions: dict[str, Any], context: dict[str, str]) -> bool:
    for operator, entries in conditions.items():
        if operator != "StringEquals":
            return False
        for key, expected in entries.items():
            allowed = expected if isinstance(expected, list) else [expected]
            if key not in context or context[key] not in allowed:
                return False
    return True


def patch_conditions() -> None:
    """StringEquals on the request's tag context, as IAM evaluates it."""
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.iam import access_control
    from moto.iam.access_control import PermissionResult

    authorize = ActionAuthenticatorMixin._authenticate_and_authorize_normal_action

    def authorize_with_context(self: Any, resource: str = "*") -> None:
        _CONTEXT.values = _condition_context(self, resource)
        try:
            authorize(self, resource)
        finally:
            _CONTEXT.values = None

    ActionAuthenticatorMixin._authenticate_and_authorize_normal_action = authorize_with_context

    def statement_result(
        self: Any,
        action: str,
        resource: str = "*",
        principal: str | None = None,
        incoming_condition_values: dict[str, str] | None = None,
    ) -> PermissionResult:
        statement = self._statement
        if "NotAction" in statement:
            concerned = not self._check_element_matches("NotAction", action)
        else:
            concerned = self._check_element_matches("Action", action)
        if not concerned:
            return PermissionResult.NEUTRAL
        if principal is not None or "Principal" in statement:
            # A trust policy (sts:AssumeRole): moto's own evaluation.
            return original_statement_result(
                self, action, resource, principal, incoming_condition_values
            )
        if "Condition" in statement:
            context = getattr(_CONTEXT, "values", None) or {}
            if not _conditions_hold(statement["Condition"], context):
                return PermissionResult.NEUTRAL
        if "NotResource" in statement:
            matches = not self._check_element_matches("NotResource", resource)
        else:
            matches = self._check_element_matches("Resource", resource)
        if not matches:
            return PermissionResult.NEUTRAL
        if statement["Effect"] == "Allow":
            return PermissionResult.PERMITTED
        return PermissionResult.DENIED

    original_statement_result = access_control.IAMPolicyStatement.is_action_permitted
    access_control.IAMPolicyStatement.is_action_permitted = statement_result


def patch_scheduler_signatures() -> None:
    """No signature comparison for EventBridge Scheduler (see the module doc, 4)."""
    from moto.iam import access_control

    check = access_control.IAMRequestBase.check_signature

    def check_signature(self: Any) -> None:
        if self._service != "scheduler":
            check(self)

    access_control.IAMRequestBase.check_signature = check_signature


def main() -> None:
    # moto 5.2.5 cannot start executions on aliases: the local stack's patch does.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "infra" / "local"))
    import moto_dropflow

    moto_dropflow.check_moto_version()
    moto_dropflow.patch_start_execution()
    patch_resources()
    patch_scheduler_signatures()
    patch_action_names()
    patch_conditions()
    from moto.server import main as moto_main

    moto_main(sys.argv[1:])


if __name__ == "__main__":
    main()
