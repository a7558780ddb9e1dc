"""OpenVEX and the SBOM's CycloneDX vulnerabilities, each validated against its schema."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest
from cyclonedx.output import make_outputter
from cyclonedx.schema import OutputFormat, SchemaVersion
from cyclonedx.validation import make_schemabased_validator

from scanner.result import ScanResult
from scanner.sbom import SbomOptions, build_bom
from scanner.vulndb.cyclonedx_vulns import cyclonedx_vulnerabilities
from scanner.vulndb.index import VulnIndex
from scanner.vulndb.match import match_modules
from scanner.vulndb.openvex import openvex_document
from scanner.vulndb.policy import VulnFinding, VulnPolicy, evaluate_vulns
from scanner.vulndb.reach import BuildReach, MainUses, Site, reach_all

from .conftest import Project

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
SCHEMA = json.loads((Path(__file__).parent / "schemas" / "openvex-0.2.0.schema.json").read_text())


def _findings(index: VulnIndex, project: Project) -> list[VulnFinding]:
    # gin's vulnerable Default is called, net/http is imported only, the rest only required.
    uses = MainUses.from_facts(
        imports=[
            ("github.com/gin-gonic/gin", Site("main.go", 4, 2)),
            ("net/http", Site("main.go", 5, 2)),
        ],
        calls=[("github.com/gin-gonic/gin", "Default", Site("main.go", 9, 7))],
    )
    matches = match_modules(index, project.modules, go_version=project.go)
    return evaluate_vulns(VulnPolicy(), reach_all(matches, uses), NOW)


def _proved(findings: list[VulnFinding], vid: str, build: BuildReach, note: str) -> None:
    """Give one finding what an analysis of the build's code would prove."""
    for i, f in enumerate(findings):
        if f.match.id == vid:
            findings[i] = replace(f, reach=replace(f.reach, build=build, build_note=note))


def test_openvex_document_passes_its_schema(
    full_index: VulnIndex, read_project: Callable[[str], Project]
) -> None:
    findings = _findings(full_index, read_project("inside"))
    _proved(findings, "GO-2021-0072", BuildReach.NOT_BUILT, "no package imports it")
    _proved(findings, "GO-2022-0969", BuildReach.NOT_CALLED, "net/http compiled, not called")
    doc = openvex_document(findings, main_module="example.com/inside", now=NOW)
    jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker()).validate(doc)
    by_key = {
        (s["vulnerability"]["name"], s["products"][0]["subcomponents"][0]["@id"]): s
        for s in doc["statements"]
    }
    called = by_key[("GO-2020-0001", "pkg:golang/github.com/gin-gonic/gin@v1.5.0")]
    assert called["status"] == "affected"
    assert called["action_statement"] == "go get github.com/gin-gonic/gin@v1.6.0"
    assert called["vulnerability"]["aliases"] == ["CVE-2020-36567", "GHSA-6vm3-jj99-7229"]
    assert called["products"][0]["@id"] == "pkg:golang/example.com/inside"
    required = by_key[
        ("GO-2021-0072", "pkg:golang/github.com/docker/distribution@v2.6.2%2Bincompatible")
    ]
    assert required["status"] == "not_affected"
    assert required["justification"] == "vulnerable_code_not_present"
    assert required["status_notes"] == "no package imports it"
    http2 = by_key[("GO-2022-0969", "pkg:golang/stdlib@v1.19.0")]
    assert (http2["status"], http2["justification"]) == (
        "not_affected",
        "vulnerable_code_not_in_execute_path",
    )
    assert http2["status_notes"] == "net/http compiled, not called"
    # what the build's code did not prove is claimed neither way
    unproved = [s for s in doc["statements"] if s["status"] == "under_investigation"]
    assert unproved and all("justification" not in s for s in unproved)
    assert all("not analysed" in s["status_notes"] for s in unproved)
    # deterministic: the same findings give the same document, id included
    assert openvex_document(findings, main_module="example.com/inside", now=NOW) == doc


def test_a_broken_statement_fails_the_schema(
    full_index: VulnIndex, read_project: Callable[[str], Project]
) -> None:
    # The schema is a real check: drop the action of an affected statement and it says so.
    doc = openvex_document(
        _findings(full_index, read_project("inside")), main_module="example.com/inside", now=NOW
    )
    affected = next(s for s in doc["statements"] if s["status"] == "affected")
    del affected["action_statement"]
    assert list(jsonschema.Draft202012Validator(SCHEMA).iter_errors(doc))


@pytest.mark.parametrize("spec", [SchemaVersion.V1_6, SchemaVersion.V1_5, SchemaVersion.V1_4])
def test_sbom_vulnerabilities_pass_the_cyclonedx_schema(
    full_index: VulnIndex, read_project: Callable[[str], Project], spec: SchemaVersion
) -> None:
    findings = _findings(full_index, read_project("inside"))
    _proved(findings, "GO-2022-0969", BuildReach.NOT_CALLED, "net/http compiled, not called")
    result = ScanResult(
        main_module="example.com/inside",
        tool_version="0.1.0",
        generated_at="2026-11-26T12:00:00+00:00",
        go_version="1.19",
    )
    bom = build_bom(result, SbomOptions(reproducible=True))
    vulns = cyclonedx_vulnerabilities(findings)
    bom.vulnerabilities.update(vulns)
    text = make_outputter(bom, OutputFormat.JSON, spec).output_as_string(indent=2)
    assert make_schemabased_validator(OutputFormat.JSON, spec).validate_str(text) is None
    data = json.loads(text)
    gin = next(v for v in data["vulnerabilities"] if v["id"] == "GO-2020-0001")
    assert gin["analysis"]["state"] == "exploitable"
    assert gin["affects"] == [
        {
            "ref": "pkg:golang/github.com/gin-gonic/gin@v1.5.0",
            "versions": [{"version": "v1.5.0", "status": "affected"}],
        }
    ]
    assert {r["id"] for r in gin["references"]} == {"CVE-2020-36567", "GHSA-6vm3-jj99-7229"}
    assert gin["recommendation"] == "go get github.com/gin-gonic/gin@v1.6.0"
    http2 = next(v for v in data["vulnerabilities"] if v["id"] == "GO-2022-0969")
    assert http2["analysis"]["state"] == "not_affected"
    assert http2["analysis"]["justification"] == "code_not_reachable"
    assert http2["affects"][0]["ref"] == "pkg:golang/stdlib@v1.19.0"
    docker = next(v for v in data["vulnerabilities"] if v["id"] == "GO-2021-0072")
    assert docker["analysis"]["state"] == "in_triage"  # nothing proved: no claim
    assert "justification" not in docker["analysis"]
