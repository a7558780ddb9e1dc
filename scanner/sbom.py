"""CycloneDX SBOM of a scan: a component per build-list module, the graph, the standard library."""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from functools import cache
from typing import Any

from cyclonedx.model import HashAlgorithm, HashType, Property
from cyclonedx.model.bom import Bom, BomMetaData
from cyclonedx.model.component import Component, ComponentScope, ComponentType
from cyclonedx.model.dependency import Dependency
from cyclonedx.model.license import (
    DisjunctiveLicense,
    License,
    LicenseAcknowledgement,
    LicenseExpression,
)
from cyclonedx.model.tool import ToolRepository
from cyclonedx.output import make_outputter
from cyclonedx.schema import OutputFormat, SchemaVersion
from cyclonedx.spdx import fixup_id, is_expression
from cyclonedx.validation import make_schemabased_validator
from packageurl import PackageURL

from .errors import InputError, OperationalError
from .result import ModuleResult, ScanResult

# Our properties live in our own namespace (CycloneDX property taxonomy convention).
PROP = "goproxy-scan"
# Serial numbers of reproducible SBOMs are derived from the content in this UUID namespace.
_SERIAL_NAMESPACE = uuid.UUID("9a3c1c2e-7f0b-4e55-9c57-1f5a0c1d6b2e")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class SpecVersion(StrEnum):
    V1_6 = "1.6"
    V1_5 = "1.5"
    V1_4 = "1.4"

    @property
    def schema(self) -> SchemaVersion:
        return SchemaVersion.from_version(self.value)


class SbomFormat(StrEnum):
    JSON = "json"
    XML = "xml"


@dataclass(frozen=True, slots=True)
class SbomOptions:
    """How to write the SBOM; `reproducible` fixes the timestamp and derives the serial number."""

    spec_version: SpecVersion = SpecVersion.V1_6
    output_format: SbomFormat = SbomFormat.JSON
    reproducible: bool = False
    # Injected clock and serial; in reproducible mode `timestamp` defaults to the epoch
    # (or SOURCE_DATE_EPOCH, which the CLI passes here).
    timestamp: datetime | None = None
    serial: uuid.UUID | None = None


def module_purl(path: str, version: str) -> PackageURL:
    """`pkg:golang/<namespace>/<name>@<version>`: the last path element is the name.

    Each segment is percent-encoded by packageurl; case is kept because Go module paths are
    case-sensitive (`github.com/Azure/x` and `github.com/azure/x` are different modules).
    """
    namespace, _, name = path.rpartition("/")
    return PackageURL(
        type="golang", namespace=namespace or None, name=name, version=version or None
    )


def h1_sha256(h1: str) -> str | None:
    """The hex SHA-256 inside a go.sum `h1:` hash (dirhash Hash1 of the module tree)."""
    if not h1.startswith("h1:"):
        return None
    try:
        raw = base64.b64decode(h1[3:], validate=True)
    except ValueError:
        return None
    return raw.hex() if len(raw) == 32 else None


def _licenses(module: ModuleResult) -> tuple[list[License], list[Property]]:
    """Concluded (the verdict) and declared licenses; CycloneDX allows one expression only."""
    extra: list[Property] = []
    wanted = [
        (module.expression, LicenseAcknowledgement.CONCLUDED),
        (module.declared, LicenseAcknowledgement.DECLARED),
    ]
    singles: list[License] = []
    compound: list[tuple[str, LicenseAcknowledgement]] = []
    for text, ack in wanted:
        if not text:
            continue
        spdx_id = fixup_id(text)
        if spdx_id is not None:
            singles.append(DisjunctiveLicense(id=spdx_id, acknowledgement=ack))
        elif text.startswith("LicenseRef-") or not is_expression(text):
            singles.append(DisjunctiveLicense(name=text, acknowledgement=ack))
        else:
            compound.append((text, ack))
    if compound:
        # An expression must stand alone; the other acknowledgement goes to a property.
        text, ack = compound[0]
        for other, other_ack in wanted:
            if other and other_ack is not ack:
                extra.append(Property(name=f"{PROP}:license:{other_ack.value}", value=other))
        return [LicenseExpression(text, acknowledgement=ack)], extra
    return singles, extra


