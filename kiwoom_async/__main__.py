"""``python -m kiwoom_async``: the ``kiwoom-async`` command (see :mod:`kiwoom_async.cli`)."""

from __future__ import annotations

from .cli import main

__all__ = ["main"]

if __name__ == "__main__":
    main()
