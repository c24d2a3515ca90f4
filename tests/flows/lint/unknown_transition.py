# expect: Step start specifies a self.next() transition to an unknown step, wrok.
# line: 8
from metaflow import FlowSpec, step

class UnknownTransitionFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.wrok)

    @step
    def work(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    UnknownTransitionFlow()
