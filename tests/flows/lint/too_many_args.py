# expect: Step work has too many arguments. Normal steps take only 'self' as an argument. Join steps take 'self' and 'inputs'.
# line: 11
from metaflow import FlowSpec, step

class TooManyArgsFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.work)

    @step
    def work(self, inputs, extra):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    TooManyArgsFlow()
