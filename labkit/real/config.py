"""Where a real cluster is, and how to authenticate to it: a kubeconfig context or in-cluster.

The official client reads the file (``kubernetes.config.load_kube_config``: tokens, client
certificates, exec plugins such as ACK's or kind's); this module only checks first what a learner
gets wrong (no file, a context the file lacks) so the error says what to do, and keeps the
credentials inside the client's ``Configuration``, which nothing here prints.
"""

from __future__ import annotations

import getpass
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labkit.errors import KubeconfigError

__all__ = ["Connection", "from_kubeconfig", "in_cluster", "default_namespace", "kubeconfig_path"]

_SETUP_HINT = (
    "kind: `kind create cluster` writes ~/.kube/config; minikube: `minikube start`; ACK: console, "
    "cluster, Connection Information, copy the kubeconfig to ~/.kube/config (or pass path=)"
)


@dataclass
class Connection:
    """The server and context a :class:`~labkit.real.RealCluster` talks to; credentials stay hidden."""

    server: str
    context: str
    configuration: Any = field(repr=False)
    #: The namespace the kubeconfig's context names (None when it names none).
    namespace: str | None = None


def kubeconfig_path(path: str | os.PathLike[str] | None = None) -> Path:
    """``path``, else ``$LABKIT_KUBECONFIG``, else the first file of ``$KUBECONFIG``, else ~/.kube/config."""
    if path is None:
        path = os.environ.get("LABKIT_KUBECONFIG") or (
            os.environ.get("KUBECONFIG", "").split(os.pathsep)[0] or "~/.kube/config"
        )
    return Path(path).expanduser()


def from_kubeconfig(path: str | os.PathLike[str] | None = None, context: str | None = None) -> Connection:
    """Load one context of a kubeconfig (its current context when ``context`` is None)."""
    from kubernetes import client, config
    from kubernetes.config.config_exception import ConfigException

    file = kubeconfig_path(path)
    if not file.is_file():
        raise KubeconfigError(f"no kubeconfig at {file}", _SETUP_HINT)
    try:
        contexts, active = config.list_kube_config_contexts(str(file))
    except (ConfigException, ValueError, TypeError, OSError) as e:
        raise KubeconfigError(f"{file} is not a usable kubeconfig ({_plain(e)})", _SETUP_HINT) from None
    names = [c.get("name") for c in contexts or []]
    chosen = context or (active or {}).get("name")
    if context is not None and context not in names:
        raise KubeconfigError(
            f"the kubeconfig {file} has no context {context!r}",
            f"its contexts: {', '.join(map(str, names)) or 'none'}",
        )
    if not chosen:
        raise KubeconfigError(
            f"the kubeconfig {file} sets no current-context",
            f"pass context= (its contexts: {', '.join(map(str, names)) or 'none'})",
        )
    cfg = client.Configuration()
    try:
        config.load_kube_config(
            config_file=str(file), context=chosen, client_configuration=cfg, persist_config=False
        )
    except (ConfigException, ValueError, TypeError, OSError) as e:
        raise KubeconfigError(
            f"context {chosen!r} of {file} cannot be used ({_plain(e)})", _SETUP_HINT
        ) from None
    cfg.debug = False  # the client's debug log would print request headers, the token among them
    entry = next((c for c in contexts or [] if c.get("name") == chosen), {})
    namespace = (entry.get("context") or {}).get("namespace") or None
    return Connection(server=cfg.host, context=chosen, configuration=cfg, namespace=namespace)


def in_cluster() -> Connection:
    """The pod's own ServiceAccount (a notebook served by JupyterHub on the cluster)."""
    from kubernetes import client, config
    from kubernetes.config.config_exception import ConfigException

    cfg = client.Configuration()
    try:
        config.load_incluster_config(client_configuration=cfg)
    except ConfigException as e:
        raise KubeconfigError(
            f"not running in a pod with a ServiceAccount ({_plain(e)})",
            "outside a cluster use RealCluster.from_kubeconfig()",
        ) from None
    cfg.debug = False
    return Connection(server=cfg.host, context="in-cluster", configuration=cfg)


def _plain(err: Exception) -> str:
    """An exception's text without anything after a colon-separated data dump (first 160 characters)."""
    return str(err).splitlines()[0][:160] if str(err) else type(err).__name__


def default_namespace(user: str | None = None) -> str:
    """``labkit-<user>``: the login name turned into a DNS label (lower case, ``-`` for the rest)."""
    try:
        name = user if user is not None else getpass.getuser()
    except (KeyError, OSError):  # no passwd entry in some containers
        name = "learner"
    label = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-") or "learner"
    return f"labkit-{label}"[:63].rstrip("-")
