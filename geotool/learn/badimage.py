"""The one exception of an unusable training image.

It has a module of its own because both readers raise it: ``learn.data`` (image files)
and ``learn.shards`` (shard records), and ``learn.data`` calls ``learn.shards`` — with the
exception in ``data``, the two imported each other.
"""

from __future__ import annotations

__all__ = ["BadImage"]


class BadImage(Exception):
    """An image that cannot be used; the message is the reason recorded (an image problem
    is recorded per image and skipped, never a user error that stops the run)."""
