"""Runs action.yml's steps the way the GitHub runner does, in a synthetic job environment."""

# What the runner does is reproduced, nothing of the action is replaced: `${{ … }}` expressions are
# evaluated from inputs, steps' outputs, `github` and `runner`; each `run:` script is executed as
# `bash --noprofile --norc -eo pipefail {0}` with the step's `env:` and working directory; each
# step gets fresh GITHUB_OUTPUT and GITHUB_ENV files, read back afterwards (both `K=V` and the
# `K<<DELIM` heredoc form); a failing step stops the action. Two steps are stood in for, because
# they fetch from the internet: actions/setup-python (its `python-path` output is this Python) and
# the pip install into the action's venv (the venv is this test environment's, linked in place).

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
Lint = Callable[[Path], list[dict[str, object]]]  # the `actionlint` fixture
_EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def parse_env_file(text: str) -> dict[str, str]:
    """$GITHUB_ENV / $GITHUB_OUTPUT as the runner reads them."""
    out: dict[str, str] = {}
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line:
            continue
        eq, heredoc = line.find("="), line.find("<<")
        if heredoc != -1 and (eq == -1 or heredoc < eq):
            name, delim = line[:heredoc], line[heredoc + 2 :]
            value = []
            while lines[i] != delim:
                value.append(lines[i])
                i += 1
            i += 1
            out[name] = "\n".join(value)
        else:
            out[line[:eq]] = line[eq + 1 :]
    return out


@dataclass
class StepRun:
    id: str
    name: str
    returncode: int
    stdout: str
    stderr: str
    outputs: dict[str, str]


@dataclass
class ActionRun:
    steps: list[StepRun] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)  # what the action exported to the job

    @property
    def failed(self) -> bool:
        return any(s.returncode != 0 for s in self.steps)

    @property
    def stdout(self) -> str:
        return "".join(s.stdout for s in self.steps)

    @property
    def log(self) -> str:
        return "".join(f"--- {s.name} ({s.returncode})\n{s.stdout}{s.stderr}" for s in self.steps)

    def step(self, step_id: str) -> StepRun:
        return next(s for s in self.steps if s.id == step_id)


class ActionRunner:
    def __init__(self, action_dir: Path, workspace: Path, runner_temp: Path) -> None:
        self.action_dir = action_dir
        self.action: dict[str, Any] = yaml.safe_load((action_dir / "action.yml").read_text())
        self.workspace = workspace
        self.runner_temp = runner_temp

    def _eval(self, expr: str, ctx: dict[str, Any]) -> str:
        node: Any = ctx
        for part in expr.split("."):
            if not isinstance(node, dict) or part not in node:
                if expr.startswith("steps."):
                    return ""  # as on GitHub: an output a step did not set is empty
                raise KeyError(f"expression {expr!r}: no {part!r}")
            node = node[part]
        return "" if node is None else str(node)

    def _subst(self, text: Any, ctx: dict[str, Any]) -> str:
        return _EXPR.sub(lambda m: self._eval(m.group(1), ctx), str(text))

    def run(self, inputs: dict[str, str], job_env: dict[str, str]) -> ActionRun:
        unknown = set(inputs) - set(self.action["inputs"])
        assert not unknown, f"not inputs of action.yml: {unknown}"
        github = {
            "action_path": str(self.action_dir),
            "token": job_env.get("GITHUB_TOKEN", ""),
            "workspace": str(self.workspace),
        }
        ctx: dict[str, Any] = {
            "github": github,
            "runner": {"temp": str(self.runner_temp)},
            "steps": {},
        }
        resolved = {}
        for name, spec in self.action["inputs"].items():
            value = inputs.get(name, spec.get("default", ""))
            resolved[name] = self._subst(value, ctx)
        ctx["inputs"] = resolved
        result = ActionRun()
        env = {
            **job_env,
            "GITHUB_ACTIONS": "true",
            "GITHUB_WORKSPACE": str(self.workspace),
            "GITHUB_ACTION_PATH": str(self.action_dir),
            "RUNNER_TEMP": str(self.runner_temp),
        }
        files = self.runner_temp / "_runner_files"
        files.mkdir(parents=True, exist_ok=True)
        for n, step in enumerate(self.action["runs"]["steps"]):
            step_id = step.get("id", f"__{n}")
            if "uses" in step:
                assert step["uses"].startswith("actions/setup-python@"), step["uses"]
                outputs = {"python-path": sys.executable, "python-version": sys.version.split()[0]}
                result.steps.append(StepRun(step_id, step["name"], 0, "", "", outputs))
                ctx["steps"][step_id] = {"outputs": outputs}
                continue
            if step_id == "install":
                self._stand_in_for_install()
                result.steps.append(StepRun(step_id, step["name"], 0, "", "", {}))
                ctx["steps"][step_id] = {"outputs": {}}
                continue
            output_file = files / f"output-{n}"
            env_file = files / f"env-{n}"
            output_file.write_text("")
            env_file.write_text("")
            step_env = {
                **env,
                **{k: self._subst(v, ctx) for k, v in (step.get("env") or {}).items()},
                "GITHUB_OUTPUT": str(output_file),
                "GITHUB_ENV": str(env_file),
            }
            script = files / f"step-{n}.sh"
            script.write_text(step["run"])
            cwd = self.workspace / self._subst(step.get("working-directory", "."), ctx)
            if not cwd.is_dir():
                # The runner cannot start the shell there: the step fails, its script unrun.
                message = (
                    f"An error occurred trying to start process '/usr/bin/bash' with working"
                    f" directory '{cwd}'. No such file or directory\n"
                )
                result.steps.append(StepRun(step_id, step["name"], 1, "", message, {}))
                ctx["steps"][step_id] = {"outputs": {}}
                break
            proc = subprocess.run(
                ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
                cwd=cwd,
                env=step_env,
                capture_output=True,
                text=True,
                timeout=300,
            )
            outputs = parse_env_file(output_file.read_text())
            exported = parse_env_file(env_file.read_text())
            env.update(exported)
            result.env.update(exported)
            result.steps.append(
                StepRun(step_id, step["name"], proc.returncode, proc.stdout, proc.stderr, outputs)
            )
            ctx["steps"][step_id] = {"outputs": outputs}
            if proc.returncode != 0:
                break
        result.outputs = {
            name: self._subst(spec["value"], ctx) for name, spec in self.action["outputs"].items()
        }
        return result

    def _stand_in_for_install(self) -> None:
        venv = self.runner_temp / "goproxy-scan" / "venv"
        if not venv.exists():
            venv.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(sys.prefix, venv)
