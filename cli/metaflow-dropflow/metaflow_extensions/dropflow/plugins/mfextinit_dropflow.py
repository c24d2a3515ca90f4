# dropflow's Metaflow extension: the `dropflow` command group of `python flow.py` and the
# `dropflow` implementation of Metaflow's Deployer API (`Deployer(flow).dropflow()`).
CLIS_DESC = [("dropflow", ".dropflow_cli.cli")]
DEPLOYER_IMPL_PROVIDERS_DESC = [("dropflow", ".dropflow_deployer.DropflowDeployer")]
