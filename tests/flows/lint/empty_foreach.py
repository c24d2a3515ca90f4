# expect: Step start is a foreach split that has no children: it is followed immediately by a join step, join. Add at least one step between the split and the join.
# line: 8
# metaflow: crashes
from metaflow import FlowSpec, step

class EmptyForeachFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2]
        self.next(self.join, foreach="items")

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    EmptyForeachFlow()
