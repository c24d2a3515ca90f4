# expect: An @parallel step should be followed by a join step. Step report is called after an @parallel step but is not a join step. Please add an extra `inputs` argument to the step.
# line: 13
from metaflow import FlowSpec, step
from metaflow import parallel

class ParallelNotJoinedFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.train, num_parallel=2)

    @parallel
    @step
    def train(self):
        self.next(self.report)

    @step
    def report(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ParallelNotJoinedFlow()
