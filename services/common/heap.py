"""How a service's heap is collected once it has started."""

from __future__ import annotations

import gc


def settle_heap(young_threshold: int) -> None:
    """Freeze what startup built out of the collector's reach; collect the young less often.

    Measured in a burst (docs/bench/README.md, session 10): with CPython's defaults, a tenth of
    intake's and routing's CPU went to the cycle collector, and each full collection held the
    event loop for about 150 ms, walking objects that live as long as the process. Frozen, they
    are never walked again. Reference counting still frees almost everything at once; the
    collector is only for cycles, and a larger young generation lets a request's short-lived
    objects die before they are walked and promoted.
    """
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(young_threshold, middle, old)
