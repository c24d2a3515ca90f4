# expect: Step Work has an invalid name. Only lowercase ascii characters, underscores, and digits are allowed.
# line: 11
from metaflow import FlowSpec, step

class InvalidNameFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.Work)

    @step
    def Work(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    InvalidNameFlow()
