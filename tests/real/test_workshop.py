"""The workshop kit: dry run by default, least-privilege objects per student, kubeconfigs whose tokens
are written to files only, and a delete that removes only what the kit made."""

from __future__ import annotations

import stat

import yaml

from labkit.__main__ import main
from labkit.real import MANAGED_BY
from labkit.real.workshop import ROLE_RULES, namespaces, shared_manifests, student_manifests

STUDENT_TOKEN = "student-token-0b9c-NEVER-PRINT"


def test_the_default_is_a_dry_run_that_needs_no_cluster(capsys):
    assert main(["workshop", "--students", "3"]) == 0
    out = capsys.readouterr().out
    docs = [d for d in yaml.safe_load_all(out) if d]
    kinds = [d["kind"] for d in docs]
    assert kinds.count("Namespace") == 3 and kinds.count("ResourceQuota") == 3
    assert kinds[-2:] == ["ClusterRole", "ClusterRoleBinding"]
    assert all(d["metadata"]["labels"][MANAGED_BY[0]] == MANAGED_BY[1] for d in docs)
    assert "add --apply to create them" in out and "labkit-student-03.kubeconfig" in out


def test_students_get_least_privilege_no_secrets_no_rbac_no_load_balancers():
    ns = namespaces(1)[0]
    resources = {r for rule in ROLE_RULES for r in rule["resources"]}
    assert "secrets" not in resources and not any(
        "rbac" in g for rule in ROLE_RULES for g in rule["apiGroups"]
    )
    assert all("*" not in rule["verbs"] and "*" not in rule["resources"] for rule in ROLE_RULES)
    quota = next(d for d in student_manifests(ns) if d["kind"] == "ResourceQuota")
    assert quota["spec"]["hard"]["services.loadbalancers"] == "0"
    cluster_role = shared_manifests([ns])[0]
    assert cluster_role["rules"][0] == {
        "apiGroups": [""],
        "resources": ["namespaces"],
        "resourceNames": [ns],
        "verbs": ["get"],
    }
    assert cluster_role["rules"][1]["verbs"] == ["get", "list", "watch"]


def test_apply_creates_everything_and_writes_private_kubeconfigs(kube, kubeconfig, tmp_path, capsys):
    kube.answer(
        "POST",
        r"/serviceaccounts/student/token$",
        201,
        {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "status": {"token": STUDENT_TOKEN, "expirationTimestamp": "2026-12-01T08:00:00Z"},
        },
    )
    out_dir = tmp_path / "kc"
    assert (
        main(
            [
                "workshop",
                "--students",
                "2",
                "--kubeconfig",
                str(kubeconfig),
                "--apply",
                "--out",
                str(out_dir),
                "--token-hours",
                "4",
            ]
        )
        == 0
    )
    printed = capsys.readouterr()
    assert STUDENT_TOKEN not in printed.out + printed.err
    objects = kube.objects()
    for ns in ("labkit-student-01", "labkit-student-02"):
        assert objects[("namespaces", None, ns)]["metadata"]["labels"][MANAGED_BY[0]] == "labkit"
        for plural, name in (
            ("serviceaccounts", "student"),
            ("roles", "labkit-student"),
            ("rolebindings", "labkit-student"),
            ("resourcequotas", "labkit"),
            ("limitranges", "labkit"),
        ):
            assert objects[(plural, ns, name)]["metadata"]["labels"][MANAGED_BY[0]] == "labkit"
        path = out_dir / f"{ns}.kubeconfig"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        config = yaml.safe_load(path.read_text())
        assert config["users"][0]["user"]["token"] == STUDENT_TOKEN
        assert config["contexts"][0]["context"]["namespace"] == ns
        assert config["clusters"][0]["cluster"]["server"] == kube.url
    assert ("clusterroles", None, "labkit-workshop-student") in objects
    token_calls = [c for c in kube.calls if c["path"].endswith("/token")]
    assert [c["body"]["spec"]["expirationSeconds"] for c in token_calls] == [14400, 14400]


def test_a_student_kubeconfig_works_with_realcluster_in_its_namespace(kube, kubeconfig, tmp_path):
    import labkit

    kube.answer("POST", r"/serviceaccounts/student/token$", 201, {"status": {"token": STUDENT_TOKEN}})
    main(["workshop", "--students", "1", "--kubeconfig", str(kubeconfig), "--apply", "--out", str(tmp_path)])
    rc = labkit.RealCluster.from_kubeconfig(
        str(tmp_path / "labkit-student-01.kubeconfig"), namespace="labkit-student-01"
    )
    rc.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "hello"}, "data": {"a": "b"}})
    assert kube.calls[-1]["headers"]["Authorization"] == f"Bearer {STUDENT_TOKEN}"


def test_delete_removes_only_what_the_kit_made(kube, kubeconfig, tmp_path, capsys):
    kube.answer("POST", r"/serviceaccounts/student/token$", 201, {"status": {"token": STUDENT_TOKEN}})
    main(["workshop", "--students", "2", "--kubeconfig", str(kubeconfig), "--apply", "--out", str(tmp_path)])
    kube.seed("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-b"}})
    assert main(["workshop", "--students", "2", "--kubeconfig", str(kubeconfig), "--delete"]) == 0
    left = {k for k in kube.objects() if k[0] in ("namespaces", "clusterroles", "clusterrolebindings")}
    assert left == {("namespaces", None, "team-b")}
    assert "deleted Namespace/labkit-student-01" in capsys.readouterr().out


def test_a_bad_student_count_is_an_error_not_a_traceback(capsys):
    assert main(["workshop", "--students", "0"]) == 2
    assert "between 1 and 500 students" in capsys.readouterr().err


def test_apply_again_keeps_the_objects_and_writes_fresh_kubeconfigs(kube, kubeconfig, tmp_path):
    kube.answer("POST", r"/serviceaccounts/student/token$", 201, {"status": {"token": STUDENT_TOKEN}})
    args = ["workshop", "--students", "1", "--kubeconfig", str(kubeconfig), "--apply", "--out", str(tmp_path)]
    assert main(args) == 0
    first = kube.objects()
    assert main(args) == 0
    assert set(kube.objects()) == set(first)
    assert len([c for c in kube.calls if c["path"].endswith("/token")]) == 2
