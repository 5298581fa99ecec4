"""A progress line on stderr for long commands (tqdm), off for JSON output and ``--quiet``.

A flow at large ``d`` spends seconds to minutes in ``O(D^3)`` gradient evaluations that
report nothing back; :func:`busy` shows a tqdm line with the stage and the elapsed time,
refreshed by a daemon thread, so a long run is visibly alive.  It writes only to stderr
and never changes a result.
"""
from __future__ import annotations

import contextlib
import sys
import threading

from tqdm import tqdm

__all__ = ["busy", "wanted"]


def wanted(args) -> bool:
    """Progress is shown when stderr is a terminal, the format is not JSON and ``--quiet``
    is not given.

    Args:
        args: the parsed command-line arguments.

    Returns:
        bool.
    """
    return (not getattr(args, "quiet", False) and getattr(args, "format", "text") != "json"
            and sys.stderr.isatty())


@contextlib.contextmanager
def busy(desc: str, enabled: bool):
    """Show ``desc`` with the elapsed time on stderr while the block runs.

    Args:
        desc: what is being computed.
        enabled: show anything at all (see :func:`wanted`).

    Returns:
        A context manager.
    """
    if not enabled:
        yield
        return
    bar = tqdm(total=None, desc=desc, file=sys.stderr, leave=False,
               bar_format="{desc}: {elapsed} elapsed")
    stop = threading.Event()

    def tick():
        while not stop.wait(0.5):
            bar.refresh()
    th = threading.Thread(target=tick, daemon=True)
    th.start()
    try:
        yield
    finally:
        stop.set()
        th.join()
        bar.close()
