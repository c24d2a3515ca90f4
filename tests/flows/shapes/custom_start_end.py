from metaflow import FlowSpec, step


class CustomStartEndFlow(FlowSpec):
    @step(start=True)
    def begin(self):
        self.v = 1
        self.next(self.finish)

    @step(end=True)
    def finish(self):
        print(self.v)


if __name__ == "__main__":
    CustomStartEndFlow()
