from metaflow import FlowSpec, project, schedule, step


@project(name="demo_project")
@schedule(cron="0 10 * * ? *", timezone="Europe/Paris")
class ProjectScheduleFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ProjectScheduleFlow()
