# expect: The start step start has incoming transitions from work. A start step must have no incoming transitions.
# line: 7
from metaflow import FlowSpec, step

class StartIncomingFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.work)

    @step
    def work(self):
        self.next(self.start)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    StartIncomingFlow()
