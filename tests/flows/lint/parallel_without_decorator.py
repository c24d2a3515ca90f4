# expect: Step start is called as a parallel step with self.next(num_parallel=..) but does not have a @parallel decorator.
# line: 8
from metaflow import FlowSpec, step
from metaflow import parallel

class ParallelWithoutDecoratorFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.train, num_parallel=2)

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
    ParallelWithoutDecoratorFlow()
