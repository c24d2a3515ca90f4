from metaflow import FlowSpec, step


class RecursiveSwitchInForeachFlow(FlowSpec):
    @step
    def start(self):
        self.limits = [1, 3]
        self.next(self.tick, foreach="limits")

    @step
    def tick(self):
        self.count = getattr(self, "count", 0) + 1
        self.status = "again" if self.count < self.input else "done"
        self.next({"again": self.tick, "done": self.tidy}, condition="status")

    @step
    def tidy(self):
        self.next(self.collect)

    @step
    def collect(self, inputs):
        self.counts = sorted(i.count for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        print(self.counts)


if __name__ == "__main__":
    RecursiveSwitchInForeachFlow()
