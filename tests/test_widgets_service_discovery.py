"""Chapter 03's panels and the plain functions under them: load per pod, failures over time.

Each panel is a thin layer over :func:`load_balance` or :func:`failure_run`; these tests set a
control and check that the model behind it and the figure changed, and that the functions give
the results the chapter's prose relies on (round robin blind to a slow pod, least connections
not; a rolling update losing requests without preStop and none with it).
"""

from __future__ import annotations

import ipywidgets as widgets
import pytest

from labkit import plots
from labkit.widgets import PANEL_TEXT
from labkit.widgets.service_discovery import (
    PRESTOP,
    SCENARIOS,
    SLOW_POD,
    failure_panel,
    failure_run,
    failure_summary,
    load_balance,
    load_balance_panel,
    service_cluster,
)


def test_service_cluster_has_three_ready_endpoints_and_both_clients():
    c = service_cluster()
    eps = c.endpoints("my-nginx")
    assert len(eps) == 3 and eps["ready"].all()
    assert {(p["metadata"]["namespace"], p["metadata"]["name"]) for p in c.list("Pod")} >= {
        ("default", "client"), ("shop", "client")}


def test_service_cluster_applies_replicas_lifecycle_and_the_slow_pod():
    c = service_cluster(replicas=2, slow_pod=True, lifecycle=PRESTOP)
    pods = c.list("Pod", label_selector="app=my-nginx")
    assert sorted(p["metadata"]["name"] == SLOW_POD for p in pods) == [False, False, True]
    deployment_pods = [p for p in pods if p["metadata"]["name"] != SLOW_POD]
    assert all(p["spec"]["containers"][0]["lifecycle"] == PRESTOP for p in deployment_pods)


def test_round_robin_gives_the_slow_pod_its_share_and_least_connections_less():
    rr = load_balance(3, "ipvs", "rr", slow_pod=True)
    lc = load_balance(3, "ipvs", "lc", slow_pod=True)
    share = {name: r.by_pod.set_index("pod").loc[SLOW_POD, "share"] for name, r in (("rr", rr), ("lc", lc))}
    assert share["rr"] == pytest.approx(0.25, abs=0.01)
    assert share["lc"] < share["rr"] - 0.03  # less, not much less: closed connections count too
    assert lc.summary["p99_s"] < rr.summary["p99_s"]
    assert rr.summary["failed"] == lc.summary["failed"] == 0


def test_load_balance_is_kept_per_setting_and_clamps_replicas():
    assert load_balance(3, "iptables", "rr", True) is load_balance(3, "iptables", "rr", True)
    assert load_balance(99, "iptables", "rr", False).replicas == 6
    table = load_balance(2, "iptables", "rr", False).table()
    assert list(table.columns) == ["pod", "node", "requests", "share_pct", "p99_ms"]
    assert table["share_pct"].sum() == pytest.approx(100, abs=0.5)


def test_failures_per_scenario():
    runs = {s: failure_run(s) for s in SCENARIOS}
    summary = {s: r.summary for s, r in runs.items()}
    assert summary["none"]["failed"] == 0
    assert summary["rolling update with preStop"]["failed"] == 0
    assert summary["rolling update"]["refused"] > summary["delete a pod"]["refused"] > 0
    assert summary["fail a node"]["timeout"] > 0 and summary["fail a node"]["refused"] == 0
    for run in runs.values():
        s = run.summary
        assert s["sent"] == s["ok"] + s["failed"] and s["in_flight"] == 0
        assert run.over_time["t_s"].iloc[0] == 0 and run.over_time[["ok", "refused", "timeout"]].sum().sum() \
            == s["sent"]
    table = failure_summary(list(runs.values()))
    assert list(table["scenario"]) == list(SCENARIOS)


def test_a_longer_kube_proxy_delay_defeats_a_five_second_prestop():
    assert failure_run("rolling update with preStop", max_lag_s=2).failed == 0
    assert failure_run("rolling update with preStop", max_lag_s=8).failed > 0


def test_an_unknown_scenario_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="delete a pod"):
        failure_run("reboot")


def test_figures_have_titles_labels_and_legends():
    lb = load_balance(3, "ipvs", "lc", True)
    fig = plots.load_per_pod_figure(lb.by_pod, lb.title, slow=(SLOW_POD,))
    share, p99 = fig.axes
    assert share.get_ylabel() == "share of requests (%)" and p99.get_ylabel() == "p99 latency (ms)"
    assert [t.get_text() for t in share.get_xticklabels()][-1] == "slow"
    assert "slow pod" in " ".join(t.get_text() for t in fig.legends[0].get_texts())
    run = failure_run("rolling update")
    fig = plots.requests_over_time_figure(run.over_time, "rolling update", event_s=10, event="restart")
    ax = fig.axes[0]
    assert ax.get_xlabel() == "time since the traffic started (s)"
    assert ax.get_ylabel() == "requests per second"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[1] == f"refused ({run.summary['refused']:,})" and labels[-1] == "restart"


def _panel_parts(box):
    controls, summary, image, table = box.children
    return controls.children, summary, image, table


def test_load_balance_panel_responds_to_each_control():
    box = load_balance_panel()
    assert repr(box) == PANEL_TEXT.format(name="load balancing")
    (count, mode, slow), summary, image, table = _panel_parts(box)
    assert isinstance(count, widgets.IntSlider) and bytes(image.value).startswith(b"\x89PNG")
    assert SLOW_POD in table.value
    before = (bytes(image.value), summary.value)
    mode.value = "ipvs lc (least connections)"
    assert "ipvs lc" in summary.value and bytes(image.value) != before[0]
    slow.value = False
    assert SLOW_POD not in table.value
    count.value = 5
    assert table.value.count("<tr") == 1 + 5 and "5 replicas" in summary.value


def test_failure_panel_shows_the_run_and_keeps_a_log():
    box = failure_panel("none")
    assert repr(box) == PANEL_TEXT.format(name="failure injection")
    _, choice, lag, summary, image, table = box.children
    assert isinstance(lag, widgets.IntSlider) and "none failed" in summary.value
    first = bytes(image.value)
    choice.value = "rolling update"
    assert "refused" in summary.value and bytes(image.value) != first
    lag.value = 6
    assert table.value.count("<tr") == 1 + 3  # header and three runs, newest first
    assert table.value.index("rolling update") < table.value.index(">none<")
