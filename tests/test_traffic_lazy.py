"""Request-level traffic computed on demand gives the records it gives event by event.

The engine processes arrivals only when something could change their fate (a socket, a node,
kube-proxy's rules: the ``before_change`` hooks), when metrics-server reads usage and when a view
is read; the original engine woke at every SimPy event. Same scenario, both ways: the same records.
"""

from __future__ import annotations

import numpy as np
import pytest

from labkit.workloads.engine import TrafficEngine
from tests.network_support import web_cluster


def _scenario(eager: bool, monkeypatch, mode: str):
    monkeypatch.setattr(TrafficEngine, "_EAGER", eager)
    c = web_cluster(proxy_mode=mode, concurrency=2, replicas=4)
    t = c.traffic("web:80", rate=300, duration=240)
    c.run(until=c.now + 30)
    mid = t.summary()
    c.rollout_restart("Deployment", "web")
    c.run(until=c.now + 40)
    c.delete("Pod", c.list("Pod", label_selector="app=web")[0]["metadata"]["name"])
    c.run(until=c.now + 20)
    c.fail_node(c.list("Node")[1]["metadata"]["name"])
    c.run(until=c.now + 80)
    c.recover_node(c.list("Node")[1]["metadata"]["name"])
    c.run()
    usage = {s.index: float(s.cpu_seconds(c.now)) for s in c.dataplane.sockets} \
        if hasattr(c.dataplane.sockets[0], "cpu_seconds") else {}
    return mid, t.summary(), t.frame(), c.now, usage


@pytest.mark.parametrize("mode", ["iptables", "ipvs"])
def test_lazy_and_eager_request_engines_give_the_same_records(monkeypatch, mode):
    lazy = _scenario(False, monkeypatch, mode)
    eager = _scenario(True, monkeypatch, mode)
    assert lazy[0] == eager[0] and lazy[1] == eager[1] and lazy[3] == eager[3]
    a, b = lazy[2], eager[2]
    cols = ["status", "pod", "node", "entry_node", "client"]
    assert len(a) == len(b) and (a[cols] == b[cols]).all().all()
    assert np.allclose(a["sent_s"], b["sent_s"], rtol=0, atol=1e-9)
    assert np.allclose(a["done_s"].fillna(-1), b["done_s"].fillna(-1), rtol=0, atol=1e-9)
    assert set(a["status"]) >= {"ok", "refused", "timeout"}
    assert lazy[4] == pytest.approx(eager[4], abs=1e-9)
