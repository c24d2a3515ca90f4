# expect: Your flow must have exactly one end step. Either name a step 'end' or use @step(end=True).
# line: none
from metaflow import FlowSpec, step

class MissingEndFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.finish)

    @step
    def finish(self):
        pass


if __name__ == "__main__":
    MissingEndFlow()
