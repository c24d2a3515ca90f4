# expect: The terminal step end was reached before a split started at step(s) a, b were joined. Add a join step before end.
# line: 19
from metaflow import FlowSpec, step

class EndBeforeJoinFlow(FlowSpec):
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
    def end(self):
        pass


if __name__ == "__main__":
    EndBeforeJoinFlow()
