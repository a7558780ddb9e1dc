"""CycloneDX SBOM of a scan: a component per build-list module, the graph, the standard library."""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from functools import cache
from typing import TYPE_CHECKING, Any

from packageurl import PackageURL

from .errors import InputError, OperationalError
from .result import ModuleResult, ScanResult

if TYPE_CHECKING:  # cyclonedx-python-lib is imported only where its model is used (XML, 1.4/1.5,
    # vulnerabilities): its import and object model cost more than the rest of an SBOM run.
    from cyclonedx.model.bom import Bom
    from cyclonedx.schema import OutputFormat, SchemaVersion

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
        from cyclonedx.schema import SchemaVersion

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


@cache
def _spdx_ids() -> dict[str, str]:
    """Lower-case SPDX id -> its spelling, from the schema cyclonedx-python-lib validates with."""
    import json

    from cyclonedx.schema._res import SPDX_JSON

    with open(SPDX_JSON, encoding="utf-8") as f:
        return {i.lower(): i for i in json.load(f).get("enum", [])}


def _is_expression(text: str) -> bool:
    """cyclonedx.spdx.is_expression, on the SPDX licensing index scanner.spdx already built."""
    from .spdx import licensing

    try:
        return not licensing().validate(text).errors
    except Exception:  # the library's parser crashes on some characters: not an expression
        return False


@dataclass(frozen=True, slots=True)
class LicenseEntry:
    """One CycloneDX license: an SPDX `id`, a `name`, or an `expression` (which stands alone)."""

    acknowledgement: str  # "concluded" (the verdict) or "declared" (go.mod //go:license)
    id: str = ""
    name: str = ""
    expression: str = ""


@dataclass(frozen=True, slots=True)
class Part:
    """One component as the SBOM describes it, before a writer renders it."""

    type: str  # "library" or "application"
    name: str
    purl: PackageURL
    version: str = ""
    description: str = ""
    scope: str = ""  # "required", "optional" or "" (the main module)
    hashes: tuple[str, ...] = ()  # SHA-256, hex
    licenses: tuple[LicenseEntry, ...] = ()
    properties: tuple[tuple[str, str], ...] = ()
    ref: str = field(init=False)  # the bom-ref: the purl's text, made once (packageurl is slow)

    def __post_init__(self) -> None:
        object.__setattr__(self, "ref", str(self.purl))


@dataclass(frozen=True, slots=True)
class SbomContent:
    """Everything an SBOM says, independent of the CycloneDX version and format."""

    main: Part
    components: tuple[Part, ...]  # the standard library first, then the modules
    dependencies: tuple[tuple[str, tuple[str, ...]], ...]  # bom-ref -> the bom-refs it needs
    tool: tuple[str, str]  # name, version
    timestamp: datetime
    serial: uuid.UUID | None  # None: a random one
    properties: tuple[tuple[str, str], ...]  # the document's own


def _licenses(module: ModuleResult) -> tuple[tuple[LicenseEntry, ...], list[tuple[str, str]]]:
    """Concluded (the verdict) and declared licenses; CycloneDX allows one expression only."""
    extra: list[tuple[str, str]] = []
    wanted = [(module.expression, "concluded"), (module.declared, "declared")]
    singles: list[LicenseEntry] = []
    compound: list[tuple[str, str]] = []
    for text, ack in wanted:
        if not text:
            continue
        spdx_id = _spdx_ids().get(text.lower())
        if spdx_id is not None:
            singles.append(LicenseEntry(ack, id=spdx_id))
        elif text.startswith("LicenseRef-") or not _is_expression(text):
            singles.append(LicenseEntry(ack, name=text))
        else:
            compound.append((text, ack))
    if compound:
        # An expression must stand alone; the other acknowledgement goes to a property.
        text, ack = compound[0]
        for other, other_ack in wanted:
            if other and other_ack != ack:
                extra.append((f"{PROP}:license:{other_ack}", other))
        return (LicenseEntry(ack, expression=text),), extra
    return tuple(singles), extra


