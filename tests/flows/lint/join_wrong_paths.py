# expect: Step join seems like a join step (it takes an extra input argument) but an incorrect number of steps (a) lead to it. This join was expecting 2 incoming paths, starting from split step(s) a, b.
# line: 23
from metaflow import FlowSpec, step

class JoinWrongPathsFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.next(self.join)

    @step
    def b(self):
        self.next(self.after_b)

    @step
    def after_b(self):
        self.next(self.end)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    JoinWrongPathsFlow()
