"""CycloneDX SBOMs from a scan result: schema-valid in every version and format, reproducible."""

from __future__ import annotations

import base64
import json
import uuid
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from cyclonedx.output import make_outputter
from cyclonedx.schema import OutputFormat as CdxFormat
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation import make_schemabased_validator
from hypothesis import given, settings
from hypothesis import strategies as st
from reports.reportsample import check_golden, make_result  # tests/scanner/reports/
from scanproject import run_scan_cli

# The vulnerable fixture project and the database of real entries, shared with the scan tests.
from test_scan_vulns import ENTRIES, app, env, vulndb  # noqa: F401 (fixtures)

from scanner.result import ModuleResult, ScanResult
from scanner.sbom import (
    SbomFormat,
    SbomOptions,
    SpecVersion,
    build_bom,
    h1_sha256,
    module_purl,
    render_sbom,
)
from scanner.verdict import Decision


@pytest.mark.parametrize("spec", list(SpecVersion))
@pytest.mark.parametrize("fmt", list(SbomFormat))
def test_every_version_and_format_passes_the_cyclonedx_schema(
    spec: SpecVersion, fmt: SbomFormat
) -> None:
    text = render_sbom(make_result(), SbomOptions(spec, fmt, reproducible=True))
    cdx_format = CdxFormat.JSON if fmt is SbomFormat.JSON else CdxFormat.XML
    assert make_schemabased_validator(cdx_format, spec.schema).validate_str(text) is None
    if fmt is SbomFormat.JSON:
        assert json.loads(text)["specVersion"] == spec.value
    else:
        assert ET.fromstring(text).tag == f"{{http://cyclonedx.org/schema/bom/{spec.value}}}bom"


def test_reproducible_mode_is_byte_identical_and_normal_mode_is_not() -> None:
    options = SbomOptions(reproducible=True)
    first, second = render_sbom(make_result(), options), render_sbom(make_result(), options)
    assert first == second
    check_golden("sbom-1.6.json", first)
    check_golden(
        "sbom-1.4.xml",
        render_sbom(
            make_result(), SbomOptions(SpecVersion.V1_4, SbomFormat.XML, reproducible=True)
        ),
    )
    a, b = (json.loads(render_sbom(make_result(), SbomOptions())) for _ in range(2))
    assert a["serialNumber"] != b["serialNumber"]


@pytest.mark.parametrize("fmt", list(SbomFormat))
def test_a_reproducible_serial_follows_the_content_not_the_notes(fmt: SbomFormat) -> None:
    """The notes name the GOPROXY setting ("file:///x" or "file:///x,off"): hashed into the
    serial, they made two SBOMs of one tree differ."""
    options = SbomOptions(output_format=fmt, reproducible=True)
    result = make_result()
    noted = replace(result, notes=("modules read from GOPROXY=file:///x/proxy,off",))
    assert render_sbom(noted, options) == render_sbom(result, options)
    fewer = replace(result, modules=result.modules[:-1])
    serials = {
        (
            json.loads(text)["serialNumber"]
            if fmt is SbomFormat.JSON
            else ET.fromstring(text).get("serialNumber")
        )
        for text in (render_sbom(r, options) for r in (result, fewer))
    }
    assert len(serials) == 2


def test_injected_clock_and_serial() -> None:
    stamp = datetime(2026, 5, 4, 3, 2, 1, tzinfo=UTC)
    serial = uuid.UUID("12345678-1234-5678-1234-567812345678")
    doc = json.loads(render_sbom(make_result(), SbomOptions(timestamp=stamp, serial=serial)))
    assert doc["metadata"]["timestamp"].startswith("2026-05-04T03:02:01")
    assert doc["serialNumber"] == f"urn:uuid:{serial}"


