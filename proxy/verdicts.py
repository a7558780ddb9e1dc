"""The verdict store and the Auditor's JSON routes: verdicts for CI, policy reload, exceptions.

Routes (JSON, versioned by each verdict's `schema_version`; proxy/verdicts.schema.json):
  GET  /-/verdicts/{module}/@v/{version}   one verdict (cold versions fetched and audited)
  POST /-/verdicts                         {"modules":[{"module","version"}…]} (≤ 5,000) ->
                                           {"verdicts":[…]} in request order, unknown left out
  POST /-/admin/policy/reload              re-read the policy file (admin token)
  GET|POST /-/admin/exceptions             list / approve an exception (admin token)
  DELETE /-/admin/exceptions/{id}          withdraw one (admin token)
"""

from __future__ import annotations

import asyncio
import contextvars
import hmac
import json
import os
import threading
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scanner.errors import GoProxyScanError, InputError, InvalidModuleError
from scanner.module import (
    canonical_version,
    check,
    escape_path,
    escape_version,
    unescape_path,
    unescape_version,
)
from scanner.verdict import Verdict

if TYPE_CHECKING:
    from .app import Gateway, Receive, Request, Scope
    from .storage.s3 import S3Location

PREFIXES = ("/-/verdicts", "/-/admin/policy/", "/-/admin/exceptions")
# (trace id, client identity) of the request behind an Auditor decision; set by the gateway,
# inherited by tasks and worker threads (Workers copies the context), read by proxy/auditor.py.
REQUEST: contextvars.ContextVar[tuple[str, str | None]] = contextvars.ContextVar(
    "go_vault_request", default=("", None)
)
MAX_BATCH = 5000
MAX_BODY = 8 << 20
_JSON = "application/json"


