"""Chapter 05's scenarios, checks and panel: runtimes measured through the public API."""

from __future__ import annotations

import pytest

import labkit.exercises as E
from labkit.widgets.runtime_choice import (
    pods_per_node,
    recommend,
    runtime_choice_panel,
    runtime_cluster,
    runtime_table,
    start_times,
    throughput,
)


def test_the_table_shows_published_figures_and_blanks_where_there_are_none():
    t = runtime_table().set_index("runtime")
    assert t.loc["kata", "sandbox start (s)"] > t.loc["runc", "sandbox start (s)"]
    assert t.loc["kata", "file IO"] == "" and t.loc["gvisor", "file IO"] < 0.5
    assert (t["sources"] > 0).all()


def test_kata_pods_start_later_and_fit_less_than_half_as_many():
    starts = start_times().groupby("runtime")["start_s"].median()
    assert starts["kata"] > starts["runc"] + 0.15 and abs(starts["gvisor"] - starts["runc"]) < 0.1
    assert (pods_per_node("runc"), pods_per_node("kata"), pods_per_node("gvisor")) == (19, 8, 19)
    with pytest.raises(ValueError, match="runtime"):
        pods_per_node("docker")


def test_gvisor_slows_io_heavy_requests_past_capacity_but_not_cpu_heavy_ones():
    cpu, io = throughput("cpu").set_index("runtime"), throughput("io").set_index("runtime")
    assert cpu.loc["gvisor", "ok_pct"] == 100.0 and cpu.loc["gvisor", "service_ms"] < 25
    assert io.loc["gvisor", "capacity_rps"] < 150 < io.loc["runc", "capacity_rps"]
    assert io.loc["gvisor", "ok_pct"] < 50 and io.loc["runc", "ok_pct"] == 100.0


def test_recommendations_put_trust_first():
    assert recommend(trusted=True, workload="cpu").choice == "runc"
    assert recommend(trusted=False, workload="cpu").choice in ("kata", "gvisor")
    assert recommend(trusted=False, workload="io").choice == "kata"  # gVisor's IO cost
    assert recommend(trusted=False, workload="cpu", fast_start=True).choice == "gvisor"  # no VM to boot


def test_the_checks_tell_predictions_and_hint_without_answers():
    right = E.check_pods_per_node(8, "kata")
    assert right and "450m" in right.message
    wrong = E.check_pods_per_node(19, "kata")
    assert not wrong and "you predicted 19" in wrong.message and "8 pods" in wrong.message
    assert E.check_pods_per_node(..., "kata").message.startswith("Replace the ... above")
    assert "got a str" in E.check_pods_per_node("8").message
    assert E.check_runtime_choice("runc", "batch") and not E.check_runtime_choice("kata", "batch")
    assert E.check_runtime_choice("gvisor", "saas") and not E.check_runtime_choice("runc", "saas")
    assert "one of the chapter's runtimes" in E.check_runtime_choice("docker", "saas").message
    assert E.check_runtime_choice("Kata", "saas")  # case does not matter
    assert "a sandbox protects nothing" in E.check_runtime_choice("gvisor", "batch").message
    c = runtime_cluster()
    c.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "vm"},
             "spec": {"runtimeClassName": "kata", "containers": [{"name": "c", "image": "nginx:1.27"}]}})
    assert E.check_overhead({"cpu": "250m", "memory": "160Mi"}, c, "vm")
    assert not E.check_overhead({"cpu": "250m"}, c, "vm")
    assert "got a str" in E.check_overhead("250m", c, "vm").message


def test_the_panel_survives_odd_values():
    box = runtime_choice_panel(trusted=False, workload="gpu")
    assert repr(box) == "Interactive panel (runtime choice): run this cell to display it."
    text = "".join(w.value for w in box.children if isinstance(getattr(w, "value", None), str))
    assert "Choose <b>" in text
