# expect: Multiple steps annotated with @step(end=True): done, finished. Exactly one is allowed.
# line: none
from metaflow import FlowSpec, step

class MultipleEndFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.done, self.finished)

    @step(end=True)
    def finished(self):
        pass

    @step(end=True)
    def done(self):
        pass


if __name__ == "__main__":
    MultipleEndFlow()
