# expect: Step _work has an invalid name. Only lowercase ascii characters, underscores, and digits are allowed.
# line: 11
from metaflow import FlowSpec, step

class UnderscoreNameFlow(FlowSpec):
    @step
    def start(self):
        self.next(self._work)

    @step
    def _work(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    UnderscoreNameFlow()
