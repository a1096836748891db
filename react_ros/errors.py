"""Errors for bad input from the robot's sensors: each names its kind of problem."""


class InputProblem(ValueError):
    """Input that cannot be used; `problem` is a short key for throttling warnings by kind."""

    def __init__(self, problem: str, text: str):
        super().__init__(text)
        self.problem = problem
