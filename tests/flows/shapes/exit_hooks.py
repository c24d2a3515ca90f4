"""Exit hooks: `notify` after the run succeeds, `notify` and `cleanup` after a failure."""

from metaflow import FlowSpec, exit_hook, step


def notify(run=None):
    print("run", run)


def cleanup():
    print("cleaning up")


@exit_hook(on_success=[notify], on_error=[notify, "cleanup"])
class ExitHookShapeFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ExitHookShapeFlow()
