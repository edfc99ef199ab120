"""An in-process Kubernetes API for the adapter's tests: kmock's emulator on a real port.

kmock serves its emulator from an asyncio loop; the adapter is a blocking client (urllib3), so the
server runs in a thread of its own and the tests talk to it over loopback HTTP, exactly as to a
cluster. The emulator keeps objects but is simpler than an API server; :class:`LabEmulator` adds
what the adapter relies on and a real server does:

- server-side apply (a PATCH with ``application/apply-patch+yaml``) creates a missing object;
- ``dryRun=All`` answers with the object as it would be and changes nothing;
- objects get a ``uid``, a ``resourceVersion`` and a ``creationTimestamp``;
- ``/version`` says v1.36.2;
- Namespaces are served (kmock reads ``/api/v1/namespaces`` as a namespace prefix and fails).

Every request is also logged here (``calls``: method, path with query, headers, decoded body).

Label selectors stay ignored (the adapter filters again on its side, and the tests prove it).
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp.web
import attrs
import kmock
import pytest
from kmock._internal import enums

from labkit.real.paths import KIND_TABLE

TOKEN = "sekret-token-5f1d0c7e-DO-NOT-LEAK"


class LabEmulator(kmock.KubernetesEmulator):
    """kmock's emulator with server-side apply, dry runs and server-set metadata."""

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        self["get /version"] << {
            "major": "1",
            "minor": "36",
            "gitVersion": "v1.36.2",
            "platform": "linux/amd64",
        }
        self.rv = 0
        for kind in KIND_TABLE.values():  # a real server lists every kind it serves, even with no objects
            group_version = kind.api_version if "/" in kind.api_version else f"/{kind.api_version}"
            self.resources[f"{group_version}/{kind.plural}"] = {}
        self.calls: list[dict[str, Any]] = []
        #: Scripted answers, checked first: [method, path regex, status, body, times left (None: always)].
        self.script: list[list[Any]] = []
        self.namespaces: dict[str, dict[str, Any]] = {}

    async def __call__(self, raw: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        body = await raw.read()
        try:
            data = json.loads(body) if body else None
        except ValueError:
            data = None
        self.calls.append(
            {"method": raw.method, "path": raw.path_qs, "headers": dict(raw.headers), "body": data}
        )
        for entry in self.script:
            method, pattern, code, answer, left = entry
            if method == raw.method and re.search(pattern, raw.path_qs) and left != 0:
                if left is not None:
                    entry[4] = left - 1
                return aiohttp.web.json_response(answer, status=code)
        parts = raw.path.strip("/").split("/")
        if parts[:3] == ["api", "v1", "namespaces"] and len(parts) <= 4:
            return self._namespace(
                raw.method, parts[3] if len(parts) == 4 else None, data, dry_run="dryRun" in raw.query
            )
        return await super().__call__(raw)

    def _namespace(
        self, method: str, name: str | None, data: Any, dry_run: bool
    ) -> aiohttp.web.StreamResponse:
        def status(code: int, reason: str, message: str) -> aiohttp.web.StreamResponse:
            return aiohttp.web.json_response(status_body(code, reason, message), status=code)

        if name is None and method == "GET":
            return aiohttp.web.json_response(
                {
                    "kind": "NamespaceList",
                    "apiVersion": "v1",
                    "metadata": {},
                    "items": list(self.namespaces.values()),
                }
            )
        if name is None and method == "POST":
            name = data["metadata"]["name"]
            if name in self.namespaces:
                return status(409, "AlreadyExists", f'namespaces "{name}" already exists')
            obj = copy.deepcopy(data)
            obj["metadata"].update(uid=str(uuid.uuid4()), resourceVersion="1")
            obj["status"] = {"phase": "Active"}
            if not dry_run:
                self.namespaces[name] = obj
            return aiohttp.web.json_response(obj, status=201)
        if name not in self.namespaces:
            return status(404, "NotFound", f'namespaces "{name}" not found')
        if method == "GET":
            return aiohttp.web.json_response(self.namespaces[name])
        if method == "DELETE":
            return aiohttp.web.json_response(self.namespaces.pop(name))
        return status(405, "MethodNotAllowed", method)

    async def _handle(self, request: Any) -> aiohttp.web.StreamResponse:
        apply = "apply-patch" in request.headers.get("Content-Type", "")
        if request.data is None and request.body:  # kmock decodes only JSON content types
            request = attrs.evolve(request, data=json.loads(request.body))
        if request.resource is not None and isinstance(request.data, dict):
            key = (request.resource, request.namespace, request.name)
            exists = key in self.objects and not self.objects[key].deleted
            if request.params.get("dryRun"):
                base = copy.deepcopy(dict(self.objects[key].raw)) if exists else {}
                merged = _merge(base, copy.deepcopy(request.data))
                if not exists:
                    merged.setdefault("metadata", {})["uid"] = "dry-run"
                return aiohttp.web.json_response(merged, status=200 if exists else 201)
            if request.action in (enums.action.CREATE, enums.action.UPDATE):
                self.rv += 1
                meta = request.data.setdefault("metadata", {})
                meta["resourceVersion"] = str(self.rv)
                if request.action == enums.action.CREATE or (apply and not exists):
                    meta.setdefault("uid", str(uuid.UUID(int=self.rv)))
                    meta.setdefault("creationTimestamp", "2026-12-01T00:00:00Z")
            if apply and not exists and request.action == enums.action.UPDATE:
                async with self._lock:  # what the emulator does for a POST, for a PATCH that creates
                    self.objects[key] = request.data
                    raw = self.objects[key].last.raw
                    await self._buses[request.resource].put({"type": "ADDED", "object": raw})
                return aiohttp.web.json_response(raw, status=201)
        return await super()._handle(request)


def status_body(code: int, reason: str, message: str, **details: Any) -> dict[str, Any]:
    """A ``metav1.Status`` failure, as an API server answers a refused request."""
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "code": code,
        "reason": reason,
        "message": message,
    }
    if details:
        body["details"] = details
    return body