def schema() -> dict[str, Any]:
    """The JSON Schema of the verdict API's answers (shipped in the package)."""
    text = resources.files(__package__).joinpath("verdicts.schema.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


class VerdictStore:
    """Verdicts beside the vault: `<root>/<escaped module>/@v/<escaped version>.json`.

    Unlike the vault's blobs a verdict is rewritten when the policy changes, so it is not a
    Storage blob; writes replace the file atomically. `root=None` keeps nothing.
    """

    def __init__(self, root: Path | None) -> None:
        self.root = root

    def _path(self, module: str, version: str) -> Path | None:
        if self.root is None:
            return None
        return self.root / escape_path(module) / "@v" / f"{escape_version(version)}.json"

    def get(self, module: str, version: str) -> tuple[Verdict, str] | None:
        """The stored verdict and the vulnerability database (`modified`) it was judged with."""
        path = self._path(module, version)
        if path is None:
            return None
        try:
            data = json.loads(path.read_bytes())
            return Verdict.from_json(data), str(data.get("vulndb_modified", ""))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def put(self, verdict: Verdict, vulndb_modified: str = "") -> None:
        path = self._path(verdict.module, verdict.version)
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
        data = {**verdict.to_json(), "vulndb_modified": vulndb_modified}
        tmp.write_text(json.dumps(data, sort_keys=True, separators=(",", ":")), "utf-8")
        tmp.replace(path)


class S3VerdictStore(VerdictStore):
    """Verdicts in an S3 vault: objects `<prefix>.go-vault/verdicts/<module>/@v/<version>.json`.

    Shared by every replica on the bucket, so a version judged on one is not judged again on
    another while the policy in force is the same; a rewrite after a policy change is a plain
    put (the last writer judged with the same policy and bytes, so it says the same).
    """

    def __init__(self, location: S3Location) -> None:
        super().__init__(None)
        self.loc = location

    def _key(self, module: str, version: str) -> str:
        name = f"{escape_path(module)}/@v/{escape_version(version)}.json"
        return self.loc.key(f".go-vault/verdicts/{name}")

    def get(self, module: str, version: str) -> tuple[Verdict, str] | None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            r = self.loc.client.get_object(Bucket=self.loc.bucket, Key=self._key(module, version))
            data = json.loads(r["Body"].read())
            return Verdict.from_json(data), str(data.get("vulndb_modified", ""))
        except (ClientError, BotoCoreError, ValueError, KeyError, TypeError):
            return None  # judged again from the stored zip, which says why if S3 is down

    def put(self, verdict: Verdict, vulndb_modified: str = "") -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        data = {**verdict.to_json(), "vulndb_modified": vulndb_modified}
        body = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
        key = self._key(verdict.module, verdict.version)
        try:
            self.loc.client.put_object(Bucket=self.loc.bucket, Key=key, Body=body)
        except (ClientError, BotoCoreError) as e:
            raise self.loc.failure("put of a verdict", e) from e


class ApiError(GoProxyScanError):
    """A JSON error answer of the verdict API."""

    def __init__(self, status: int, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.status = status
        self.fields = fields


def _json(status: int, data: Any) -> tuple[int, bytes, str]:
    return status, json.dumps(data, separators=(",", ":")).encode() + b"\n", _JSON


_SHAPE = '{"modules":[{"module":"example.com/m","version":"v1.2.3"}, …]}'


def batch_pairs(body: bytes) -> list[tuple[str, str]]:
    """The (module, version) pairs of a `POST /-/verdicts` body, or a 400 naming the field that
    is wrong and what it must be (413 over MAX_BATCH)."""
    try:
        doc = json.loads(body)
    except UnicodeDecodeError as e:
        raise ApiError(400, f"the body is not UTF-8 JSON: {e.reason}; send {_SHAPE}") from e
    except json.JSONDecodeError as e:
        raise ApiError(
            400, f"the body is not JSON: {e.msg} (line {e.lineno} column {e.colno}); send {_SHAPE}"
        ) from e
    if not isinstance(doc, dict) or "modules" not in doc:
        raise ApiError(400, f"the body must be an object with modules: {_SHAPE}")
    items = doc["modules"]
    if not isinstance(items, list):
        raise ApiError(
            400,
            f'modules must be a list of {{"module","version"}}, not {_json_type(items)}: {_SHAPE}',
        )
    if len(items) > MAX_BATCH:
        raise ApiError(413, f"{len(items)} modules asked; at most {MAX_BATCH} per request")
    pairs = []
    for n, item in enumerate(items):
        if not isinstance(item, dict):
            raise ApiError(
                400,
                f'modules[{n}] must be {{"module","version"}}, not {_json_type(item)}: {_SHAPE}',
            )
        pair = []
        for field_name in ("module", "version"):
            value = item.get(field_name)
            where = f"modules[{n}].{field_name}"
            if field_name not in item:
                raise ApiError(
                    400, f"{where}: missing; each entry needs module and version: {_SHAPE}"
                )
            if not isinstance(value, str):
                raise ApiError(400, f"{where}: must be a string, not {_json_type(value)}: {_SHAPE}")
            if not value.strip():
                raise ApiError(400, f"{where}: empty; send {_SHAPE}")
            pair.append(value)
        pairs.append((pair[0], pair[1]))
    return pairs


def _json_type(value: object) -> str:
    """The JSON name of a decoded value's type, as a client wrote it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


class VerdictAPI:
    """The routes above, for one gateway; answers are (status, body, content type)."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self._limit: asyncio.Semaphore | None = None

    async def handle(
        self, scope: Scope, receive: Receive, path: str, req: Request
    ) -> tuple[int, bytes, str]:
        method = req.method
        try:
            if path.startswith("/-/admin/"):
                req.route = "admin"
                self._admin_only(scope)
                return await self._admin(path, method, scope, receive)
            req.route = "verdicts"
            if path == "/-/verdicts" and method == "POST":
                return await self._batch(await _body(receive), req)
            if path.startswith("/-/verdicts/") and method in ("GET", "HEAD"):
                module, version = _module_version(path.removeprefix("/-/verdicts/"))
                req.module, req.version = module, version
                verdict = await self.verdict(module, version, req)
                if verdict is None:
                    raise ApiError(404, "not found upstream", module=module, version=version)
                req.decision = verdict.decision.value
                return _json(200, verdict.to_json())
            raise ApiError(
                405 if path.startswith("/-/verdicts") else 404, f"no route {method} {path}"
            )
        except ApiError as e:
            return _json(e.status, {"error": e.message, **e.fields})
        except GoProxyScanError as e:
            status = getattr(e, "status", 400 if isinstance(e, InputError) else 500)
            return _json(status, {"error": str(e)})

    # ---- verdicts --------------------------------------------------------------------------

    async def verdict(self, module: str, version: str, req: Request) -> Verdict | None:
        """The verdict in force; a version never seen is fetched and audited (bounded)."""
        gate = self.gateway.auditor
        if gate is None:
            raise ApiError(
                404, "this go-vault has no auditor; start it with --policy FILE", module=module
            )
        from .errors import NotInProxyError, PolicyRejectedError

        try:
            check(module, version)
        except InvalidModuleError as e:
            raise ApiError(400, e.message, module=module, version=version) from e
        if canonical_version(version) != version:
            raise ApiError(400, "not a canonical version", module=module, version=version)
        await gate.refresh()
        verdict = gate.known(module, version)
        if verdict is not None:
            return verdict
        if self._limit is None:
            self._limit = asyncio.Semaphore(self.gateway.config.audit_concurrency)
        async with self._limit:
            verdict = await self.gateway.workers.run(gate.current, module, version)
            if verdict is not None:
                return verdict
            if self.gateway.config.offline:
                return None
            try:
                await self.gateway.ingester.ingest(module, version, req.trace_id)
            except PolicyRejectedError:
                pass  # the verdict was stored before the refusal
            except NotInProxyError:
                return None
        verdict = gate.known(module, version)
        if verdict is None:
            stored = await self.gateway.workers.run(gate.store.get, module, version)
            verdict = stored[0] if stored else None
        return verdict

    async def _batch(self, body: bytes, req: Request) -> tuple[int, bytes, str]:
        pairs = batch_pairs(body)
        gate = self.gateway.auditor
        if gate is None:
            raise ApiError(404, "this go-vault has no auditor; start it with --policy FILE")
        out: list[dict[str, Any] | None] = [None] * len(pairs)
        cold: list[int] = []
        await gate.refresh()
        for i, (module, version) in enumerate(pairs):
            verdict = gate.known(module, version)
            if verdict is None:
                cold.append(i)
            else:
                out[i] = verdict.to_json()
        errors: list[dict[str, str]] = []

        async def one(i: int) -> None:
            module, version = pairs[i]
            try:
                verdict = await self.verdict(module, version, req)
            except (GoProxyScanError, ApiError) as e:
                errors.append({"module": module, "version": version, "error": str(e)})
                return
            if verdict is not None:
                out[i] = verdict.to_json()

        if cold:
            await asyncio.gather(*(one(i) for i in cold))
        verdicts = [v for v in out if v is not None]
        return _json(200, {"verdicts": verdicts, "errors": errors})

    # ---- admin -----------------------------------------------------------------------------

    def _admin_only(self, scope: Scope) -> None:
        granted = scope.get("state", {}).get("go_vault_identity")  # proxy/auth.py, layer 4a
        if granted is not None and granted.access == "admin":
            return
        token = self.gateway.config.admin_token
        if not token:
            raise ApiError(403, "admin routes are off: set GO_VAULT_ADMIN_TOKEN to enable them")
        given = ""
        for key, value in scope.get("headers", ()):
            if key.lower() == b"authorization":
                given = bytes(value).decode("latin-1").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise ApiError(401, "admin token missing or wrong (Authorization: Bearer TOKEN)")

    async def _admin(
        self, path: str, method: str, scope: Scope, receive: Receive
    ) -> tuple[int, bytes, str]:
        gate = self.gateway.auditor
        if gate is None or gate.policies is None:
            raise ApiError(404, "this go-vault has no license policy; start it with --policy")
        if path == "/-/admin/policy/reload" and method == "POST":
            return _json(200, await self.gateway.workers.run(gate.reload_everywhere, "admin"))
        approvals = gate.policies.approvals
        if approvals is None:
            raise ApiError(404, "this go-vault keeps no approvals")
        if path == "/-/admin/exceptions" and method == "GET":
            items = await self.gateway.workers.run(approvals.all)
            return _json(200, {"exceptions": [a.to_json() for a in items]})
        if path == "/-/admin/exceptions" and method == "POST":
            from .exceptions import new_approval

            try:
                data = json.loads(await _body(receive))
                approval = new_approval(
                    str(data["module"]),
                    data.get("versions"),
                    str(data.get("reason", "")),
                    str(data.get("approver", "")),
                    data.get("expires"),
                    data.get("license"),
                    now=datetime.now(UTC),
                )
            except (ValueError, KeyError, TypeError) as e:
                raise ApiError(400, f"not an exception: {e}") from e
            await self.gateway.workers.run(approvals.add, approval)
            # In force now, not at the next look; in a worker (the approvals may be on S3).
            await self.gateway.workers.run(gate.policies.refresh_now)
            self.gateway.audit_log.event("approval", action="add", **approval.to_json())
            return _json(201, approval.to_json())
        if path.startswith("/-/admin/exceptions/") and method == "DELETE":
            ident = path.removeprefix("/-/admin/exceptions/")
            if not await self.gateway.workers.run(approvals.remove, ident):
                raise ApiError(404, f"no exception {ident}")
            await self.gateway.workers.run(gate.policies.refresh_now)
            self.gateway.audit_log.event("approval", action="remove", id=ident)
            return _json(200, {"removed": ident})
        raise ApiError(404, f"no route {method} {path}")


def allowed_methods(path: str) -> str:
    """The Allow header of a 405 from these routes: POST for /-/verdicts, GET and HEAD for
    /-/verdicts/{module}/@v/{version} (the admin routes answer another method with 404)."""
    return "POST" if path == "/-/verdicts" else "GET, HEAD"


def _module_version(rest: str) -> tuple[str, str]:
    escaped_module, sep, escaped_version = rest.rpartition("/@v/")
    if not sep:
        raise ApiError(404, "use /-/verdicts/{module}/@v/{version}")
    try:
        return unescape_path(escaped_module), unescape_version(escaped_version)
    except InvalidModuleError as e:
        raise ApiError(400, e.message) from e


async def _body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ApiError(400, "the client went away")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise ApiError(413, f"request body over {MAX_BODY} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)
