from metaflow import FlowSpec, step


class FailInForeachFlow(FlowSpec):
    """The foreach's second item raises on every attempt: the run fails with its exception,
    raised in a child execution of the foreach's Distributed Map."""

    @step
    def start(self):
        self.items = [1, 2]
        self.next(self.work, foreach="items")

    @step
    def work(self):
        if self.input == 2:
            raise ValueError("boom")
        self.value = self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.values = [i.value for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    FailInForeachFlow()
