from metaflow import FlowSpec, Parameter, step


class RecursiveSwitchFlow(FlowSpec):
    limit = Parameter("limit", default=5, help="Iterations")

    @step
    def start(self):
        self.count = 0
        self.next(self.tick)

    @step
    def tick(self):
        self.count += 1
        self.status = "again" if self.count < self.limit else "done"
        self.next({"again": self.tick, "done": self.finish}, condition="status")

    @step
    def finish(self):
        self.next(self.end)

    @step
    def end(self):
        print("ticked", self.count)


if __name__ == "__main__":
    RecursiveSwitchFlow()
