from metaflow import FlowSpec, step


class SwitchInBranchFlow(FlowSpec):
    @step
    def start(self):
        self.flag = "yes"
        self.next(self.decide, self.other)

    @step
    def decide(self):
        self.next({"yes": self.accept, "no": self.reject}, condition="flag")

    @step
    def accept(self):
        self.outcome = "accepted"
        self.next(self.after)

    @step
    def reject(self):
        self.outcome = "rejected"
        self.next(self.after)

    @step
    def after(self):
        self.next(self.join)

    @step
    def other(self):
        self.outcome = "other"
        self.next(self.join)

    @step
    def join(self, inputs):
        self.outcomes = sorted(i.outcome for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        print(self.outcomes)


if __name__ == "__main__":
    SwitchInBranchFlow()
