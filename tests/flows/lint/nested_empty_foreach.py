# expect: Step each_join seems like a join step (it takes an extra input argument) but an incorrect number of steps (a) lead to it. This join was expecting 1 incoming paths, starting from split step(s) each_join.
# line: 16
from metaflow import FlowSpec, step

class NestedEmptyForeachFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.items = [1, 2]
        self.next(self.each_join, foreach="items")

    @step
    def each_join(self, inputs):
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
    NestedEmptyForeachFlow()
