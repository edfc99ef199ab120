"""``c.cost()``: node-hours from each instance's lifetime in simulated time, priced per hour."""

from __future__ import annotations

import math

import pytest
from test_cluster_autoscaler import deployment

import labkit
from labkit.cloud.ecs import ECI_RATES_CNY_PER_HOUR, instance_types, price


def test_static_pool_node_hours_and_cost():
    c = labkit.Cluster(seed=0)
    c.add_node_pool("base", "ecs.g7.xlarge", 2)
    c.run(until=3600)
    (row,) = c.cost().to_dict("records")
    assert row["node_pool"] == "base" and row["instance_type"] == "ecs.g7.xlarge" and row["instances"] == 2
    assert row["node_hours"] == pytest.approx(2.0)
    assert row["price_cny_per_hour"] == pytest.approx(1.0592)  # 4 x 0.1764 + 16 x 0.0221
    assert row["cost_cny"] == pytest.approx(2 * 1.0592)
    assert row["price_kind"] == "illustrative" and "not an ECS list price" in row["price_source"]
    assert list(c.cost().columns) == [
        "node_pool",
        "instance_type",
        "instances",
        "node_hours",
        "price_cny_per_hour",
        "cost_cny",
        "price_kind",
        "price_source",
    ]


def test_autoscaled_nodes_are_billed_from_the_scale_up_until_release():
    c = labkit.Cluster(seed=0)
    c.add_node_pool("elastic", "ecs.g7.2xlarge", 0, min_size=0, max_size=2)
    c.apply(deployment("web", 1))
    c.run(until=120)
    c.scale("Deployment", "web", 0)
    c.run()  # the empty node goes about 10 min after the scale-up
    (inst,) = c.cloud_provider.history
    assert inst.requested_s == 10.0 and inst.released_s is not None
    (row,) = c.cost().to_dict("records")
    hours = (inst.released_s - inst.requested_s) / 3600
    assert row["node_hours"] == pytest.approx(hours)
    assert row["cost_cny"] == pytest.approx(hours * price("ecs.g7.2xlarge").cny_per_hour)
    c.run(until=c.now + 3600)
    assert c.cost()["node_hours"].iloc[0] == pytest.approx(hours)  # released: no more hours


def test_every_cpu_type_has_an_illustrative_price_from_the_stated_rule_and_gpus_have_none():
    for it in instance_types():
        p = price(it)
        if it.gpu:
            assert p.kind == "none" and p.cny_per_hour is None
        else:
            rule = (
                it.vcpu * ECI_RATES_CNY_PER_HOUR["cpu"] + it.memory_gib * ECI_RATES_CNY_PER_HOUR["memory_gib"]
            )
            assert p.kind == "illustrative" and p.cny_per_hour == pytest.approx(rule, abs=1e-4)
            assert p.date == "2026-11-26" and p.region == "cn-hangzhou"


def test_gpu_pool_cost_is_unknown_not_zero():
    c = labkit.Cluster(seed=0)
    c.add_node_pool("gpu", "ecs.gn7i-c8g1.2xlarge", 1)
    c.run(until=60)
    (row,) = c.cost().to_dict("records")
    assert row["price_kind"] == "none" and math.isnan(row["cost_cny"])
