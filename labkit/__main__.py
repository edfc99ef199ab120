"""``python -m labkit``: command-line tools. One so far, the workshop kit (``labkit.real.workshop``)."""

from __future__ import annotations

import argparse
import sys

from labkit.errors import ManifestError, RealClusterError


def _quota(args: argparse.Namespace) -> dict[str, str]:
    from labkit.real.workshop import DEFAULT_QUOTA

    return {
        **DEFAULT_QUOTA,
        "pods": str(args.pods),
        "requests.cpu": args.cpu,
        "requests.memory": args.memory,
        "limits.cpu": args.limits_cpu,
        "limits.memory": args.limits_memory,
    }


def workshop(args: argparse.Namespace) -> int:
    from labkit.real import workshop as kit

    plan = {"prefix": args.prefix, "out": args.out, "token_hours": args.token_hours, "quota": _quota(args)}
    if not args.apply and not args.delete:
        sys.stdout.write(kit.dry_run_text(args.students, **plan))
        return 0
    from labkit.real.config import from_kubeconfig

    connection = from_kubeconfig(args.kubeconfig, args.context)
    print(f"cluster: {connection.server} (context {connection.context})")
    if args.delete:
        kit.delete(connection, args.students, prefix=args.prefix)
    else:
        kit.apply(connection, args.students, **plan)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m labkit", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    w = sub.add_parser(
        "workshop", help="per-student namespaces, RBAC, quotas and kubeconfigs (dry run by default)"
    )
    w.add_argument("--students", type=int, required=True, help="how many students (1-500)")
    w.add_argument("--context", help="kubeconfig context of the instructor (default: its current context)")
    w.add_argument("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG or ~/.kube/config)")
    w.add_argument("--prefix", default="labkit-student", help="namespace prefix (default: labkit-student)")
    w.add_argument("--out", default="kubeconfigs", help="folder for the students' kubeconfigs")
    w.add_argument("--token-hours", type=float, default=8.0, help="token lifetime in hours (default 8)")
    w.add_argument("--pods", type=int, default=20, help="pods per student (ResourceQuota)")
    w.add_argument("--cpu", default="2", help="requests.cpu per student (ResourceQuota)")
    w.add_argument("--memory", default="4Gi", help="requests.memory per student (ResourceQuota)")
    w.add_argument("--limits-cpu", default="4", help="limits.cpu per student (ResourceQuota)")
    w.add_argument("--limits-memory", default="8Gi", help="limits.memory per student (ResourceQuota)")
    mode = w.add_mutually_exclusive_group()
    mode.add_argument("--apply", action="store_true", help="create it all and write the kubeconfigs")
    mode.add_argument(
        "--delete", action="store_true", help="delete what the kit created (labelled objects only)"
    )
    args = parser.parse_args(argv)
    try:
        return workshop(args)
    except (RealClusterError, ManifestError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
