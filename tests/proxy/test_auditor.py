"""The license auditor in the gateway: real license texts, the shared policy, stored verdicts."""

from __future__ import annotations

import functools
import importlib.util
import json
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import httpx
import pytest
from goproxytree import GoProxyTree

from proxy.auditor import DetectionCache, LicenseAuditor, PolicySource, rejection
from proxy.config import VaultConfig
from proxy.errors import MAX_BODY_BYTES, MAX_BODY_LINES
from proxy.exceptions import ApprovalStore
from proxy.storage import Kind, open_storage
from scanner.licenses import default_index
from scanner.policy import parse_policy
from scanner.verdict import Decision, Reason, Verdict

if TYPE_CHECKING:  # the bench and e2e tests import this module's helpers
    from vaultlab import GatewayFactory

REPO = Path(__file__).resolve().parents[2]
POLICY = """\
name: test policy
licenses:
  allow: [MIT, Apache-2.0, BSD-3-Clause]
  deny: [GPL-3.0-only, GPL-3.0-or-later]
  not_listed: reject
  unknown: {unknown}
"""
UNKNOWN_TEXT = (
    "The Frobnitz Community Grant\n\nYou may look at this code on Tuesdays only, and you must "
    "send a postcard to the authors each time you run it. No other rights are granted.\n"
)


