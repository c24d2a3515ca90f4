# expect: A conditional path cannot lead directly to a join step.\nIn your conditional step(s) a, one or more of the possible paths transition directly to the join step join.\nAs a workaround, please introduce an intermediate, unconditional step on that specific path before joining.
# line: 24
from metaflow import FlowSpec, step

class AmbiguousJoinFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.route = "direct"
        self.next({"direct": self.join, "detour": self.detour}, condition="route")

    @step
    def detour(self):
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
    AmbiguousJoinFlow()
