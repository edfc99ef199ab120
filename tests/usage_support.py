"""A web scenario whose pods carry a CPU limit (imported as ``usage_support``): the
:func:`traffic_support.web_cluster` Deployment with ``resources.limits.cpu`` set."""

from __future__ import annotations

from typing import Any

import traffic_support
from traffic_support import web_cluster


def limited_web_cluster(engine: str = "vectorized", cpu_limit: str = "250m", **kw: Any):
    """:func:`traffic_support.web_cluster` whose container has ``limits.cpu: cpu_limit``."""
    original = traffic_support.deployment

    def with_limit(*args: Any, **kwargs: Any) -> dict[str, Any]:
        d = original(*args, **kwargs)
        d["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"] = {"cpu": cpu_limit}
        return d

    traffic_support.deployment = with_limit
    try:
        return web_cluster(engine=engine, **kw)
    finally:
        traffic_support.deployment = original
