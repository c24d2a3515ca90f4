from metaflow import FlowSpec, catch, current, retry, step


class RetryInForeachFlow(FlowSpec):
    """Inside a foreach (each item a child execution of a Distributed Map): `work` fails
    its first attempt for item 2 and succeeds on its retry; `guard` raises for item 1 and
    `@catch` keeps the run going."""

    @step
    def start(self):
        self.items = [1, 2]
        self.next(self.work, foreach="items")

    @retry(times=1, minutes_between_retries=0)
    @step
    def work(self):
        if self.input == 2 and current.retry_count == 0:
            raise RuntimeError("first attempt fails on purpose")
        self.item = self.input
        self.succeeded_on = current.retry_count
        self.next(self.guard)

    @catch(var="err")
    @step
    def guard(self):
        if self.item == 1:
            raise ValueError("caught boom")
        self.next(self.join)

    @step
    def join(self, inputs):
        self.attempts = sorted([i.item, i.succeeded_on] for i in inputs)
        self.caught = sorted(
            [i.item, str(i.err.exception) if i.err else None] for i in inputs
        )
        self.next(self.end)

    @step
    def end(self):
        print(self.attempts, self.caught)


if __name__ == "__main__":
    RetryInForeachFlow()
