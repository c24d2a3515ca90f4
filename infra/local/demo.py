"""The demo's driver: deploy ParameterFlow by S3 upload, start it over the local HTTP API
with alpha=0.5, show its progress, and read the run back with Metaflow's Client.

Usage: python demo.py LOCAL_JSON FLOW_FILE (run by infra/local/demo.sh)."""

import io
import json
import os
import sys
import tarfile
import time
import urllib.error
import urllib.request

import boto3


def api(method, url, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def progress(step):
    """`start: 1 succeeded` from a step's progress entry."""
    status = step.get("status")
    if isinstance(status, dict):
        status = ", ".join("%s %s" % (n, state) for state, n in sorted(status.items()))
    return "%s: %s" % (step.get("step"), status)


def main(local_json, flow_file):
    endpoints = json.load(open(local_json))
    s3_endpoint, bucket, api_url = endpoints["s3_endpoint"], endpoints["bucket"], endpoints["api_url"]
    for name, value in [
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_DEFAULT_REGION", endpoints["region"]),
        ("METAFLOW_S3_ENDPOINT_URL", s3_endpoint),
        ("AWS_ENDPOINT_URL", s3_endpoint),
    ]:
        os.environ.setdefault(name, value)

    print("==> deploying: upload parameter_flow.tar.gz to s3://%s/flows/" % bucket)
    tarball = io.BytesIO()
    with tarfile.open(fileobj=tarball, mode="w:gz") as tar:
        tar.add(flow_file, arcname=os.path.basename(flow_file))
    s3 = boto3.client("s3", endpoint_url=s3_endpoint)
    s3.put_object(Bucket=bucket, Key="flows/parameter_flow.tar.gz", Body=tarball.getvalue())

    deadline = time.time() + 60
    while True:
        status, flow = api("GET", api_url + "/flows/ParameterFlow")
        if status == 200:
            break
        if time.time() > deadline:
            report = s3.get_object(Bucket=bucket, Key="reports/parameter_flow.tar.gz.json")
            sys.exit("deployment did not appear; report: %s" % report["Body"].read().decode())
        time.sleep(0.2)
    print("    deployed: state machine %s, version %s" % (flow.get("name") or flow.get("state_machine"), flow.get("version")))

    print('==> starting a run: POST %s/flows/ParameterFlow/runs {"alpha": 0.5}' % api_url)
    status, run = api("POST", api_url + "/flows/ParameterFlow/runs", {"alpha": 0.5})
    if status != 201:
        sys.exit("the API refused the run (%s): %s" % (status, run))
    run_id = run["run_id"]
    print("    run %s" % run_id)

    shown = None
    deadline = time.time() + 300
    while True:
        status, detail = api("GET", "%s/flows/ParameterFlow/runs/%s" % (api_url, run_id))
        steps = detail.get("steps") or []
        line = "    %-9s %s" % (detail.get("status"), "  ".join(progress(s) for s in steps))
        if line != shown:
            print(line)
            shown = line
        if detail.get("status") not in ("RUNNING", None):
            break
        if time.time() > deadline:
            sys.exit("the run did not finish in 5 minutes")
        time.sleep(0.5)
    if detail["status"] != "SUCCEEDED":
        sys.exit("the run ended %s: %s" % (detail["status"], detail.get("error") or detail))

    print("==> reading the run back with Metaflow's Client")
    if endpoints.get("metadata_url"):
        os.environ["METAFLOW_DEFAULT_METADATA"] = "service"
        os.environ["METAFLOW_SERVICE_URL"] = endpoints["metadata_url"]
        # The local metadata service is closed like the AWS one: its key is in local.json.
        os.environ["METAFLOW_SERVICE_AUTH_KEY"] = endpoints["metadata_auth_key"]
    else:
        os.environ["METAFLOW_DATASTORE_SYSROOT_LOCAL"] = os.path.join(
            os.path.dirname(local_json), "metaflow"
        )
    from metaflow import Run, namespace

    namespace(None)
    metaflow_run = Run("ParameterFlow/%s" % run_id)
    print("    run:   %s (successful: %s)" % (metaflow_run.pathspec, metaflow_run.successful))
    print("    steps: %s" % ", ".join(step.id for step in reversed(list(metaflow_run))))
    print("    alpha: %s" % metaflow_run["end"].task.data.alpha)


if __name__ == "__main__":
    main(*sys.argv[1:3])
