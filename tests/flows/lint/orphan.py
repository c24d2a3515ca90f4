# expect: Step forgotten is unreachable from the entry step start. Add self.next(forgotten) in another step or remove forgotten.
# line: 11
from metaflow import FlowSpec, step

class OrphanFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def forgotten(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    OrphanFlow()
