# expect: Step join seems like a join step (it takes an extra input argument) but step skip, which leads to it, is outside the split it joins (the split into a, b). Ensure that every step leading to a join comes from a branch of that split.
# line: 29
# metaflow: crashes
from metaflow import FlowSpec, step

class JoinFromOutsideFlow(FlowSpec):
    @step
    def start(self):
        self.route = "split"
        self.next({"split": self.fan, "skip": self.skip}, condition="route")

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
    def skip(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    JoinFromOutsideFlow()
