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
