"""What the gateway answers instead of a result; surfaces turn each into their protocol's error."""

from __future__ import annotations

from hub.gateway.ratelimit import Decision


class NotFound(Exception):
    """Unknown, or not visible to this caller: the two are deliberately the same answer."""


class InvalidCursor(Exception):
    pass


class Unavailable(Exception):
    """The target exists but cannot be reached now; the message is safe to show."""


class RateLimited(Exception):
    """Over a rate limit; the limiter's decision says when to retry."""

    def __init__(self, message: str, decision: Decision) -> None:
        super().__init__(message)
        self.decision = decision


class Forbidden(Exception):
    """The caller lacks the scope an operation needs (discovery needs `search`)."""
