"""Request-level traffic: load patterns, and what requests meet on their way to pods.

``labkit.workloads.Constant(200)``, ``Step(...)``, ``Spike(...)``, ``Diurnal(...)``, ``Trace(csv)``
are the rates ``c.traffic(rate=...)`` takes; :class:`Traffic` is what it returns. numpy is loaded
only when this package is.
"""

from __future__ import annotations

from labkit.workloads.patterns import Constant, Diurnal, Pattern, Spike, Step, Trace
from labkit.workloads.traffic import Traffic

__all__ = ["Constant", "Step", "Spike", "Diurnal", "Trace", "Pattern", "Traffic"]
