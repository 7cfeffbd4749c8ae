"""Errors the CLI reports as one line and a non-zero exit."""


class TrainError(Exception):
    """A problem with the user's input: corpus, configuration, output directory."""
