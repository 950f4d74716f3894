"""Hypothesis profiles: ``default`` keeps ``make test`` quick, ``deep`` is for ``make fuzz``.

``make fuzz`` passes ``--hypothesis-profile=deep``; this conftest is then loaded before
the profile is chosen, so both must be registered here. The built-in ``default`` is
replaced (and reloaded unless another profile was chosen on the command line).
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

_COMMON = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large]}

settings.register_profile("default", max_examples=80, **_COMMON)  # type: ignore[arg-type]
settings.register_profile("deep", max_examples=5000, **_COMMON)  # type: ignore[arg-type]
if settings.get_current_profile_name() == "default":
    settings.load_profile("default")
