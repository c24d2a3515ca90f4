# expect: Step start is a split that transitions directly to the join step join, so that branch of the split has no steps. Add at least one step between the split and the join.
# line: 8
# metaflow: crashes
from metaflow import FlowSpec, step

class SplitToJoinFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.a, self.join)

    @step
    def a(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    SplitToJoinFlow()
