"""How many CPU cores this process may run on (its affinity mask where the OS has one)."""

import os


def usable_cores(limit=None):
    """Cores this process may use, at least 1 and at most ``limit``.

    ``os.sched_getaffinity`` honours taskset and container CPU sets (Linux);
    elsewhere ``os.cpu_count`` is the best answer.
    """
    if hasattr(os, "sched_getaffinity"):
        count = len(os.sched_getaffinity(0))
    else:
        count = os.cpu_count() or 1
    return max(1, min(count, limit) if limit else count)