def _part(module: ModuleResult) -> Part:
    hashes = []
    tree = h1_sha256(module.h1)
    if tree is not None:
        hashes.append(tree)
    if module.zip_sha256:
        hashes.append(module.zip_sha256)
    props = [
        (f"{PROP}:indirect", str(module.indirect).lower()),
        (f"{PROP}:verdict", module.decision.value),
        (f"{PROP}:verdict-source", module.verdict_source),
    ]
    if module.h1:
        props.append((f"{PROP}:h1", module.h1))
    if module.zip_sha256:
        props.append((f"{PROP}:zip-sha256", module.zip_sha256))
    if module.replace:
        props.append((f"{PROP}:replace", module.replace))
    if module.go_version:
        props.append((f"{PROP}:go-version", module.go_version))
    licenses, license_props = _licenses(module)
    return Part(
        type="library",
        name=module.path,
        version=module.version,
        purl=module_purl(module.path, module.version),
        scope="optional" if module.optional else "required",
        hashes=tuple(hashes),
        licenses=licenses,
        properties=(*props, *license_props),
    )


def _stdlib_version(result: ScanResult) -> str:
    """The Go release go.mod builds with, in the semver form govulncheck and OSV use for the
    standard library ("go1.22.0" -> "v1.22.0", "go1.21rc1" -> "v1.21.0-rc.1"): the version the
    vulnerabilities were matched at. A result without it (written before) falls back to its
    `go` line ("1.22" -> "v1.22.0"); "" when neither is a Go version."""
    from .vulndb.match import go_semver

    return go_semver(result.stdlib_version) or go_semver(result.go_version)


def stdlib_purl(result: ScanResult) -> PackageURL:
    """The standard library component's purl (its version is the Go release go.mod builds
    with: the toolchain line, else the go line)."""
    return module_purl("stdlib", _stdlib_version(result))


def sbom_content(result: ScanResult, options: SbomOptions) -> SbomContent:
    """What the SBOM of a scan result says (no I/O; the clock and serial come from `options`)."""
    main = Part(
        type="application",
        name=result.main_module,
        purl=module_purl(result.main_module, ""),
        properties=((f"{PROP}:go-version", result.go_version),) if result.go_version else (),
    )
    stdlib = Part(
        type="library",
        name="stdlib",
        version=_stdlib_version(result),
        description="The Go standard library",
        purl=stdlib_purl(result),
        scope="required",
        licenses=(LicenseEntry("declared", id="BSD-3-Clause"),),
    )
    modules = [m for m in result.modules if m.path != result.main_module]
    parts = {m.key: _part(m) for m in modules}
    by_path = {m.path: m.key for m in modules}

    def refs(keys: Iterable[str]) -> tuple[str, ...]:
        # The graph names requirements at the versions it asked for; MVS selected one per path.
        out: dict[str, None] = {}
        for key in keys:
            selected = key if key in parts else by_path.get(key.rpartition("@")[0])
            if selected is not None:
                out[parts[selected].ref] = None
        return tuple(out)

    dependencies = [
        (main.ref, (*refs(result.main_requires), stdlib.ref)),
        (stdlib.ref, ()),
        *((parts[m.key].ref, refs(m.requires)) for m in modules),
    ]
    timestamp = options.timestamp
    if timestamp is None:
        timestamp = _EPOCH if options.reproducible else datetime.now(UTC)
    content = SbomContent(
        main=main,
        components=(stdlib, *parts.values()),
        dependencies=tuple(dependencies),
        tool=(result.tool_name, result.tool_version),
        timestamp=timestamp,
        serial=options.serial,
        properties=((f"{PROP}:policy-digest", result.policy_digest),)
        if result.policy_digest
        else (),
    )
    if content.serial is None and options.reproducible:
        content = replace(content, serial=_content_serial(content, result, options))
    return content


