# expect: A conditional path cannot lead directly to a join step.\nIn your conditional step(s) start, one or more of the possible paths transition directly to the join step join.\nAs a workaround, please introduce an intermediate, unconditional step on that specific path before joining.
# line: 25
# metaflow: crashes
from metaflow import FlowSpec, step

class SwitchIntoOuterJoinFlow(FlowSpec):
    @step
    def start(self):
        self.route = "split"
        self.next({"split": self.fan, "skip": self.join}, condition="route")

    @step
    def fan(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.next(self.join)

    @step
    def b(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    SwitchIntoOuterJoinFlow()