def test_components_purls_scopes_hashes_licenses_properties() -> None:
    doc = json.loads(render_sbom(make_result(), SbomOptions(reproducible=True)))
    comps = {c["name"]: c for c in doc["components"]}
    assert set(comps) == {
        "example.com/gpl",
        "example.com/mit",
        "github.com/Azure/go-autorest",
        "stdlib",
    }
    azure = comps["github.com/Azure/go-autorest"]
    # case kept (Go paths are case-sensitive), "+" percent-encoded as the purl spec says
    assert azure["purl"] == "pkg:golang/github.com/Azure/go-autorest@v14.2.0%2Bincompatible"
    assert azure["scope"] == "optional"
    props = {p["name"]: p["value"] for p in azure["properties"]}
    assert props["goproxy-scan:indirect"] == "true"
    assert props["goproxy-scan:verdict"] == "REVIEW_REQUIRED"
    assert props["goproxy-scan:replace"] == "github.com/fork/go-autorest@v14.2.1+incompatible"
    gpl = comps["example.com/gpl"]
    assert gpl["scope"] == "required"
    h1 = "h1:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
    tree = base64.b64decode(h1[3:]).hex()
    assert {h["content"] for h in gpl["hashes"]} == {tree, "5" * 64}
    assert gpl["licenses"] == [{"license": {"id": "GPL-3.0-only", "acknowledgement": "concluded"}}]
    mit = comps["example.com/mit"]
    assert {(x["license"]["id"], x["license"]["acknowledgement"]) for x in mit["licenses"]} == {
        ("MIT", "concluded"),
        ("MIT", "declared"),
    }
    std = comps["stdlib"]
    assert std["purl"] == "pkg:golang/stdlib@v1.27.3"
    assert doc["metadata"]["component"]["name"] == "example.com/shop"
    assert doc["metadata"]["tools"]["components"][0]["name"] == "goproxy-scan"


def test_full_dependency_graph() -> None:
    doc = json.loads(render_sbom(make_result(), SbomOptions(reproducible=True)))
    graph = {d["ref"]: set(d.get("dependsOn", ())) for d in doc["dependencies"]}
    refs = {c["bom-ref"] for c in doc["components"]} | {doc["metadata"]["component"]["bom-ref"]}
    assert set(graph) == refs  # every component has its entry, even a leaf
    main = graph["pkg:golang/example.com/shop"]
    assert "pkg:golang/stdlib@v1.27.3" in main
    assert "pkg:golang/github.com/Azure/go-autorest@v14.2.0%2Bincompatible" in main
    # gpl requires mit@v1.0.0; MVS selected v1.2.0, and the edge points at what is built
    assert graph["pkg:golang/example.com/gpl@v1.0.0"] == {"pkg:golang/example.com/mit@v1.2.0"}


def test_compound_expressions_stay_one_expression() -> None:
    result = make_result()
    module = ModuleResult(
        "example.com/dual",
        "v0.1.0",
        Decision.PASS,
        expression="MIT OR GPL-2.0-only",
        declared="Apache-2.0",
    )
    result = replace(result, modules=(*result.modules, module))
    doc = json.loads(render_sbom(result, SbomOptions(reproducible=True)))
    dual = next(c for c in doc["components"] if c["name"] == "example.com/dual")
    assert dual["licenses"] == [
        {"expression": "MIT OR GPL-2.0-only", "acknowledgement": "concluded"}
    ]
    props = {p["name"]: p["value"] for p in dual["properties"]}
    assert props["goproxy-scan:license:declared"] == "Apache-2.0"
    bom = build_bom(result, SbomOptions(reproducible=True))
    assert len(bom.components) == 5


def test_purl_and_h1_helpers() -> None:
    assert str(module_purl("gopkg.in/yaml.v3", "v3.0.1")) == "pkg:golang/gopkg.in/yaml.v3@v3.0.1"
    assert (
        str(module_purl("example.com/a b/c", "v1.0.0")) == "pkg:golang/example.com/a%20b/c@v1.0.0"
    )
    assert h1_sha256("h1:bad") is None
    assert h1_sha256("h1:" + base64.b64encode(b"\x01" * 32).decode()) == "01" * 32


@pytest.mark.gocmd
def test_sbom_command_with_vulndb_lists_known_vulnerabilities(
    tmp_path: Path,
    env: dict[str, str],  # noqa: F811
    vulndb: Path,  # noqa: F811
) -> None:
    project = app(tmp_path / "app", "v1.5.0")  # gin v1.5.0, gin.Default() called
    out = tmp_path / "sbom.cdx.json"
    args = ["sbom", ".", "--reproducible", "-o", str(out)]
    proc = run_scan_cli([*args, "--vulndb", str(vulndb)], env, project)
    # The SBOM lists vulnerabilities; judging them is scan's job, so it still exits 0.
    assert proc.returncode == 0, proc.stdout + proc.stderr
    text = out.read_text()
    validator = make_schemabased_validator(CdxFormat.JSON, SchemaVersion.V1_6)
    assert validator.validate_str(text) is None
    doc = json.loads(text)
    vulns = {v["id"]: v for v in doc["vulnerabilities"]}
    assert set(vulns) == set(ENTRIES)
    assert vulns["GO-2020-0001"]["analysis"]["state"] == "exploitable"  # called
    assert vulns["GO-2020-0033"]["analysis"]["state"] == "not_affected"  # required only
    assert {r["id"] for r in vulns["GO-2020-0001"]["references"]} >= {"CVE-2020-36567"}
    refs = {c["bom-ref"] for c in doc["components"]}
    gin = next(c for c in doc["components"] if c["name"] == "github.com/gin-gonic/gin")
    assert vulns["GO-2020-0001"]["affects"][0]["ref"] == gin["bom-ref"] in refs

    # GOPROXY_SCAN_VULNDB does the same; without a database there is no such section.
    again = run_scan_cli(args, {**env, "GOPROXY_SCAN_VULNDB": str(vulndb)}, project)
    assert again.returncode == 0, again.stderr
    assert out.read_text() == text  # reproducible, vulnerabilities included
    plain = run_scan_cli(args, env, project)
    assert plain.returncode == 0, plain.stderr
    assert "vulnerabilities" not in json.loads(out.read_text())


