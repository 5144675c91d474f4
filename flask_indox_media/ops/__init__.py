"""What operators run: bucket rules (:mod:`.bucket_rules`), sweeping expired
objects (:mod:`.sweep`), a user's erasure and export (:mod:`.users`), copying
between backends (:mod:`.backfill`) and the checks of ``doctor``
(:mod:`.doctor`). Each function takes the app's state and returns what it did;
the ``flask indox-media`` commands print it. All are safe to re-run."""

from __future__ import annotations

from collections.abc import Callable

#: Called with how many more items were handled.
Progress = Callable[[int], None]


def no_progress(n: int) -> None:
    pass
