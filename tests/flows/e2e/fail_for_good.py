from metaflow import FlowSpec, step


class FailForGoodFlow(FlowSpec):
    """`explode` raises on every attempt: the run fails with its exception."""

    @step
    def start(self):
        self.next(self.explode)

    @step
    def explode(self):
        raise ValueError("boom")
        self.next(self.end)  # noqa: unreachable, but Metaflow's graph needs it

    @step
    def end(self):
        pass


if __name__ == "__main__":
    FailForGoodFlow()
