"""The S3 vault (AWS S3, MinIO, Ceph): conditional writes make several replicas share one bucket.

`--storage s3://bucket/prefix[?endpoint=URL&region=R&presign=1]`. The endpoint, region and
credentials otherwise come from the environment as boto3 reads it (AWS_ENDPOINT_URL,
AWS_REGION, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE …) or GO_VAULT_S3_ENDPOINT /
GO_VAULT_S3_REGION / GO_VAULT_S3_PRESIGN.

Objects use the GOPROXY layout under the prefix (`<escaped module>/@v/<escaped version>.<kind>`),
so the bucket itself can back a static GOPROXY. Immutability needs no lock server: every put is
`If-None-Match: *`, so of two replicas ingesting the same version exactly one write lands and
the other compares bytes (same: no-op; different: ImmutabilityError).
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from scanner.errors import InputError, InvalidModuleError
from scanner.module import escape_path, unescape_path, unescape_version

from ..errors import ImmutabilityError, StorageError
from . import BlobNotFoundError, BlobStream, Kind, Storage, blob_name

security_log = logging.getLogger("go_vault.security")

_STATE_PREFIX = ".go-vault/"  # beside the modules; a leading dot is never a module path
_PRESIGN_SECONDS = 300


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def _code(e: ClientError) -> str:
    return str(e.response.get("Error", {}).get("Code", ""))


def _status(e: ClientError) -> int:
    return int(e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


class S3Location:
    """A parsed `s3://bucket/prefix?…` with its boto3 client (thread-safe, made once)."""

    def __init__(self, spec: str, env: dict[str, str] | None = None) -> None:
        env = dict(os.environ) if env is None else env
        url = urllib.parse.urlsplit(spec)
        if url.scheme != "s3" or not url.netloc:
            raise InputError(
                f"storage {spec!r} is not s3://bucket/prefix", hint="e.g. s3://go-vault/prod"
            )
        query = dict(urllib.parse.parse_qsl(url.query))
        self.spec = spec
        self.bucket = url.netloc
        self.prefix = url.path.strip("/") + "/" if url.path.strip("/") else ""
        self.presign = _truthy(query.get("presign") or env.get("GO_VAULT_S3_PRESIGN"))
        endpoint = query.get("endpoint") or env.get("GO_VAULT_S3_ENDPOINT") or None
        region = query.get("region") or env.get("GO_VAULT_S3_REGION") or None
        self.client: Any = boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint,
            region_name=region,
            config=Config(
                retries={"max_attempts": 4, "mode": "standard"},
                max_pool_connections=32,
                s3={"addressing_style": "path"} if endpoint else None,
            ),
        )

    def key(self, name: str) -> str:
        return self.prefix + name

    def failure(self, what: str, e: Exception) -> StorageError:
        return StorageError(
            f"S3 {what} failed: {e}",
            path=self.spec,
            hint="check the endpoint, credentials and bucket",
        )


class S3Storage(Storage):
    """Blobs as objects `<prefix><escaped module>/@v/<escaped version>.<kind>` in one bucket."""

    def __init__(self, location: S3Location) -> None:
        self.loc = location

    @classmethod
    def from_spec(cls, spec: str) -> S3Storage:
        return cls(S3Location(spec))

    def _key(self, module: str, version: str, kind: Kind) -> str:
        return self.loc.key(blob_name(module, version, kind))

    def _get_object(self, module: str, version: str, kind: Kind) -> Any:
        """The GET response of a blob (its `Body` not read yet); a missing one is not found."""
        try:
            return self.loc.client.get_object(
                Bucket=self.loc.bucket, Key=self._key(module, version, kind)
            )
        except ClientError as e:
            if _code(e) in ("NoSuchKey", "404"):
                raise BlobNotFoundError(
                    f"no .{kind.value} stored", module=module, version=version
                ) from e
            raise self.loc.failure("get", e) from e
        except BotoCoreError as e:
            raise self.loc.failure("get", e) from e

    def get(self, module: str, version: str, kind: Kind) -> bytes:
        r = self._get_object(module, version, kind)
        try:
            return bytes(r["Body"].read())
        except BotoCoreError as e:
            raise self.loc.failure("get", e) from e

    def open_blob(self, module: str, version: str, kind: Kind, chunk: int = 1 << 20) -> BlobStream:
        """Streamed from the GET's body: memory stays at one chunk however large the .zip."""
        r = self._get_object(module, version, kind)
        body = r["Body"]

        def chunks() -> Iterator[bytes]:
            try:
                while data := body.read(chunk):
                    yield bytes(data)
            except BotoCoreError as e:
                raise self.loc.failure("get", e) from e
            finally:
                body.close()

        return BlobStream(int(r["ContentLength"]), str(r["ETag"]), chunks(), body.close)

    def exists(self, module: str, version: str, kind: Kind) -> bool:
        try:
            self.loc.client.head_object(
                Bucket=self.loc.bucket, Key=self._key(module, version, kind)
            )
            return True
        except ClientError as e:
            if _status(e) == 404:
                return False
            raise self.loc.failure("head", e) from e
        except BotoCoreError as e:
            raise self.loc.failure("head", e) from e

    def put(self, module: str, version: str, kind: Kind, data: bytes | Path) -> bool:
        try:
            # If-None-Match: * -- the write lands only when no object holds the key yet.
            # A file is streamed (zips may be large), not read into memory.
            with contextlib.ExitStack() as stack:
                body = data if isinstance(data, bytes) else stack.enter_context(data.open("rb"))
                self.loc.client.put_object(
                    Bucket=self.loc.bucket,
                    Key=self._key(module, version, kind),
                    Body=body,
                    IfNoneMatch="*",
                )
            return True
        except ClientError as e:
            if _status(e) not in (409, 412):  # 409: a concurrent conditional write in flight
                raise self.loc.failure("put", e) from e
        except BotoCoreError as e:
            raise self.loc.failure("put", e) from e
        stored = self._stored_after_race(module, version, kind)
        if stored == (data if isinstance(data, bytes) else data.read_bytes()):
            return False
        security_log.warning(
            "refused to overwrite %s@%s .%s with different bytes", module, version, kind.value
        )
        raise ImmutabilityError(
            f"refused: the vault already holds a different .{kind.value} for this version",
            module=module,
            version=version,
            hint="stored bytes are never replaced; an upstream that changed them is suspect",
        )

    def _stored_after_race(self, module: str, version: str, kind: Kind) -> bytes:
        # A 409 means the winning write may still be completing: wait briefly for it.
        for delay in (0.0, 0.05, 0.1, 0.2, 0.4, 0.8):
            time.sleep(delay)
            try:
                return self.get(module, version, kind)
            except BlobNotFoundError:
                continue
        raise StorageError(
            f"a concurrent write of .{kind.value} did not complete",
            module=module,
            version=version,
            hint="retry",
        )

    def list(self, module: str, kind: Kind = Kind.INFO) -> list[str]:
        prefix = self.loc.key(f"{escape_path(module)}/@v/")
        suffix = f".{kind.value}"
        versions = []
        for key in self._keys(prefix, delimiter="/"):
            name = key[len(prefix) :]
            if name.endswith(suffix):
                try:
                    versions.append(unescape_version(name.removesuffix(suffix)))
                except InvalidModuleError:
                    continue
        return versions

    def _keys(self, prefix: str, delimiter: str = "") -> Iterator[str]:
        paginator = self.loc.client.get_paginator("list_objects_v2")
        args: dict[str, str] = {"Bucket": self.loc.bucket, "Prefix": prefix}
        if delimiter:
            args["Delimiter"] = delimiter
        try:
            for page in paginator.paginate(**args):
                for obj in page.get("Contents", ()):
                    yield str(obj["Key"])
        except (ClientError, BotoCoreError) as e:
            raise self.loc.failure("list", e) from e

    def delete(self, module: str, version: str, kind: Kind) -> bool:
        if not self.exists(module, version, kind):
            return False
        try:
            self.loc.client.delete_object(
                Bucket=self.loc.bucket, Key=self._key(module, version, kind)
            )
        except (ClientError, BotoCoreError) as e:
            raise self.loc.failure("delete", e) from e
        return True

    def modules(self) -> Iterator[str]:
        seen: set[str] = set()
        for key in self._keys(self.loc.prefix):
            rel = key[len(self.loc.prefix) :]
            escaped, sep, _ = rel.partition("/@v/")
            if not sep or escaped in seen or rel.startswith("."):
                continue
            seen.add(escaped)
            try:
                yield unescape_path(escaped)
            except InvalidModuleError:
                continue

    def redirect_url(self, module: str, version: str, kind: Kind) -> str | None:
        if not self.loc.presign:
            return None
        try:
            url: str = self.loc.client.generate_presigned_url(
                "get_object",
                Params={"Bucket": self.loc.bucket, "Key": self._key(module, version, kind)},
                ExpiresIn=_PRESIGN_SECONDS,
            )
        except (ClientError, BotoCoreError) as e:
            raise self.loc.failure("presign", e) from e
        return url

    def check(self) -> None:
        try:
            self.loc.client.head_bucket(Bucket=self.loc.bucket)
        except (ClientError, BotoCoreError) as e:
            raise self.loc.failure(f"access to bucket {self.loc.bucket}", e) from e


