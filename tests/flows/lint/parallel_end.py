# expect: An @parallel step should be followed by a join step. Step end has a @parallel decorator but no self.next() transition to a join step. Remove @parallel from end.
# line: 14
# metaflow: crashes
from metaflow import FlowSpec, step
from metaflow import parallel

class ParallelEndFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @parallel
    @step
    def end(self):
        pass


if __name__ == "__main__":
    ParallelEndFlow()
