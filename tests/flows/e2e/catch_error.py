from metaflow import FlowSpec, catch, step


class CatchErrorFlow(FlowSpec):
    """`explode` raises; `@catch` stores the exception in `err` and the run goes on."""

    @step
    def start(self):
        self.next(self.explode)

    @catch(var="err")
    @step
    def explode(self):
        self.before = "set before raising"
        raise ValueError("caught boom")
        self.next(self.end)  # noqa: unreachable, but Metaflow's graph needs it

    @step
    def end(self):
        # The wrapper's traceback names file paths, which differ between runs: keep
        # what the comparison can use.
        self.caught = [self.err.type, str(self.err.exception)] if self.err else None


if __name__ == "__main__":
    CatchErrorFlow()
