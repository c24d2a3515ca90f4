# expect: Your flow must have exactly one start step. Either name a step 'start' or use @step(start=True).
# line: none
from metaflow import FlowSpec, step

class MissingStartFlow(FlowSpec):
    @step
    def begin(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    MissingStartFlow()
