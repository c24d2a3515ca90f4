# expect: Step train has a @parallel decorator, but is not called with self.next(num_parallel=...) from step start.
# line: 17
from metaflow import FlowSpec, step
from metaflow import parallel

class ParallelNotCalledFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.train, self.evaluate)

    @step
    def evaluate(self):
        self.next(self.join)

    @parallel
    @step
    def train(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ParallelNotCalledFlow()
