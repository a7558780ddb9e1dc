"""`POST /-/verdicts` with a body of the wrong shape: 400 naming the field and what it must be,
never Python's words for the failure (`string indices must be integers`, `KeyError`)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from goproxytree import GoProxyTree
from serveproc import serve_process
from test_auditor import write_policy

CASES = [
    ('{"modules":"x"}', 'modules must be a list of {"module","version"}, not a string'),
    ("[]", "the body must be an object with modules"),
    ("{}", "the body must be an object with modules"),
    ('{"modules":[{"module":"example.org/a"}]}', "modules[0].version: missing"),
    (
        '{"modules":[{"module":"example.org/a","version":"v1.0.0"},{"version":"v1.0.0"}]}',
        "modules[1].module: missing",
    ),
    ('{"modules":[{"module":1,"version":2}]}', "modules[0].module: must be a string, not a number"),
    (
        '{"modules":[{"module":"example.org/a","version":null}]}',
        "modules[0].version: must be a string, not null",
    ),
    ('{"modules":[{"module":"","version":"v1.0.0"}]}', "modules[0].module: empty"),
    ('{"modules":["example.org/a@v1.0.0"]}', 'modules[0] must be {"module","version"}'),
    ('{"modules":[', "the body is not JSON: Expecting value (line 1 column 13)"),
]
PYTHON_WORDS = ("indices must be", "KeyError", "'version'", "'module'", "object is not")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("verdict-batch")
    tree = GoProxyTree(tmp / "upstream")
    policy = write_policy(tmp / "policy.yml")
    args = ("--storage", str(tmp / "vault"), "--upstream", tree.url, "--policy", str(policy))
    with serve_process(*args, "--server", "uvicorn") as (_, url):
        yield url


@pytest.mark.parametrize(("body", "says"), CASES)
def test_a_malformed_batch_is_a_400_naming_the_field(served: str, body: str, says: str) -> None:
    r = httpx.post(f"{served}/-/verdicts", content=body.encode(), timeout=60)
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert says in error, error
    assert not any(w in error for w in PYTHON_WORDS), error


def test_a_well_formed_batch_still_answers(served: str) -> None:
    body = {"modules": [{"module": "example.org/none", "version": "v1.0.0"}]}
    r = httpx.post(f"{served}/-/verdicts", content=json.dumps(body).encode(), timeout=60)
    assert r.status_code == 200, r.text
    assert r.json()["verdicts"] == []
