"""deploy/: the Kubernetes manifests validate offline against the Kubernetes schemas, and the
configuration they carry is one go-vault and the policy loader accept."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import kubernetes_validate
import pytest
import yaml
from s3server import MotoServer  # tests/proxy, put on the path by this directory's conftest
from serveproc import serve_process

from proxy.config import load_config
from scanner.policy import parse_policy

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
K8S_VERSION = "1.30.0"
POLICY_MOUNT = "/etc/go-vault/policy/policy.yml"


def documents() -> list[dict[str, Any]]:
    docs = []
    for path in sorted((DEPLOY / "kubernetes").glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def by_kind(kind: str, name: str = "go-vault") -> dict[str, Any]:
    return next(d for d in documents() if d["kind"] == kind and d["metadata"]["name"] == name)


@pytest.mark.parametrize("doc", documents(), ids=lambda d: f"{d['kind']}/{d['metadata']['name']}")
def test_manifest_validates_against_the_kubernetes_schema(doc: dict[str, Any]) -> None:
    kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_a_broken_manifest_is_caught() -> None:
    """The validation above can fail: a misspelt field is an error."""
    doc = by_kind("Deployment")
    broken = {**doc, "spec": {**doc["spec"], "replica": 3}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


def test_deployment_runs_several_replicas_on_s3_with_probes() -> None:
    dep = by_kind("Deployment")
    assert dep["spec"]["replicas"] >= 2
    (container,) = dep["spec"]["template"]["spec"]["containers"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/-/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/-/readyz"
    assert {"secretRef": {"name": "go-vault"}} in container["envFrom"]
    service = by_kind("Service")
    assert service["spec"]["selector"] == dep["spec"]["selector"]["matchLabels"]
    assert service["spec"]["ports"][0]["targetPort"] == container["ports"][0]["name"]


def test_configmap_holds_a_config_and_policy_go_vault_accepts(tmp_path: Path) -> None:
    data = by_kind("ConfigMap")["data"]
    config_file = tmp_path / "go-vault.yaml"
    config_file.write_text(data["go-vault.yaml"])
    config = load_config(config_file, env={})
    assert config.storage.startswith("s3://")
    assert config.listen == "0.0.0.0:3000"
    assert config.policy == POLICY_MOUNT  # the auditor runs on S3 too
    mounts = by_kind("Deployment")["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
    assert {"name": "config", "mountPath": POLICY_MOUNT, "subPath": "policy.yml"}.items() <= {
        k: v for m in mounts if m["mountPath"] == POLICY_MOUNT for k, v in m.items()
    }.items()
    policy = parse_policy(data["policy.yml"], "configmap:policy.yml")
    assert policy.digest.startswith("sha256:")


def configmap_files(tmp_path: Path, bucket: str) -> Path:
    """The ConfigMap's two files as the pod sees them; only the bucket and the policy's mount
    path are changed (moto stands in for the bucket)."""
    data = by_kind("ConfigMap")["data"]
    policy = tmp_path / "policy.yml"
    policy.write_text(data["policy.yml"])
    config_file = tmp_path / "go-vault.yaml"
    text = data["go-vault.yaml"].replace("s3://go-vault/", f"s3://{bucket}/")
    config_file.write_text(text.replace(POLICY_MOUNT, str(policy)))
    return config_file


def test_the_configured_gateway_starts_on_s3_with_the_policy(
    tmp_path: Path, moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ConfigMap's go-vault.yaml builds a gateway whose S3 vault is ready and whose auditor
    enforces the ConfigMap's policy, keeping verdicts in the bucket (shared by the replicas)."""
    from proxy.commands.serve import gateway_for
    from proxy.verdicts import S3VerdictStore

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    config = load_config(configmap_files(tmp_path, moto_server.new_bucket()), env={})
    gateway = gateway_for(config)
    gateway.storage.check()  # what /-/readyz asks
    assert gateway.auditor is not None and gateway.auditor.policies is not None
    policy = parse_policy(by_kind("ConfigMap")["data"]["policy.yml"], "configmap:policy.yml")
    assert gateway.auditor.policies.effective().digest == policy.digest
    assert isinstance(gateway.auditor.store, S3VerdictStore)


def test_go_vault_serve_runs_the_configmap_on_s3(tmp_path: Path, moto_server: MotoServer) -> None:
    """`go-vault serve --config` with the ConfigMap (granian, 2 workers, the policy) becomes
    ready on the bucket and answers the admin routes of its auditor with the Secret's token."""
    config_file = configmap_files(tmp_path, moto_server.new_bucket())
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache"), "GO_VAULT_ADMIN_TOKEN": "t0ken"}
    with serve_process("--config", str(config_file), env=env, ready=True) as (_proc, url):
        r = httpx.get(f"{url}/-/admin/exceptions", headers={"Authorization": "Bearer t0ken"})
        assert r.status_code == 200 and r.json() == {"exceptions": []}


def test_dockerfile_installs_the_project_and_runs_go_vault_serve() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    root = DEPLOY.parent
    for src in re.findall(r"^COPY (?!--from)(.+) \S+$", text, re.M):
        for name in src.split():
            assert (root / name).exists(), f"Dockerfile copies {name}, which is not in the repo"
    assert 'ENTRYPOINT ["go-vault"]' in text and 'CMD ["serve"]' in text
    assert "/-/healthz" in text
    assert re.search(r"^USER \d+$", text, re.M)  # not root
