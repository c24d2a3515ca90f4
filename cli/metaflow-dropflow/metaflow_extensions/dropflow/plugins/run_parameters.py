"""A run's parameters as the `dropflow run` command takes them (`--NAME VALUE`, after a
lone `--` so no parameter name is read as one of the command's own options)."""

import json


def parameter_text(value):
    """`value` as text: JSON for lists and dicts, `true`/`false` for booleans."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value)
    return str(value)


def parameter_words(values):
    """`{"alpha": 0.5}` → `["--alpha", "0.5"]`, in the order given; `None` values are
    left out (the deployed default applies)."""
    words = []
    for name, value in values.items():
        if value is not None:
            words += ["--" + name, parameter_text(value)]
    return words


def run_variable(option):
    """The environment variable `python flow.py run` reads for the parameter whose click
    option is `option` (`no_default_param` → `METAFLOW_RUN_NO_DEFAULT_PARAM`: click's
    automatic variable, prefix `METAFLOW` and the command `run`)."""
    return "METAFLOW_RUN_" + option.upper()