def corpus() -> ModuleType:
    """tests/scanner/licenses/corpus.py: license files rendered from the SPDX XML."""
    name = "license_corpus"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(
        name, REPO / "tests" / "scanner" / "licenses" / "corpus.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@functools.cache
def license_files(kind: str) -> dict[str, str]:
    """The files of a fixture module licensed as `kind` (mit, gpl, or, and, unknown, none)."""
    render: Callable[[str], str] = corpus().render
    if kind == "mit":
        return {"LICENSE": render("MIT")}
    if kind == "gpl":
        return {"LICENSE": render("GPL-3.0-only")}
    if kind == "apache":
        return {"LICENSE": render("Apache-2.0")}
    if kind in ("or", "and"):
        return {"LICENSE-MIT": render("MIT"), "LICENSE-GPL": render("GPL-3.0-only")}
    if kind == "choice":  # the file states the OR (spdx/tools-golang's way), no go.mod line
        stated = "The code may be used, at your option, under either MIT or GPL-3.0-only.\n\n"
        return {"LICENSE": stated + render("MIT") + "\n\n" + render("GPL-3.0-only")}
    if kind == "unknown":
        return {"LICENSE": UNKNOWN_TEXT}
    return {}


def publish(tree: GoProxyTree, path: str, kind: str, version: str = "v1.0.0") -> Path:
    """Publish a module licensed as `kind`; returns its zip."""
    declared = "\n//go:license MIT OR GPL-3.0-only\n" if kind == "or" else ""
    pkg = path.rsplit("/", 1)[-1].replace("-", "")
    return tree.add_module(
        path,
        version,
        {
            "go.mod": f"module {path}\n\ngo 1.21\n{declared}",
            f"{pkg}.go": f'package {pkg}\n\nfunc Name() string {{ return "{path}" }}\n',
            **license_files(kind),
        },
    ).zip


def write_policy(path: Path, unknown: str = "review", extra: str = "") -> Path:
    path.write_text(POLICY.format(unknown=unknown) + extra)
    return path


class Clock:
    """An injectable clock the test moves forward."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def license_auditor(
    config: VaultConfig, policy: Path, clock: Clock | None = None
) -> LicenseAuditor:
    state = Path(config.storage) / ".auditor"
    return LicenseAuditor(
        PolicySource(lambda: parse_policy(policy.read_text(), str(policy)), ApprovalStore(state)),
        detections=DetectionCache(state / "detections"),
        index=default_index(),
        clock=clock or Clock(datetime(2026, 11, 26, 12, 0, tzinfo=UTC)),
    )


def audit_events(tmp_path: Path) -> list[dict[str, object]]:
    path = tmp_path / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def get(url: str, **kw: object) -> httpx.Response:
    return httpx.get(url, timeout=30, **kw)  # type: ignore[arg-type]


@pytest.fixture
def modules(goproxy_tree: GoProxyTree) -> GoProxyTree:
    for name in ("mit", "gpl", "or", "and", "unknown", "none", "apache", "choice"):
        publish(goproxy_tree, f"example.com/{name}", name)
    return goproxy_tree


def test_decisions_follow_the_shared_policy(
    modules: GoProxyTree, gateway: GatewayFactory, tmp_path: Path
) -> None:
    policy = write_policy(tmp_path / "policy.yml")
    config = VaultConfig(storage=str(tmp_path / "vault"))
    with gateway(auditor=license_auditor(config, policy)) as gw:
        answers = {
            name: get(f"{gw.url}/example.com/{name}/@v/v1.0.0.zip")
            for name in ("mit", "gpl", "or", "and", "unknown", "none", "apache", "choice")
        }
    status = {name: r.status_code for name, r in answers.items()}
    assert status == {
        "mit": 200,
        "apache": 200,
        "or": 200,  # MIT OR GPL-3.0-only: the allowed alternative is enough
        "choice": 200,  # the same OR, stated in the LICENSE above both texts
        "gpl": 403,
        "and": 403,  # MIT AND GPL-3.0-only: both apply, GPL is denied
        "unknown": 403,  # unknown -> review -> refused until approved (the default)
        "none": 403,
    }
    assert answers["mit"].headers["x-go-module-verdict"] == "PASS; rule=license.allowed"
    gpl = answers["gpl"].text
    assert gpl.startswith(
        "example.com/gpl@v1.0.0: REJECT by policy: license GPL-3.0-only; license.denied\n"
    )
    assert "request a policy exception: go-vault approve example.com/gpl@v1.0.0" in gpl
    assert "REVIEW_REQUIRED by policy: license LicenseRef-unknown-" in answers["unknown"].text
    assert "license.unknown" in answers["unknown"].text
    assert "license none found; license.none" in answers["none"].text
    for r in answers.values():
        if r.status_code == 403:
            assert r.headers["content-type"] == "text/plain; charset=utf-8"
            body = r.content
            assert len(body) <= MAX_BODY_BYTES and body.count(b"\n") <= MAX_BODY_LINES
            assert b"\n\n" not in body
            assert all(line.isprintable() for line in body.decode().splitlines())
    storage = open_storage(str(tmp_path / "vault"))
    assert storage.exists("example.com/or", "v1.0.0", Kind.ZIP)
    # a refused version's judged bytes are kept (its verdict names their h1); the gate
    # refuses its .zip, as answers["and"] shows
    assert storage.exists("example.com/and", "v1.0.0", Kind.ZIP)
    # one audit event per decision, with the rule, the license and the requester
    audits = {e["module"]: e for e in audit_events(tmp_path) if e["event"] == "audit"}
    assert audits["example.com/gpl"]["decision"] == "REJECT"
    assert audits["example.com/gpl"]["rule_id"] == "license.denied"
    assert audits["example.com/gpl"]["license"] == "GPL-3.0-only"
    assert audits["example.com/gpl"]["client"] == "127.0.0.1"
    assert audits["example.com/and"]["license"] == "GPL-3.0-only AND MIT"
    assert audits["example.com/or"]["decision"] == "PASS"
    assert audits["example.com/choice"]["license"] == "MIT OR GPL-3.0-only"
    assert all(e.get("trace_id") for e in audits.values())


def test_review_required_can_be_served_with_a_header(
    modules: GoProxyTree, gateway: GatewayFactory, tmp_path: Path
) -> None:
    policy = write_policy(tmp_path / "policy.yml")
    config = VaultConfig(storage=str(tmp_path / "vault"))
    auditor = license_auditor(config, policy)
    with gateway(auditor=auditor, review_required="serve") as gw:
        r = get(f"{gw.url}/example.com/unknown/@v/v1.0.0.zip")
        assert r.status_code == 200
        assert r.headers["x-go-module-verdict"] == "REVIEW_REQUIRED; rule=license.unknown"
        again = get(f"{gw.url}/example.com/unknown/@v/v1.0.0.mod")
        assert again.headers["x-go-module-verdict"].startswith("REVIEW_REQUIRED")
        assert get(f"{gw.url}/example.com/gpl/@v/v1.0.0.zip").status_code == 403
    warnings = [
        e for e in audit_events(tmp_path) if e["event"] == "audit" and e["level"] == "warning"
    ]
    assert {e["module"] for e in warnings} == {"example.com/unknown", "example.com/gpl"}
    assert any(e["trigger"] == "served-under-review" for e in warnings)


def test_reload_flips_stored_verdicts_without_a_rescan(
    modules: GoProxyTree, gateway: GatewayFactory, tmp_path: Path
) -> None:
    policy = write_policy(tmp_path / "policy.yml")
    config = VaultConfig(storage=str(tmp_path / "vault"))
    auditor = license_auditor(config, policy)
    token = "s3cret-admin"
    with gateway(auditor=auditor, admin_token=token) as gw:
        assert get(f"{gw.url}/example.com/mit/@v/v1.0.0.zip").status_code == 200
        assert get(f"{gw.url}/example.com/gpl/@v/v1.0.0.zip").status_code == 403
        before = get(f"{gw.url}/-/verdicts/example.com/mit/@v/v1.0.0").json()
        # MIT moves to the deny list, GPL to the allow list; the server keeps running
        policy.write_text(
            policy.read_text()
            .replace("MIT, ", "")
            .replace("deny: [", "deny: [MIT, ")
            .replace("GPL-3.0-only, GPL-3.0-or-later", "GPL-3.0-or-later")
            .replace("allow: [", "allow: [GPL-3.0-only, ")
        )
        assert get(f"{gw.url}/example.com/mit/@v/v1.0.0.zip").status_code == 200  # not yet
        denied = httpx.post(f"{gw.url}/-/admin/policy/reload", timeout=30)
        assert denied.status_code == 401
        reloaded = httpx.post(
            f"{gw.url}/-/admin/policy/reload",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert reloaded.status_code == 200
        assert reloaded.json()["policy_digest"] != before["policy_digest"]
        # the stored MIT module's code is refused now, judged from the memory cache
        r = get(f"{gw.url}/example.com/mit/@v/v1.0.0.zip")
        assert r.status_code == 403 and "license MIT; license.denied" in r.text
        assert get(f"{gw.url}/example.com/gpl/@v/v1.0.0.zip").status_code == 200
        after = get(f"{gw.url}/-/verdicts/example.com/mit/@v/v1.0.0").json()
        assert after["decision"] == "REJECT" and after["h1"] == before["h1"]
        assert after["policy_digest"] == reloaded.json()["policy_digest"]
        metrics = get(f"{gw.url}/-/metrics").text
    assert 'go_vault_policy_refusals_total{decision="REJECT"}' in metrics
    assert 'go_vault_audit_decisions_total{decision="REJECT",rule="license.denied"}' in metrics
    # detection ran once per module: the re-evaluation used the detections cached by h1
    cached = list((tmp_path / "vault" / ".auditor" / "detections").rglob("*.json"))
    assert len(cached) == 2
    stored = json.loads(
        (
            tmp_path
            / "vault"
            / ".auditor"
            / "verdicts"
            / "example.com"
            / "mit"
            / "@v"
            / "v1.0.0.json"
        ).read_text()
    )
    assert stored["decision"] == "REJECT" and stored["h1"] == before["h1"]


def test_approved_exception_applies_until_it_expires(
    modules: GoProxyTree, gateway: GatewayFactory, tmp_path: Path
) -> None:
    policy = write_policy(tmp_path / "policy.yml")
    config = VaultConfig(storage=str(tmp_path / "vault"))
    clock = Clock(datetime(2026, 11, 26, 12, 0, tzinfo=UTC))
    auditor = license_auditor(config, policy, clock)
    admin = {"Authorization": "Bearer t0ken"}
    with gateway(auditor=auditor, admin_token="t0ken") as gw:
        assert get(f"{gw.url}/example.com/gpl/@v/v1.0.0.zip").status_code == 403
        bad = httpx.post(
            f"{gw.url}/-/admin/exceptions", json={"module": "example.com/gpl"}, headers=admin
        )
        assert bad.status_code == 400 and "reason" in bad.json()["error"]
        added = httpx.post(
            f"{gw.url}/-/admin/exceptions",
            json={
                "module": "example.com/g*",
                "versions": ">=v1.0.0, <v2.0.0",
                "reason": "internal build tool only",
                "approver": "legal@example.com",
                "expires": "2026-12-31",
            },
            headers=admin,
        )
        assert added.status_code == 201
        r = get(f"{gw.url}/example.com/gpl/@v/v1.0.0.zip")
        assert r.status_code == 200
        assert r.headers["x-go-module-verdict"] == "PASS; rule=exception.applied"
        verdict = get(f"{gw.url}/-/verdicts/example.com/gpl/@v/v1.0.0").json()
        assert [x["rule_id"] for x in verdict["reasons"]] == ["exception.applied"]
        listed = get(f"{gw.url}/-/admin/exceptions", headers=admin).json()["exceptions"]
        assert [e["approver"] for e in listed] == ["legal@example.com"]
        clock.now = datetime(2027, 1, 1, 9, 0, tzinfo=UTC)  # the exception has expired
        expired = get(f"{gw.url}/example.com/gpl/@v/v1.0.0.zip")
        assert expired.status_code == 403
        assert "exception.expired" in expired.text and "2026-12-31" in expired.text
    approvals = [e for e in audit_events(tmp_path) if e["event"] == "approval"]
    assert approvals and approvals[0]["approver"] == "legal@example.com"


def test_rejection_body_is_worded_by_rule() -> None:
    def verdict(*reasons: Reason, expression: str = "MIT") -> Verdict:
        return Verdict(
            module="example.com/x",
            version="v1.2.3",
            decision=Decision.REJECT,
            licenses=(),
            expression=expression,
            reasons=reasons,
            policy_digest="sha256:0",
            h1="h1:x",
            detector_version="d",
            evaluated_at="2026-11-26T00:00:00Z",
        )

    vuln = rejection(
        verdict(
            Reason(
                "vuln-required",
                "example.com/x@v1.2.3 has GO-2099-0001 (CVE-2099-1): "
                + "a very long summary " * 40
                + "; fix: go get example.com/x@v1.2.4",
            ),
            Reason("license.allowed", "example.com/x@v1.2.3: MIT is allowed"),
        )
    )
    body = vuln.body().decode()
    first, *rest = body.splitlines()
    assert first == "example.com/x@v1.2.3: REJECT by policy: known vulnerability; vuln-required"
    assert "fix: go get example.com/x@v1.2.4" in rest[0]  # the fix survives a long summary
    assert "license found: MIT" in body and vuln.status == 403
    denied = rejection(
        verdict(Reason("module.denied", "example.com/x@v1.2.3 is denied: abandoned"), expression="")
    ).body()
    assert denied.startswith(
        b"example.com/x@v1.2.3: REJECT by policy: module denied; module.denied"
    )
    for b in (vuln.body(), denied):
        assert len(b) <= MAX_BODY_BYTES and len(b.splitlines()) <= MAX_BODY_LINES


def vulndb(tmp_path: Path, ids: list[str]) -> Path:
    """A Go vulnerability database of `ids` from the shared OSV copy (built from tmp/osv)."""
    from test_vulndb import OSV_DIR

    from scanner.vulndb.layout import build_layout

    if not OSV_DIR.is_dir():
        pytest.skip(f"the shared Go vulnerability database is not at {OSV_DIR.resolve()}")
    osv = tmp_path / "osv"
    osv.mkdir()
    for ident in ids:
        (osv / f"{ident}.json").write_bytes((OSV_DIR / f"{ident}.json").read_bytes())
    return build_layout(osv, tmp_path / "vulndb", modified="2026-11-01T00:00:00Z").out_dir


def test_one_verdict_carries_license_and_vulnerability_findings(
    goproxy_tree: GoProxyTree, gateway: GatewayFactory, tmp_path: Path
) -> None:
    from test_vulndb import IDS

    from proxy.vulndb import VulnAuditor
    from scanner.vulndb.database import load_index
    from scanner.vulndb.policy import VulnPolicy

    db = vulndb(tmp_path, IDS)
    publish(goproxy_tree, "aahframe.work", "mit", "v0.12.3")  # GO-2020-0033, fixed in 0.12.4
    publish(goproxy_tree, "aahframe.work", "gpl", "v0.12.4")
    policy = write_policy(tmp_path / "policy.yml")
    config = VaultConfig(storage=str(tmp_path / "vault"))
    chain = VulnAuditor(
        load_index(db.as_uri()),
        VulnPolicy.from_mapping({"fail_on": "required"}),
        inner=license_auditor(config, policy),
    )
    with gateway(auditor=chain) as gw:
        vulnerable = get(f"{gw.url}/aahframe.work/@v/v0.12.3.zip")
        assert vulnerable.status_code == 403
        first, second = vulnerable.text.splitlines()[:2]
        assert (
            first == "aahframe.work@v0.12.3: REJECT by policy: known vulnerability; vuln-required"
        )
        assert "GO-2020-0033" in second and "fix: go get aahframe.work@v0.12.4" in second
        assert "license found: MIT" in vulnerable.text
        verdict = get(f"{gw.url}/-/verdicts/aahframe.work/@v/v0.12.3").json()
        assert [r["rule_id"] for r in verdict["reasons"]] == ["vuln-required", "license.allowed"]
        fixed = get(f"{gw.url}/aahframe.work/@v/v0.12.4.zip")
        assert fixed.status_code == 403
        assert "license GPL-3.0-only; license.denied" in fixed.text.splitlines()[0]


def test_rejection_body_keeps_the_way_out_within_648_bytes() -> None:
    long = "x" * 120
    verdict = Verdict(
        module="example.com/deep/module",
        version="v1.2.3-rc.1",
        decision=Decision.REJECT,
        licenses=(),
        expression="GPL-3.0-only AND AGPL-3.0-only AND SSPL-1.0",
        reasons=(
            Reason("exception.expired", f"the exception expired on 2026-01-01: {long}"),
            Reason("license.denied", f"GPL-3.0-only is denied {long}"),
            Reason("license.denied", f"AGPL-3.0-only is denied {long}"),
            Reason("license.category-denied", f"SSPL-1.0 is proprietary {long}"),
        ),
        policy_digest="sha256:0",
        h1="h1:x",
        detector_version="d",
        evaluated_at="2026-11-26T00:00:00Z",
    )
    body = rejection(verdict).body()
    lines = body.decode().splitlines()
    assert len(body) <= MAX_BODY_BYTES and len(lines) <= MAX_BODY_LINES
    assert lines[0].endswith(
        "REJECT by policy: license GPL-3.0-only AND AGPL-3.0-only AND SSPL-1.0; license.denied"
    )
    assert lines[1].startswith("license.denied: GPL-3.0-only is denied")
    assert any(line.startswith("exception.expired:") for line in lines)
    assert lines[-1].startswith("to request a policy exception: go-vault approve example.com/")
    assert not body.endswith(b"...\n")
    deep = replace(verdict, module="example.com/" + "deep/" * 20 + "module")
    body = rejection(deep).body()
    lines = body.decode().splitlines()
    assert len(body) <= MAX_BODY_BYTES and lines[1].startswith("license.denied: GPL-3.0-only")
    assert lines[-1].startswith("to request a policy exception: go-vault approve example.com/")


def test_a_new_advisory_refuses_a_version_judged_before_it(
    goproxy_tree: GoProxyTree, gateway: GatewayFactory, tmp_path: Path
) -> None:
    from test_vulndb import OSV_DIR

    from proxy.vulndb import LiveIndex, VulnAuditor
    from scanner.vulndb.layout import build_layout
    from scanner.vulndb.policy import VulnPolicy

    db = vulndb(tmp_path, ["GO-2020-0001"])
    osv = tmp_path / "osv"
    publish(goproxy_tree, "aahframe.work", "mit", "v0.12.3")
    config = VaultConfig(storage=str(tmp_path / "vault"))
    chain = VulnAuditor(
        LiveIndex(db),
        VulnPolicy.from_mapping({"fail_on": "required"}),
        inner=license_auditor(config, write_policy(tmp_path / "policy.yml")),
    )
    with gateway(auditor=chain) as gw:
        assert get(f"{gw.url}/aahframe.work/@v/v0.12.3.zip").status_code == 200
        (osv / "GO-2020-0033.json").write_bytes((OSV_DIR / "GO-2020-0033.json").read_bytes())
        build_layout(osv, db, modified="2026-11-02T00:00:00Z")  # the operator's nightly rebuild
        time.sleep(1.1)  # the gate looks at the database once a second
        r = get(f"{gw.url}/aahframe.work/@v/v0.12.3.zip")
        assert r.status_code == 403 and "GO-2020-0033" in r.text


def test_a_broken_policy_reload_keeps_the_old_policy(
    modules: GoProxyTree, gateway: GatewayFactory, tmp_path: Path
) -> None:
    policy = write_policy(tmp_path / "policy.yml")
    config = VaultConfig(storage=str(tmp_path / "vault"))
    admin = {"Authorization": "Bearer k"}
    with gateway(auditor=license_auditor(config, policy), admin_token="k") as gw:
        assert get(f"{gw.url}/example.com/gpl/@v/v1.0.0.zip").status_code == 403
        policy.write_text("licenses:\n  allow: [MIT\n  deny: oops\n")
        r = httpx.post(f"{gw.url}/-/admin/policy/reload", headers=admin, timeout=30)
        assert r.status_code == 400 and "policy.yml" in r.json()["error"]
        assert get(f"{gw.url}/example.com/gpl/@v/v1.0.0.zip").status_code == 403
        assert get(f"{gw.url}/example.com/mit/@v/v1.0.0.zip").status_code == 200
        metrics = get(f"{gw.url}/-/metrics").text
    assert 'go_vault_policy_reloads_total{outcome="failed"} 1.0' in metrics


def test_the_proxy_verdict_is_the_scanners_verdict(
    goproxy_tree: GoProxyTree, gateway: GatewayFactory, tmp_path: Path
) -> None:
    """Same bytes, same policy, same clock: the verdict API answers what judge_zip (the
    goproxy-scan code path) says, field for field."""
    from scanner.policy import judge_zip

    policy = write_policy(tmp_path / "policy.yml")
    kinds = ("mit", "gpl", "or", "and", "choice")
    zips = {k: publish(goproxy_tree, f"example.com/{k}", k) for k in kinds}
    clock = Clock(datetime(2026, 11, 26, 12, 0, tzinfo=UTC))
    config = VaultConfig(storage=str(tmp_path / "vault"))
    with gateway(auditor=license_auditor(config, policy, clock)) as gw:
        for kind, zip_path in zips.items():
            answer = get(f"{gw.url}/-/verdicts/example.com/{kind}/@v/v1.0.0").json()
            local = judge_zip(
                parse_policy(policy.read_text(), str(policy)),
                zip_path,
                f"example.com/{kind}",
                "v1.0.0",
                clock(),
            )
            assert answer == local.to_json(), kind


@pytest.mark.parametrize(
    ("setting", "decision"),
    [("review", "REVIEW_REQUIRED"), ("reject", "REJECT")],
)
def test_an_unknown_license_follows_the_policys_setting(
    goproxy_tree: GoProxyTree, tmp_path: Path, setting: str, decision: str
) -> None:
    zip_path = publish(goproxy_tree, "example.com/unknown", "unknown")
    policy = write_policy(tmp_path / "policy.yml", unknown=setting)
    auditor = license_auditor(VaultConfig(storage=str(tmp_path / "vault")), policy)
    verdict = auditor.audit("example.com/unknown", "v1.0.0", zip_path, "h1:fixture")
    assert verdict.decision.value == decision
    assert verdict.expression.startswith("LicenseRef-unknown-")
    assert verdict.rule_ids() == ("license.unknown",)


def test_auditor_from_config_policy_file_and_seed_allow_list(
    goproxy_tree: GoProxyTree, tmp_path: Path
) -> None:
    from proxy.auditor import auditor_from_config
    from scanner.errors import InputError

    gpl = publish(goproxy_tree, "example.com/gpl", "gpl")
    mit = publish(goproxy_tree, "example.com/mit", "mit")
    vault = str(tmp_path / "vault")
    assert auditor_from_config(VaultConfig(storage=vault)) is None  # no policy: no auditor
    seed = auditor_from_config(VaultConfig(storage=vault, license_whitelist="MIT,Apache-2.0"))
    assert seed is not None
    assert seed.audit("example.com/mit", "v1.0.0", mit, "h1:m").passed
    refused = seed.audit("example.com/gpl", "v1.0.0", gpl, "h1:g")
    assert refused.decision is Decision.REJECT and refused.rule_ids() == ("license.not-listed",)
    policy = write_policy(tmp_path / "policy.yml")
    by_file = auditor_from_config(VaultConfig(storage=vault, policy=str(policy)))
    assert by_file is not None
    assert by_file.audit("example.com/gpl", "v1.0.0", gpl, "h1:g").rule_ids() == ("license.denied",)
    # detections are cached by h1 under the vault, for the next start
    assert (tmp_path / "vault" / ".auditor" / "detections").is_dir()
    with pytest.raises(InputError, match="review_required"):
        auditor_from_config(VaultConfig(storage=vault, policy=str(policy), review_required="x"))
