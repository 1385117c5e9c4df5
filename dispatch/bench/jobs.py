"""A job that does nothing: the worker class's own ceiling."""


def noop() -> None:
    """Return at once."""
