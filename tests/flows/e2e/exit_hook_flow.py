"""Exit hooks on the local stack: each hook writes what it was given to
`s3://<datastore bucket>/hook-results/<run id>/<hook>.json`; `broken` always raises,
so the error run also has a failing hook (which must not change the run's outcome)."""

import json
import os

from metaflow import FlowSpec, Parameter, exit_hook, step


def _write(name, run):
    import boto3

    root = os.environ["METAFLOW_DATASTORE_SYSROOT_S3"][len("s3://") :]
    bucket = root.split("/")[0]
    endpoint = os.environ.get("METAFLOW_S3_ENDPOINT_URL")
    body = {
        "pathspec": run.pathspec if run is not None else None,
        "successful": run.successful if run is not None else None,
    }
    boto3.client("s3", **({"endpoint_url": endpoint} if endpoint else {})).put_object(
        Bucket=bucket,
        Key="hook-results/%s/%s.json" % (run.id if run is not None else "none", name),
        Body=json.dumps(body).encode(),
    )


def on_success_hook(run=None):
    _write("on_success_hook", run)


def on_error_hook(run=None):
    _write("on_error_hook", run)


def broken():
    raise RuntimeError("this hook always fails")


@exit_hook(on_success=[on_success_hook], on_error=[broken, on_error_hook])
class ExitHookFlow(FlowSpec):
    fail = Parameter("fail", type=bool, default=False)

    @step
    def start(self):
        if self.fail:
            raise ValueError("failing on purpose")
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ExitHookFlow()
