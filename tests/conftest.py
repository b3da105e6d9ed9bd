"""Shared test configuration.

Hypothesis: a CI profile with no deadline (numba's first call compiles, and the suite
must also pass with NUMBA_DISABLE_JIT=1) and derandomised examples so CI is repeatable.
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if os.environ.get("CI") else "dev")
