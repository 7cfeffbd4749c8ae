"""The one exception type the CLI turns into a one-line error and a non-zero exit."""


class QuantizeError(Exception):
    """Bad input or an impossible request, with a message a user can act on."""