class S3StateFile:
    """A small document (rollbacks, imported bundles) as one object, changed by compare-and-swap.

    `update` reads the object and its ETag, applies the change and writes with If-Match (or
    If-None-Match: * when absent); a replica that lost the race reads again and retries.
    """

    def __init__(self, location: S3Location, name: str) -> None:
        self.loc = location
        self.key = location.key(_STATE_PREFIX + name)
        self.where = f"s3://{location.bucket}/{self.key}"

    @classmethod
    def from_spec(cls, spec: str, name: str) -> S3StateFile:
        return cls(S3Location(spec), name)

    def _read(self) -> tuple[bytes | None, str | None]:
        try:
            r = self.loc.client.get_object(Bucket=self.loc.bucket, Key=self.key)
            return bytes(r["Body"].read()), str(r["ETag"])
        except ClientError as e:
            if _code(e) in ("NoSuchKey", "404"):
                return None, None
            raise self.loc.failure("get", e) from e
        except BotoCoreError as e:
            raise self.loc.failure("get", e) from e

    def read(self) -> bytes | None:
        return self._read()[0]

    def stamp(self) -> object:
        try:
            return str(self.loc.client.head_object(Bucket=self.loc.bucket, Key=self.key)["ETag"])
        except ClientError as e:
            if _status(e) == 404:
                return None
            raise self.loc.failure("head", e) from e
        except BotoCoreError as e:
            raise self.loc.failure("head", e) from e

    def update(self, change: Callable[[bytes | None], bytes]) -> None:
        for attempt in range(20):
            data, etag = self._read()
            new = change(data)
            cond = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
            try:
                self.loc.client.put_object(Bucket=self.loc.bucket, Key=self.key, Body=new, **cond)
                return
            except ClientError as e:
                if _status(e) not in (409, 412):
                    raise self.loc.failure("put", e) from e
            except BotoCoreError as e:
                raise self.loc.failure("put", e) from e
            time.sleep(0.02 * (attempt + 1))
        raise StorageError(
            "the state object keeps changing under this write", path=self.where, hint="retry"
        )
