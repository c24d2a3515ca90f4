# expect: The terminal step end should not be a join step (it gets an extra argument). Add a join step before it.
# line: none
from metaflow import FlowSpec, step

class EndJoinFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.next(self.end)

    @step
    def b(self):
        self.next(self.end)

    @step
    def end(self, inputs):
        pass


if __name__ == "__main__":
    EndJoinFlow()
