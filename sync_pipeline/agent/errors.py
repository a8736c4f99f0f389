"""Errors the agent API raises: every one says what to fix, and nothing invalid is queued."""


class InvalidRequest(ValueError):
    """The call's arguments cannot be queued as they are; the message says which and why."""


class UnknownContact(InvalidRequest):
    """No live local contact has that id (sync first, or check the id)."""
