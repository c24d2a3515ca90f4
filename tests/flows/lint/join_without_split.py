# expect: Step join seems like a join step (it takes an extra input argument) but it is not preceded by a split. Ensure that there is a matching split for every join.
# line: 11
from metaflow import FlowSpec, step

class JoinWithoutSplitFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    JoinWithoutSplitFlow()
