"""Property: under random bursts and deletions, node groups stay within [min, max], and no pod stays
unschedulable while a group with room could take it (once the provisioning delay has passed)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_cluster_autoscaler import deployment

import labkit
from labkit.cloud.nodepools import PROVISION_DELAY_S

GROUPS = {"elastic": (1, 3), "large": (0, 2)}

ops = st.lists(
    st.tuples(st.sampled_from(["scale", "delete-pod"]), st.integers(0, 14), st.integers(5, 400)),
    min_size=1,
    max_size=6,
)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 3), steps=ops)
def test_groups_stay_within_bounds_and_pending_pods_get_nodes(seed, steps):
    c = labkit.Cluster(seed=seed)
    c.add_node_pool("base", "ecs.g7.xlarge", 1)
    c.add_node_pool("elastic", "ecs.g7.xlarge", 1, min_size=1, max_size=3)
    c.add_node_pool("large", "ecs.g7.2xlarge", 0, min_size=0, max_size=2)
    c.apply(deployment("web", 0))
    seen: list[tuple[str, int, int]] = []

    def check():
        for name, (lo, hi) in GROUPS.items():
            pool = c.cloud_provider.pools[name]
            live = len(pool.instances())
            seen.append((name, pool.target_size(), live))
            assert lo <= pool.target_size() <= hi, (name, pool.target_size())
            assert live <= hi, (name, live)

    def monitor():
        while True:
            check()
            yield c.env.daemon_timeout(2.5)

    c.env.process(monitor())
    for kind, value, wait in steps:
        if kind == "scale":
            c.scale("Deployment", "web", value)
        else:
            pods = sorted(
                p["metadata"]["name"] for p in c.list("Pod") if not p["metadata"].get("deletionTimestamp")
            )
            if pods:
                c.delete("Pod", pods[value % len(pods)])
        c.run(until=c.now + wait)
        check()
    c.run(until=c.now + 10 + PROVISION_DELAY_S[1] + 30)
    check()
    pending = [p for p in c.list("Pod") if not p["spec"].get("nodeName")]
    if pending:  # every 1-vCPU pod fits either template: only full groups excuse a waiting pod
        room = [n for n, (_, hi) in GROUPS.items() if c.cloud_provider.pools[n].target_size() < hi]
        assert not room, (room, [p["metadata"]["name"] for p in pending])
