# expect: The terminal step end should not have a self.next() transition. Just remove it.
# line: 12
from metaflow import FlowSpec, step

class EndNextFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        self.next()


if __name__ == "__main__":
    EndNextFlow()
