"""`Deployer("flow.py").dropflow(...)`: Metaflow's Deployer API for dropflow.
`create()` runs `python flow.py dropflow create` as Metaflow's Step Functions deployer
runs `step-functions create`; the deployed flow it returns runs the `dropflow` command."""

from typing import Any, ClassVar, Dict, Optional

from metaflow.runner.deployer_impl import DeployerImpl


class DropflowDeployer(DeployerImpl):
    """
    Deployer implementation for dropflow (AWS Step Functions, deployed from S3).

    Parameters
    ----------
    name : str, optional, default None
        State machine name. The flow name is used instead if this option is not
        specified.
    local : bool, optional, default False
        Use the local stack (`.dropflow/local.json` in the working directory or a parent).
    state_dir : str, optional, default None
        The local stack's state directory (implies `local`).
    api : str, optional, default None
        The trigger API's URL (default: $DROPFLOW_API).
    bucket : str, optional, default None
        The deployment bucket (default: $DROPFLOW_BUCKET).
    """

    TYPE: ClassVar[Optional[str]] = "dropflow"

    def __init__(self, deployer_kwargs: Dict[str, Any], **kwargs):
        self._deployer_kwargs = deployer_kwargs
        super().__init__(**kwargs)

    @property
    def deployer_kwargs(self) -> Dict[str, Any]:
        return self._deployer_kwargs

    @staticmethod
    def deployed_flow_type():
        from .dropflow_deployer_objects import DropflowDeployedFlow

        return DropflowDeployedFlow

    def create(self, **kwargs):
        """
        Deploy the flow with dropflow: pack it, upload it under `flows/`, wait for the
        deploy report. Raises `RuntimeError` with the report's errors when it failed.

        Parameters
        ----------
        tags : List[str], optional, default None
            Annotate all objects produced by the runs with these tags.
        user_namespace : str, optional, default None
            Change the namespace from the default (production token) to the given tag.
        max_workers : int, optional, default None
            Maximum number of parallel processes (dropflow's default: 100).
        workflow_timeout : int, optional, default None
            Workflow timeout in seconds.
        use_distributed_map : bool, optional, default None
            Foreaches as Distributed Maps (dropflow's default) or inline Maps (False).
        image, job_queue, platform : str, optional
            Default container image, Batch job queue, `ec2` or `fargate`.
        timeout : int, optional, default 120
            Seconds to wait for the deploy report.
        local, state_dir, api, bucket : optional
            Which stack (as on the deployer).

        Returns
        -------
        DropflowDeployedFlow
            The flow deployed with dropflow.
        """
        from .dropflow_deployer_objects import DropflowDeployedFlow

        return self._create(DropflowDeployedFlow, **kwargs)


_addl_stubgen_modules = ["metaflow_extensions.dropflow.plugins.dropflow_deployer_objects"]