def _component(module: ModuleResult) -> Component:
    purl = module_purl(module.path, module.version)
    hashes = []
    tree = h1_sha256(module.h1)
    if tree is not None:
        hashes.append(HashType(alg=HashAlgorithm.SHA_256, content=tree))
    if module.zip_sha256:
        hashes.append(HashType(alg=HashAlgorithm.SHA_256, content=module.zip_sha256))
    props = [
        Property(name=f"{PROP}:indirect", value=str(module.indirect).lower()),
        Property(name=f"{PROP}:verdict", value=module.decision.value),
        Property(name=f"{PROP}:verdict-source", value=module.verdict_source),
    ]
    if module.h1:
        props.append(Property(name=f"{PROP}:h1", value=module.h1))
    if module.zip_sha256:
        props.append(Property(name=f"{PROP}:zip-sha256", value=module.zip_sha256))
    if module.replace:
        props.append(Property(name=f"{PROP}:replace", value=module.replace))
    if module.go_version:
        props.append(Property(name=f"{PROP}:go-version", value=module.go_version))
    licenses, license_props = _licenses(module)
    return Component(
        type=ComponentType.LIBRARY,
        name=module.path,
        version=module.version,
        bom_ref=str(purl),
        purl=purl,
        scope=ComponentScope.OPTIONAL if module.optional else ComponentScope.REQUIRED,
        hashes=hashes,
        licenses=licenses,
        properties=[*props, *license_props],
    )


def _stdlib_version(result: ScanResult) -> str:
    # "go1.27.3" -> "v1.27.3": the semver form govulncheck and OSV use for the standard library.
    raw = result.stdlib_version or (f"go{result.go_version}" if result.go_version else "")
    return "v" + raw.removeprefix("go") if raw else ""


def stdlib_purl(result: ScanResult) -> PackageURL:
    """The standard library component's purl (its version is the toolchain the scan used)."""
    return module_purl("stdlib", _stdlib_version(result))


def build_bom(result: ScanResult, options: SbomOptions) -> Bom:
    """The Bom object for a scan result (no I/O; the clock and serial come from `options`)."""
    main_purl = module_purl(result.main_module, "")
    main = Component(
        type=ComponentType.APPLICATION,
        name=result.main_module,
        bom_ref=str(main_purl),
        purl=main_purl,
        properties=[Property(name=f"{PROP}:go-version", value=result.go_version)]
        if result.go_version
        else [],
    )
    std_version = _stdlib_version(result)
    std_purl = stdlib_purl(result)
    stdlib = Component(
        type=ComponentType.LIBRARY,
        name="stdlib",
        version=std_version or None,
        description="The Go standard library",
        bom_ref=str(std_purl),
        purl=std_purl,
        scope=ComponentScope.REQUIRED,
        licenses=[
            DisjunctiveLicense(id="BSD-3-Clause", acknowledgement=LicenseAcknowledgement.DECLARED)
        ],
    )
    modules = [m for m in result.modules if m.path != result.main_module]
    components = {m.key: _component(m) for m in modules}
    by_path = {m.path: m.key for m in modules}

    def refs(keys: Iterable[str]) -> list[Dependency]:
        # The graph names requirements at the versions it asked for; MVS selected one per path.
        out = {}
        for key in keys:
            selected = key if key in components else by_path.get(key.rpartition("@")[0])
            if selected is not None:
                ref = components[selected].bom_ref
                out[ref.value] = Dependency(ref=ref)
        return list(out.values())

    dependencies = [
        Dependency(
            ref=main.bom_ref, dependencies=[*refs(result.main_requires), Dependency(stdlib.bom_ref)]
        ),
        Dependency(ref=stdlib.bom_ref),
    ]
    dependencies += [
        Dependency(ref=components[m.key].bom_ref, dependencies=refs(m.requires)) for m in modules
    ]
    tool = Component(
        type=ComponentType.APPLICATION, name=result.tool_name, version=result.tool_version
    )
    timestamp = options.timestamp
    if timestamp is None:
        timestamp = _EPOCH if options.reproducible else datetime.now(UTC)
    bom = Bom(
        metadata=BomMetaData(
            tools=ToolRepository(components=[tool]),
            component=main,
            timestamp=timestamp,
            properties=[Property(name=f"{PROP}:policy-digest", value=result.policy_digest)]
            if result.policy_digest
            else [],
        ),
        components=[stdlib, *components.values()],
        dependencies=dependencies,
    )
    if result.vulnerabilities:
        # Imported here: the vulnerability modules import this one (module_purl, PROP).
        from .vulndb.cyclonedx_vulns import cyclonedx_vulnerabilities
        from .vulndb.scanresult import component_refs, to_vuln_findings

        by_match = component_refs(result)
        bom.vulnerabilities = cyclonedx_vulnerabilities(
            to_vuln_findings(result),
            lambda module, version: by_match.get(
                f"{module}@{version}", str(module_purl(module, version))
            ),
        )
    if options.serial is not None:
        bom.serial_number = options.serial
    elif options.reproducible:
        bom.serial_number = _content_serial(result, options)
    return bom


