"""``kubectl patch``'s merge rules: strategic merge patch for built-in kinds.

Strategic merge (``apimachinery/pkg/util/strategicpatch/patch.go``) is JSON merge patch
(RFC 7386: a map merges key by key, ``null`` deletes a key, anything else replaces) plus one
rule for lists: a list whose items the Go type tags with a ``patchMergeKey`` merges item by
item on that key (containers by ``name``), and ``$patch: delete`` in such an item removes it.
Every other list is replaced whole, as upstream does for lists without a merge key
(tolerations, args). The merge keys below are the ones ``k8s.io/api`` declares for the fields a
learner patches.
"""

from __future__ import annotations

from typing import Any

from labkit.api.store import clone

__all__ = ["MERGE_KEYS", "json_merge", "strategic_merge"]

#: Field name -> patchMergeKey, from the ``patchMergeKey`` struct tags in ``k8s.io/api/core/v1/types.go``
#: and ``apps/v1/types.go``.
MERGE_KEYS: dict[str, str] = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumeMounts": "mountPath",
    "volumes": "name",
    "ports": "containerPort",
    "imagePullSecrets": "name",
    "conditions": "type",
    "ownerReferences": "uid",
    "hostAliases": "ip",
    "topologySpreadConstraints": "topologyKey",
    "resourceClaims": "name",
}


def json_merge(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch (``kubectl patch --type merge``)."""
    if not isinstance(patch, dict):
        return clone(patch)
    out = clone(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = json_merge(out.get(key), value)
    return out


def strategic_merge(target: Any, patch: Any, field: str = "") -> Any:
    """Strategic merge patch (``kubectl patch``'s default for built-in kinds)."""
    if isinstance(patch, dict):
        if patch.get("$patch") == "replace":
            return {k: clone(v) for k, v in patch.items() if k != "$patch"}
        out = clone(target) if isinstance(target, dict) else {}
        for key, value in patch.items():
            if key.startswith("$"):
                continue
            if value is None:
                out.pop(key, None)
            else:
                out[key] = strategic_merge(out.get(key), value, key)
        return out
    if isinstance(patch, list) and field in MERGE_KEYS and isinstance(target, list):
        return _merge_list(target, patch, MERGE_KEYS[field])
    return clone(patch)


def _merge_list(target: list[Any], patch: list[Any], key: str) -> list[Any]:
    out = [clone(item) for item in target]
    index = {item.get(key): i for i, item in enumerate(out) if isinstance(item, dict)}
    for item in patch:
        if not isinstance(item, dict) or key not in item:
            out.append(clone(item))
            continue
        i = index.get(item[key])
        if item.get("$patch") == "delete":
            if i is not None:
                out[i] = None
            continue
        if i is None:
            index[item[key]] = len(out)
            out.append({k: clone(v) for k, v in item.items() if not k.startswith("$")})
        else:
            out[i] = strategic_merge(out[i], item)
    return [item for item in out if item is not None]
