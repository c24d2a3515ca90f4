# expect: Step work is missing the 'self' argument.
# line: 11
from metaflow import FlowSpec, step

class MissingSelfFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.work)

    @step
    def work():
        pass

    @step
    def end(self):
        pass


if __name__ == "__main__":
    MissingSelfFlow()