def _content_serial(result: ScanResult, options: SbomOptions) -> uuid.UUID:
    # Everything but the scan's own clock: two scans of the same tree get the same serial.
    content = replace(result, generated_at="").to_json()
    digest = hashlib.sha256((content + options.spec_version.value).encode()).hexdigest()
    return uuid.uuid5(_SERIAL_NAMESPACE, digest)


# Where the CycloneDX JSON schemas find their companions (the ids cyclonedx-python-lib uses).
_SCHEMA_BASE = "http://cyclonedx.org/schema/"


@cache
def _json_validator(schema: SchemaVersion) -> Any:
    """A compiled validator for cyclonedx-python-lib's own CycloneDX JSON schema, built once.

    jsonschema-rs checks the same draft-7 schema (with the SPDX, JSF and cryptography-defs
    companions, and formats) as the library's jsonschema-based validator, in milliseconds
    instead of most of a second on a 300-module SBOM: the pure-Python one walks every $ref and
    compares array items pairwise for uniqueItems.
    """
    import json

    import jsonschema_rs
    from cyclonedx.schema._res import BOM_JSON, CRYPTOGRAPHY_DEFS, JSF, SPDX_JSON

    def load(path: str) -> Any:
        with open(path, encoding="utf-8") as f:
            return json.load(f)

    registry = jsonschema_rs.Registry(
        [
            (f"{_SCHEMA_BASE}spdx.SNAPSHOT.schema.json", load(SPDX_JSON)),
            (f"{_SCHEMA_BASE}cryptography-defs.SNAPSHOT.schema.json", load(CRYPTOGRAPHY_DEFS)),
            (f"{_SCHEMA_BASE}jsf-0.82.SNAPSHOT.schema.json", load(JSF)),
        ],
        draft=jsonschema_rs.Draft7,
    )
    path = BOM_JSON.get(schema)
    if path is None:
        raise OperationalError(f"cyclonedx-python-lib has no JSON schema for CycloneDX {schema}")
    return jsonschema_rs.Draft7Validator(load(path), registry=registry, validate_formats=True)


def _schema_error(text: str, fmt: OutputFormat, schema: SchemaVersion) -> object | None:
    """The first way `text` breaks its CycloneDX schema, or None when it conforms."""
    if fmt is OutputFormat.XML:
        return make_schemabased_validator(fmt, schema).validate_str(text)
    import json

    return next(iter(_json_validator(schema).iter_errors(json.loads(text))), None)


def render_sbom(result: ScanResult, options: SbomOptions) -> str:
    """The SBOM text, validated against the CycloneDX schema before anyone writes it."""
    fmt = OutputFormat.JSON if options.output_format is SbomFormat.JSON else OutputFormat.XML
    schema = options.spec_version.schema
    text = make_outputter(build_bom(result, options), fmt, schema).output_as_string(indent=2)
    error = _schema_error(text, fmt, schema)
    if error is not None:
        raise OperationalError(
            f"the CycloneDX {options.spec_version} {options.output_format} SBOM does not pass "
            f"its schema: {error}",
            module=result.main_module,
            hint="this is a goproxy-scan bug; please report it with the scan result JSON",
        )
    return text if text.endswith("\n") else text + "\n"


def render_sbom_from_result(result: ScanResult, options: SbomOptions) -> str:
    """For `report --format cyclonedx`: the result's own time stands in for the clock."""
    if options.timestamp is None and options.reproducible:
        try:
            stamp = datetime.fromisoformat(result.generated_at)
        except ValueError as e:
            raise InputError(f"bad generated_at {result.generated_at!r}") from e
        options = SbomOptions(
            spec_version=options.spec_version,
            output_format=options.output_format,
            reproducible=True,
            timestamp=stamp,
            serial=options.serial,
        )
    return render_sbom(result, options)
