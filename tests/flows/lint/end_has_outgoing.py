# expect: The end step end has outgoing transitions. An end step must have no outgoing transitions (no self.next()).
# line: 11
from metaflow import FlowSpec, step

class EndOutgoingFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        self.next(self.cleanup)

    @step
    def cleanup(self):
        pass


if __name__ == "__main__":
    EndOutgoingFlow()