def _merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    for k, v in patch.items():
        base[k] = _merge(base[k], v) if isinstance(v, dict) and isinstance(base.get(k), dict) else v
    return base


class KubeMock:
    """The emulator running in a thread; ``url`` to reach it, ``requests`` to read its log."""

    def __init__(self) -> None:
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("kmock did not start")

    def _main(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with LabEmulator() as handler, kmock.Server(handler) as server:
            self.handler, self.url = handler, str(server.url).rstrip("/")
            self._ready.set()
            await self._stop.wait()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    # -- reading and scripting ---------------------------------------------------------------------
    @property
    def calls(self) -> list[dict[str, Any]]:
        return list(self.handler.calls)

    def log(self) -> list[tuple[str, str]]:
        """``(METHOD, path?query)`` of every request so far."""
        return [(c["method"], c["path"]) for c in self.calls]

    def objects(self) -> dict[tuple[str, str | None, str], dict[str, Any]]:
        """Every live object: ``(plural, namespace, name) -> object``."""
        out = {("namespaces", None, n): copy.deepcopy(o) for n, o in self.handler.namespaces.items()}
        for (res, ns, name), obj in list(self.handler.objects.items()):
            if not obj.deleted:
                out[(res.plural, ns, name)] = json.loads(json.dumps(dict(obj.raw)))
        return out

    def answer(self, method: str, pattern: str, status: int, body: Any, times: int | None = None) -> None:
        """Script the answer to requests matching ``method`` and the path regex ``pattern``."""
        self.handler.script.append([method, pattern, status, body, times])

    def seed(self, plural_path: str, obj: dict[str, Any]) -> None:
        """Create an object directly (someone else's: no labkit label unless ``obj`` has one)."""
        import urllib.request

        req = urllib.request.Request(
            self.url + plural_path,
            data=json.dumps(obj).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        urllib.request.urlopen(req, timeout=5).read()


def write_kubeconfig(path: Path, server: str, *, token: str = TOKEN, context: str = "lab") -> Path:
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": context,
                "clusters": [{"name": "mock", "cluster": {"server": server}}],
                "users": [{"name": "learner", "user": {"token": token}}],
                "contexts": [{"name": context, "context": {"cluster": "mock", "user": "learner"}}],
            }
        )
    )
    return path


@pytest.fixture()
def kube() -> Iterator[KubeMock]:
    mock = KubeMock()
    try:
        yield mock
    finally:
        mock.stop()


@pytest.fixture()
def kubeconfig(kube: KubeMock, tmp_path: Path) -> Path:
    return write_kubeconfig(tmp_path / "config", kube.url)


@pytest.fixture()
def real(kubeconfig: Path):
    import labkit

    rc = labkit.RealCluster.from_kubeconfig(str(kubeconfig), namespace="labkit-ann", sleep=lambda s: None)
    yield rc
    rc.close()
