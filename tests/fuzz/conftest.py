"""Hypothesis profiles for the bad-input tests (issue 7).

- `RESOCKET_FUZZ` unset or `ci`: a seeded short run (derandomized, so CI failures reproduce exactly),
  a few seconds per property.
- `RESOCKET_FUZZ=long`: the long run of `make fuzz`; `RESOCKET_FUZZ_EXAMPLES` examples per property
  (default 20,000; the million-case runs are the atheris harnesses in fuzz/).

The profiles are registered under their own names and applied per test with `FUZZ` (never loaded
globally), so they do not change the settings of other test directories.
"""
from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "resocket-fuzz-ci", max_examples=int(os.environ.get("RESOCKET_FUZZ_EXAMPLES", "400")),
    derandomize=True, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "resocket-fuzz-long", max_examples=int(os.environ.get("RESOCKET_FUZZ_EXAMPLES", "20000")),
    derandomize=False, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

#: The profile chosen by RESOCKET_FUZZ; use as `@settings(FUZZ)` (or `settings(FUZZ, max_examples=...)`).
FUZZ_MODE = "long" if os.environ.get("RESOCKET_FUZZ", "ci").lower() == "long" else "ci"
settings.register_profile("resocket-fuzz", settings.get_profile(f"resocket-fuzz-{FUZZ_MODE}"))
