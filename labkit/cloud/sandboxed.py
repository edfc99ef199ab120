"""ACK's Sandboxed-Container runtime (runV): the ``runv`` RuntimeClass and its pod overhead.

ACK runs pods in lightweight VMs (runV, Kata-based, behind ``containerd-shim-rund-v2``) on node pools
whose container runtime is ``Sandboxed-Container.runv``; those pools take only ECS Bare Metal Instance
types (:attr:`labkit.cloud.ecs.InstanceType.bare_metal`, checked in
:func:`labkit.cloud.ecs.node_manifest`), and their nodes carry
:data:`labkit.cloud.ecs.RUNV_NODE_LABEL`.

Every runV pod costs memory for its VM: ACK publishes the formula
``64 MiB + 2 % of the pod's memory request``, no less than 64 MiB and no more than 512 MiB
(ACK "Differences between runC and runV",
https://www.alibabacloud.com/help/en/ack/ack-managed-and-ack-dedicated/user-guide/differences-between-runc-and-runv).
A RuntimeClass can only declare a *fixed* overhead (``overhead.podFixed``, copied into every pod by the
RuntimeClass admission plugin), so :func:`runtime_class` writes the formula's value for one pod size:
exact for pods of that memory request.
"""

from __future__ import annotations

import math
from typing import Any

from labkit.api.quantity import check_quantity, to_units
from labkit.cloud.ecs import RUNV_HANDLER, RUNV_NODE_LABEL

__all__ = ["overhead_memory", "runtime_class", "OVERHEAD_MIN", "OVERHEAD_MAX"]

MIB = 1024**2
#: The formula's floor and ceiling.
OVERHEAD_MIN = 64 * MIB
OVERHEAD_MAX = 512 * MIB


def overhead_memory(request: str | int) -> int:
    """ACK's runV pod overhead (bytes) for a pod whose memory requests add up to ``request``.

    ``64 MiB + 2 % of the request``, clamped to [64 MiB, 512 MiB] and rounded up to a whole MiB
    (the rounding is the lab's: ACK states the formula, not its rounding). ``"256Mi"`` gives 70 MiB,
    ``"4Gi"`` 146 MiB, ``"32Gi"`` the 512 MiB ceiling.
    """
    amount = to_units(check_quantity(request, "request"))
    exact = OVERHEAD_MIN + amount * 2 / 100
    return min(OVERHEAD_MAX, max(OVERHEAD_MIN, math.ceil(exact / MIB) * MIB))


def runtime_class(pod_memory: str = "256Mi") -> dict[str, Any]:
    """The ``runv`` RuntimeClass as a manifest: handler ``runv``, the overhead of a ``pod_memory`` pod,
    and a ``scheduling.nodeSelector`` for the Sandboxed-Container pools' label (so pods of the class
    land only on those nodes, with nothing in their own spec)."""
    return {
        "apiVersion": "node.k8s.io/v1",
        "kind": "RuntimeClass",
        "metadata": {"name": RUNV_HANDLER},
        "handler": RUNV_HANDLER,
        "overhead": {"podFixed": {"memory": f"{overhead_memory(pod_memory) // MIB}Mi"}},
        "scheduling": {"nodeSelector": {RUNV_NODE_LABEL[0]: RUNV_NODE_LABEL[1]}},
    }