def build_bom(result: ScanResult, options: SbomOptions) -> Bom:
    """The cyclonedx-python-lib Bom of a scan result (XML, CycloneDX 1.4/1.5, vulnerabilities)."""
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

    def properties(pairs: Iterable[tuple[str, str]]) -> list[Property]:
        return [Property(name=name, value=value) for name, value in pairs]

    def license_of(entry: LicenseEntry) -> License:
        ack = LicenseAcknowledgement(entry.acknowledgement)
        if entry.expression:
            return LicenseExpression(entry.expression, acknowledgement=ack)
        if entry.id:
            return DisjunctiveLicense(id=entry.id, acknowledgement=ack)
        return DisjunctiveLicense(name=entry.name, acknowledgement=ack)

    def component(part: Part) -> Component:
        return Component(
            type=ComponentType(part.type),
            name=part.name,
            version=part.version or None,
            description=part.description or None,
            bom_ref=part.ref,
            purl=part.purl,
            scope=ComponentScope(part.scope) if part.scope else None,
            hashes=[HashType(alg=HashAlgorithm.SHA_256, content=h) for h in part.hashes],
            licenses=[license_of(entry) for entry in part.licenses],
            properties=properties(part.properties),
        )

    content = sbom_content(result, options)
    main = component(content.main)
    components = [component(part) for part in content.components]
    by_ref = {c.bom_ref.value: c.bom_ref for c in (main, *components)}
    tool_name, tool_version = content.tool
    bom = Bom(
        metadata=BomMetaData(
            tools=ToolRepository(
                components=[
                    Component(type=ComponentType.APPLICATION, name=tool_name, version=tool_version)
                ]
            ),
            component=main,
            timestamp=content.timestamp,
            properties=properties(content.properties),
        ),
        components=components,
        dependencies=[
            Dependency(ref=by_ref[ref], dependencies=[Dependency(ref=by_ref[d]) for d in needs])
            for ref, needs in content.dependencies
        ],
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
    if content.serial is not None:
        bom.serial_number = content.serial
    return bom


def _json_part(part: Part) -> dict[str, Any]:
    """A component as cyclonedx-python-lib writes it in CycloneDX 1.6 JSON (same keys, order)."""
    out: dict[str, Any] = {"bom-ref": part.ref}
    if part.description:
        out["description"] = part.description
    if part.hashes:
        out["hashes"] = [{"alg": "SHA-256", "content": h} for h in sorted(set(part.hashes))]
    if part.licenses:
        out["licenses"] = [
            {"acknowledgement": e.acknowledgement, "expression": e.expression}
            if e.expression
            else {"license": {"acknowledgement": e.acknowledgement, **_license_key(e)}}
            for e in sorted(part.licenses, key=lambda e: (e.acknowledgement, e.id, e.name))
        ]
    out["name"] = part.name
    if part.properties:
        out["properties"] = [{"name": n, "value": v} for n, v in sorted(set(part.properties))]
    out["purl"] = part.ref
    if part.scope:
        out["scope"] = part.scope
    out["type"] = part.type
    if part.version:
        out["version"] = part.version
    return out


def _license_key(entry: LicenseEntry) -> dict[str, str]:
    return {"id": entry.id} if entry.id else {"name": entry.name}


def _json_document(content: SbomContent) -> dict[str, Any] | None:
    """The CycloneDX 1.6 JSON document, byte for byte what cyclonedx-python-lib writes for it.

    Building the library's object model (sorted sets compared field by field) and serialising
    it generically took most of an SBOM run; our SBOMs use a small, fixed part of the model,
    so they are written here. The library's order is kept: components by name (then version),
    dependencies by ref, hashes and properties sorted. None when the library would have to
    break a tie or rename a duplicate bom-ref: then the library writes it.
    """
    parts = content.components
    names = {p.name for p in parts}
    refs = {content.main.ref, *(p.ref for p in parts)}
    if len(names) != len(parts) or len(refs) != len(parts) + 1:
        return None
    if any(len(p.licenses) > 1 and any(e.expression for e in p.licenses) for p in parts):
        return None
    dependencies = []
    for ref, needs in sorted(content.dependencies):
        entry: dict[str, Any] = {"dependsOn": sorted(set(needs))} if needs else {}
        entry["ref"] = ref
        dependencies.append(entry)
    metadata: dict[str, Any] = {"component": _json_part(content.main)}
    if content.properties:
        metadata["properties"] = [
            {"name": n, "value": v} for n, v in sorted(set(content.properties))
        ]
    timestamp = content.timestamp
    if timestamp.tzinfo is None:
        timestamp = timestamp.astimezone()
    metadata["timestamp"] = timestamp.isoformat()
    name, version = content.tool
    metadata["tools"] = {"components": [{"name": name, "type": "application", "version": version}]}
    serial = content.serial or uuid.uuid4()
    return {
        "components": [_json_part(p) for p in sorted(parts, key=lambda p: p.name)],
        "dependencies": dependencies,
        "metadata": metadata,
        "serialNumber": serial.urn,
        "version": 1,
        "$schema": "http://cyclonedx.org/schema/bom-1.6.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
    }


def _content_serial(content: SbomContent, result: ScanResult, options: SbomOptions) -> uuid.UUID:
    """A reproducible SBOM's serial: a digest of what the SBOM says about the tree, and of
    nothing else. Not the clock, and not the scan's notes: they say where modules were read
    from ("GOPROXY=…"), so two SBOMs of one tree differed in this number alone."""
    import json

    facts = {
        "spec": options.spec_version.value,
        "main": _json_part(content.main),
        "components": [_json_part(p) for p in content.components],
        "dependencies": content.dependencies,
        "tool": content.tool,
        "properties": content.properties,
        # As the SBOM's vulnerabilities state them; the --base status is no part of them.
        "vulnerabilities": [asdict(replace(v, status=None)) for v in result.vulnerabilities],
    }
    text = json.dumps(facts, sort_keys=True, ensure_ascii=False, default=str)
    return uuid.uuid5(_SERIAL_NAMESPACE, hashlib.sha256(text.encode()).hexdigest())


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
    import json

    from cyclonedx.schema import OutputFormat

    if fmt is OutputFormat.XML:
        from cyclonedx.validation import make_schemabased_validator

        return make_schemabased_validator(fmt, schema).validate_str(text)

    return next(iter(_json_validator(schema).iter_errors(json.loads(text))), None)


def render_sbom(result: ScanResult, options: SbomOptions) -> str:
    """The SBOM text, validated against the CycloneDX schema before anyone writes it."""
    from cyclonedx.schema import OutputFormat

    fmt = OutputFormat.JSON if options.output_format is SbomFormat.JSON else OutputFormat.XML
    schema = options.spec_version.schema
    text = _sbom_text(result, options, fmt, schema)
    error = _schema_error(text, fmt, schema)
    if error is not None:
        raise OperationalError(
            f"the CycloneDX {options.spec_version} {options.output_format} SBOM does not pass "
            f"its schema: {error}",
            module=result.main_module,
            hint="this is a goproxy-scan bug; please report it with the scan result JSON",
        )
    return text if text.endswith("\n") else text + "\n"


def _sbom_text(
    result: ScanResult, options: SbomOptions, fmt: OutputFormat, schema: SchemaVersion
) -> str:
    """CycloneDX 1.6 JSON without vulnerabilities is written here; the rest by the library."""
    if (
        options.output_format is SbomFormat.JSON
        and options.spec_version is SpecVersion.V1_6
        and not result.vulnerabilities
    ):
        document = _json_document(sbom_content(result, options))
        if document is not None:
            import json

            return json.dumps(document, indent=2)
    from cyclonedx.output import make_outputter

    return make_outputter(build_bom(result, options), fmt, schema).output_as_string(indent=2)


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
