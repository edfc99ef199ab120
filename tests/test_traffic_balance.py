"""How kube-proxy spreads new connections over a Service's endpoints.

iptables' probability chain (rule i of n matches with probability 1/(n−i)) and nftables'
``numgen random mod n`` both pick uniformly at random; ipvs ``rr`` walks the endpoint list in
order, one cursor per node (each node's IPVS has its own virtual server).
"""

from __future__ import annotations

import numpy as np
import pytest
from traffic_support import chi2_sf, chi_square, web_cluster

PODS = 20
REQUESTS = 200_000
#: χ² critical value for 19 degrees of freedom at p = 0.001: 43.820, from the NIST/SEMATECH
#: e-Handbook of Statistical Methods, section 1.3.6.7.4 ("Critical Values of the Chi-Square
#: Distribution", upper tail). traffic_support.chi2_sf recomputes it below.
CHI2_CRIT_DF19_P001 = 43.820


def test_chi_square_critical_value_is_the_tables():
    assert chi2_sf(CHI2_CRIT_DF19_P001, PODS - 1) == pytest.approx(0.001, rel=1e-3)


@pytest.mark.parametrize("mode", ["iptables", "nftables"])
def test_random_modes_choose_endpoints_uniformly(mode):
    """Counts per pod over 200,000 requests (10,000 expected each) against the uniform law:
    Pearson's χ² = Σ (observed − expected)² / expected with k − 1 = 19 degrees of freedom stays
    below the p = 0.001 critical value, overall and for each entry node's kube-proxy alone (its
    own random stream)."""
    web = web_cluster(proxy_mode=mode, replicas=PODS, service_time="constant 1ms", concurrency=100)
    c = web.cluster
    t = c.traffic(web.target, rate=10_000, duration=REQUESTS / 10_000)
    c.run()
    df = t.frame()
    assert (df["status"] == "ok").all()
    names = web.pods_by_ip()
    counts = df["pod"].value_counts().reindex(names, fill_value=0).to_numpy()
    assert counts.sum() == len(df) >= 0.98 * REQUESTS
    stat = chi_square(counts)
    assert stat < CHI2_CRIT_DF19_P001, (stat, counts)
    entry_nodes = df["entry_node"].unique()
    assert len(entry_nodes) == 3
    for node in entry_nodes:
        part = df.loc[df["entry_node"] == node, "pod"].value_counts().reindex(names, fill_value=0).to_numpy()
        assert chi_square(part) < CHI2_CRIT_DF19_P001, (node, part)


def chi_square_of(mode: str) -> float:
    """For the report: the statistic of one run (not a test)."""
    web = web_cluster(proxy_mode=mode, replicas=PODS, service_time="constant 1ms", concurrency=100)
    t = web.cluster.traffic(web.target, rate=10_000, duration=REQUESTS / 10_000)
    web.cluster.run()
    return chi_square(t.frame()["pod"].value_counts().reindex(web.pods_by_ip(), fill_value=0).to_numpy())


@pytest.mark.parametrize("engine", ["events", "vectorized"])
def test_ipvs_rr_from_one_node_is_exactly_round_robin(engine):
    """From one client pod (one node, one rr cursor) the i-th request goes to endpoint i mod k of the
    endpoint list in kube-proxy's order (by IP), without a single deviation."""
    web = web_cluster(engine=engine, proxy_mode="ipvs", ipvs_scheduler="rr", replicas=5, client=True)
    c = web.cluster
    t = c.traffic(web.target, rate=200, duration=10, from_pod=web.client)
    c.run()
    df = t.frame().sort_values("sent_s", kind="stable")
    assert len(df) > 1500 and df["entry_node"].nunique() == 1
    names = web.pods_by_ip()
    want = [names[i % len(names)] for i in range(len(df))]
    assert df["pod"].tolist() == want


def test_ipvs_rr_keeps_one_cursor_per_node():
    """Virtual clients spread over the three nodes: each node's requests, in time order, cycle
    through the endpoints on their own (a node's first request goes to the first endpoint)."""
    web = web_cluster(proxy_mode="ipvs", ipvs_scheduler="rr", replicas=7)
    c = web.cluster
    t = c.traffic(web.target, rate=300, duration=10)
    c.run()
    df = t.frame().sort_values("sent_s", kind="stable")
    names = web.pods_by_ip()
    assert df["entry_node"].nunique() == 3
    for _, part in df.groupby("entry_node"):
        assert part["pod"].tolist() == [names[i % len(names)] for i in range(len(part))]
    # overall, the pods' shares differ by at most one request per node
    counts = df["pod"].value_counts().to_numpy()
    assert counts.max() - counts.min() <= 3
    assert np.unique(df["status"]).tolist() == ["ok"]
