"""A deployment's runs, every page of `dropflow runs`."""


def list_runs_of(command, name, target, states):
    """Every run of state machine `name` in `states` (all when empty), newest first."""
    runs = []
    for state in states or [None]:
        token = None
        while True:
            args = ["runs", name, "--json", "--limit", "1000"] + target.flags()
            if state:
                args += ["--status", state]
            if token:
                args += ["--next-token", token]
            _, page = command.run(args)
            runs += page.get("runs") or []
            token = page.get("next_token")
            if not token:
                break
    runs.sort(key=lambda r: r.get("start_date") or "", reverse=True)
    return runs
