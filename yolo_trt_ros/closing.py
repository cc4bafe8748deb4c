"""One ``with`` protocol for everything that owns resources: leaving the block calls ``close()``."""

from __future__ import annotations

from types import TracebackType
from typing import TypeVar

__all__ = ["ClosesOnExit"]

# typing.Self needs Python 3.11; a bound TypeVar says the same on 3.10 (ROS 2 Humble, JetPack 6).
_Owner = TypeVar("_Owner", bound="ClosesOnExit")


class ClosesOnExit:
    """Mixin: ``with thing:`` returns the thing and closes it on the way out, error or not."""

    def close(self) -> None:
        """Release what the object owns; safe to call twice."""
        raise NotImplementedError

    def __enter__(self: _Owner) -> _Owner:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