def library_json(result: ScanResult, options: SbomOptions) -> str:
    """What cyclonedx-python-lib writes for the same SBOM (the reference for the direct writer)."""
    bom = build_bom(result, options)
    text = make_outputter(bom, CdxFormat.JSON, SchemaVersion.V1_6).output_as_string(indent=2)
    return text + "\n"


_H1_TREE = base64.b64decode("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=").hex()
_paths = st.sampled_from(
    ["example.com/a", "example.com/b/v2", "github.com/Azure/x", "gopkg.in/yaml.v3", "café.io/ü"]
)
_licenses = st.sampled_from(
    ["", "MIT", "mit", "Apache-2.0", "MIT OR GPL-2.0-only", "MIT AND BSD-3-Clause",
     "LicenseRef-unknown-0a1b", "Custom Licence", "GPL-2.0-only WITH Classpath-exception-2.0"]
)  # fmt: skip
_modules = st.builds(
    ModuleResult,
    path=_paths,
    version=st.sampled_from(["v1.0.0", "v2.0.0+incompatible", "v0.0.0-20200101000000-abcdef"]),
    decision=st.sampled_from(list(Decision)),
    expression=_licenses,
    declared=_licenses,
    h1=st.sampled_from(["", "h1:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", "h1:bad"]),
    zip_sha256=st.sampled_from(["", "5" * 64, _H1_TREE]),  # the same as h1's: one hash
    indirect=st.booleans(),
    optional=st.booleans(),
    replace=st.sampled_from(["", "../fork", "example.com/fork@v1.2.3"]),
    go_version=st.sampled_from(["", "1.21"]),
    requires=st.lists(st.sampled_from(["example.com/a@v1.0.0", "example.com/b/v2@v2.0.0"])).map(
        tuple
    ),
)


@settings(max_examples=60, deadline=None)
@given(
    modules=st.lists(_modules, max_size=5, unique_by=lambda m: m.path),
    stdlib=st.sampled_from(["", "go1.27.3"]),
    go_version=st.sampled_from(["", "1.22"]),
    digest=st.sampled_from(["", "sha256:" + "0" * 64]),
    main_requires=st.lists(st.sampled_from(["example.com/a@v1.0.0", "gopkg.in/yaml.v3@v1.0.0"])),
    stamp=st.sampled_from(
        [
            None,
            datetime(2026, 5, 4, 3, 2, 1, 7, tzinfo=UTC),
            datetime(2026, 5, 4, 3, 2, 1, tzinfo=timezone(timedelta(hours=2))),
            datetime(2026, 5, 4, 3, 2, 1),  # naive: local time, as the library writes it
        ]
    ),
)
def test_direct_json_is_byte_for_byte_what_cyclonedx_python_lib_writes(
    modules: list[ModuleResult],
    stdlib: str,
    go_version: str,
    digest: str,
    main_requires: list[str],
    stamp: datetime | None,
) -> None:
    result = replace(
        make_result(),
        modules=tuple(modules),
        stdlib_version=stdlib,
        go_version=go_version,
        policy_digest=digest,
        main_requires=tuple(main_requires),
    )
    options = SbomOptions(reproducible=stamp is None, timestamp=stamp, serial=None)
    if stamp is not None:
        options = replace(options, serial=uuid.UUID("12345678-1234-5678-1234-567812345678"))
    assert render_sbom(result, options) == library_json(result, options)


def test_a_name_clash_falls_back_to_the_library() -> None:
    # A module whose path is "stdlib" ties with the standard library by name: the library breaks
    # the tie (by version, then further fields), so it writes that document itself.
    clash = ModuleResult("stdlib", "v0.1.0", Decision.PASS, expression="MIT")
    result = replace(make_result(), modules=(*make_result().modules, clash))
    options = SbomOptions(reproducible=True)
    assert render_sbom(result, options) == library_json(result, options)
