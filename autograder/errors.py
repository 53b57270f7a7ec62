"""Errors the CLI reports as one clear line instead of a traceback."""


class AutograderError(Exception):
    """A problem with the autograder's own input (config, fixtures, paths), worded for a person."""


class ConfigError(AutograderError):
    """The assignment config is wrong; the message names the file and the key."""

    def __init__(self, path: object, key: str, problem: str) -> None:
        super().__init__(f"{path}: {key}: {problem}")
        self.path, self.key, self.problem = path, key, problem


class FixtureError(AutograderError):
    """A fixture file is missing, unreadable or malformed; the message names the file."""
