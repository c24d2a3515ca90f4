from metaflow import FlowSpec, step


class ForeachInBranchFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.plain, self.fan)

    @step
    def plain(self):
        self.result = 0
        self.next(self.join)

    @step
    def fan(self):
        self.items = [1, 2, 3, 4]
        self.next(self.work, foreach="items")

    @step
    def work(self):
        self.result = self.input
        self.next(self.gather)

    @step
    def gather(self, inputs):
        self.result = sum(i.result for i in inputs)
        self.next(self.join)

    @step
    def join(self, inputs):
        self.results = sorted(i.result for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        print(self.results)


if __name__ == "__main__":
    ForeachInBranchFlow()
