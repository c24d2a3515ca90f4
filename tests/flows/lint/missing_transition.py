# expect: Step work is missing a self.next() transition to the next step. Add a self.next() as the last line in the function.
# line: 11
from metaflow import FlowSpec, step

class MissingTransitionFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.work)

    @step
    def work(self):
        self.x = 1

    @step
    def end(self):
        pass


if __name__ == "__main__":
    MissingTransitionFlow()
