"""parse_gomod reads go.mod files as the go command does (checked against `go mod edit -json`)."""

from __future__ import annotations

import json
import random
import re
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from goproxytree import GoProxyTree, json_stream

from scanner.errors import ParseError
from scanner.gomod import GoMod, Require, parse_gomod

RunGo = Callable[..., subprocess.CompletedProcess[str]]

# ---------------------------------------------------------------------------------------------
# A generator of go.mod files: every directive, in single-line and block form, with the comment,
# quoting, spacing and line-ending variations real files have.

_PATHS = [
    "example.com/a",
    "example.com/b/v2",
    "golang.org/x/text",
    "github.com/Azure/go-autorest",
    "gopkg.in/yaml.v3",
    "gopkg.in/check.v1",
    "gopkg.in/src-d/go-git.v4",
    "example.com/c/v10",
    "k8s.io/client-go",
    "example.org/tilde~name",
    "example.net/under_score.dot",
]
_VERSIONS: dict[str, list[str]] = {
    "": [
        "v1.2.3",
        "v0.0.1",
        "v1",
        "v1.4",
        "v1.0.0-rc.1",
        "v1.0.0-RC1",
        "v1.2.3+meta",
        "v2.0.0+incompatible",
        "v3.1.0+incompatible",
        "v0.0.0-20191109021931-daa7c04131f5",
        "v1.2.4-0.20191109021931-daa7c04131f5",
        "v1.2.3-pre.0.20191109021931-daa7c04131f5",
        "v1.0.0-00010101000000-000000000000",
    ],
    "/v2": ["v2.0.0", "v2.3.4-beta.2", "v2.0.0-20200101000000-abcdefabcdef", "v2.1"],
    "/v10": ["v10.1.0", "v10.0.0-20200101000000-abcdefabcdef"],
    ".v3": ["v3.0.1", "v3"],
    ".v1": ["v1.0.0-20201130134442-10cb98267c6c", "v0.0.0-20161208181325-20d25e280405"],
    ".v4": ["v4.13.1"],
}
_LOCAL_DIRS = ["./local", "../sibling", "/abs/path/mod", "C:/work/mod", ".", "..", "./with space"]
_RATIONALES = [
    "Published by mistake.",
    "Contains a data race; see issue 42.",
    "Deprecated: not a deprecation, a rationale",
    "indirect",
]


def _major(path: str) -> str:
    if path.startswith("gopkg.in/"):
        return path[path.rindex(".") :]
    tail = path.rsplit("/", 1)[-1]
    return "/" + tail if re.fullmatch(r"v[0-9]+", tail) else ""


def _version_for(rng: random.Random, path: str) -> str:
    return rng.choice(_VERSIONS[_major(path)])


def _q(rng: random.Random, token: str) -> str:
    # Quoting a token that needs no quotes is legal; the parser must unquote it.
    return f'"{token}"' if rng.random() < 0.15 else token


def _suffix(rng: random.Random, kind: str) -> str:
    if kind == "require":
        return rng.choice(
            [
                "",
                "",
                " // indirect",
                " //indirect",
                " // indirect; used by tests",
                " // indirectly",
                " // comment",
                "\t// indirect ",
                " // indirect;",
            ]
        )
    return rng.choice(["", "", " // why not", " //x"])


def _gen_module(rng: random.Random) -> list[str]:
    path = rng.choice(["example.com/main", "example.com/main/v2", "corp.internal/team/svc"])
    lines: list[str] = []
    style = rng.randrange(6)
    if style == 1:
        lines.append("// Deprecated: use example.com/other instead.")
    elif style == 2:
        lines += ["// Package main does things.", "//", "// Deprecated: moved", "// to a new home."]
    elif style == 3:
        lines += ["// Deprecated: first paragraph.", "//", "// Second paragraph."]
    if style == 4:
        return [*lines, "module (", f"\t{_q(rng, path)} // Deprecated: in a block", ")"]
    suffix = " // Deprecated: suffix form" if style == 5 else ""
    return [*lines, f"module {_q(rng, path)}{suffix}"]


def _gen_requires(rng: random.Random, verb: str) -> list[str]:
    entries = []
    for _ in range(rng.randint(1, 6)):
        path = rng.choice(_PATHS)
        entries.append(f"{_q(rng, path)} {_q(rng, _version_for(rng, path))}{_suffix(rng, verb)}")
    if rng.random() < 0.5:
        return [f"{verb} {e}" for e in entries]
    body = []
    for e in entries:
        if rng.random() < 0.2:
            body.append("\t// a comment line inside the block")
        if rng.random() < 0.1:
            body.append("")
        body.append("\t" + e)
    head = f"{verb} (" + (" // block comment" if rng.random() < 0.2 else "")
    return [head, *body, ")"]


def _gen_replace(rng: random.Random) -> list[str]:
    entries = []
    # The go command refuses two different replacements of one module (version); a repeated
    # identical one is fine (and `go mod edit -json` lists it once).
    targets: dict[str, str] = {}
    for _ in range(rng.randint(1, 4)):
        old = rng.choice(_PATHS)
        lhs = _q(rng, old)
        if rng.random() < 0.5:
            lhs += " " + _version_for(rng, old)
        if rng.random() < 0.5:
            local = rng.choice(_LOCAL_DIRS)
            rhs = f'"{local}"' if " " in local else _q(rng, local)
        else:
            new = rng.choice(_PATHS)
            rhs = f"{_q(rng, new)} {_version_for(rng, new)}"
        rhs = targets.setdefault(lhs.replace('"', ""), rhs)
        entries.append(f"{lhs} => {rhs}{_suffix(rng, 'replace')}")
    if rng.random() < 0.5:
        return [f"replace {e}" for e in entries]
    return ["replace (", *("\t" + e for e in entries), ")"]


def _gen_retract(rng: random.Random) -> list[str]:
    def one() -> str:
        if rng.random() < 0.5:
            return rng.choice(["v1.0.0", "v0.9.1", "v1.1.0-rc.1", "v1.2"])
        return rng.choice(["[v1.0.0, v1.9.9]", "[v0.1.0,v0.2.0]", "[ v1.0.0 , v1.0.5 ]"])

    out: list[str] = []
    if rng.random() < 0.5:
        for _ in range(rng.randint(1, 3)):
            if rng.random() < 0.5:
                out.append("// " + rng.choice(_RATIONALES))
            suffix = " // " + rng.choice(_RATIONALES) if rng.random() < 0.4 else ""
            out.append(f"retract {one()}{suffix}")
            out.append("")
        return out
    if rng.random() < 0.5:
        out.append("// Block-level rationale.")
    out.append("retract (")
    for _ in range(rng.randint(1, 3)):
        if rng.random() < 0.4:
            out.append("\t// " + rng.choice(_RATIONALES))
        if rng.random() < 0.2:
            out.append("")
        suffix = " // " + rng.choice(_RATIONALES) if rng.random() < 0.3 else ""
        out.append(f"\t{one()}{suffix}")
    out.append(")")
    return out


def _gen_simple(rng: random.Random, verb: str, values: list[str]) -> list[str]:
    # godebug takes its token as written: quotes are an error there.
    quote = _q if verb != "godebug" else (lambda _rng, token: token)
    chosen = [quote(rng, rng.choice(values)) for _ in range(rng.randint(1, 3))]
    if rng.random() < 0.5:
        return [f"{verb} {v}" for v in chosen]
    return [f"{verb} (", *("\t" + v for v in chosen), ")"]


def gen_gomod(seed: int) -> bytes:
    """One generated go.mod; the seed decides which directives and forms it uses."""
    rng = random.Random(seed)
    sections: list[list[str]] = []
    if rng.random() < 0.95:
        sections.append(_gen_module(rng))
    if rng.random() < 0.8:
        sections.append(
            [f"go {rng.choice(['1.21', '1.22.3', '1.23rc1', '1.16', '1.24.0', '1.17'])}"]
        )
    if rng.random() < 0.3:
        sections.append(
            [f"toolchain {rng.choice(['go1.22.1', 'default', 'go1.23rc2', 'go1.21.0-custom'])}"]
        )
    if rng.random() < 0.3:
        sections.append(
            _gen_simple(
                rng,
                "godebug",
                ["default=go1.21", "panicnil=1", "http2client=0", "x509sha1=", "default=go1"],
            )
        )
    for verb in ("require", "require", "exclude"):
        if rng.random() < 0.6:
            sections.append(_gen_requires(rng, verb))
    if rng.random() < 0.5:
        sections.append(_gen_replace(rng))
    if rng.random() < 0.4:
        sections.append(_gen_retract(rng))
    if rng.random() < 0.3:
        sections.append(
            _gen_simple(
                rng,
                "tool",
                ["example.com/a/cmd/gen", "golang.org/x/tools/cmd/stringer", "example.com/b/v2"],
            )
        )
    if rng.random() < 0.3:
        sections.append(
            _gen_simple(rng, "ignore", ["./node_modules", "static", "./a/b", "../outside"])
        )
    if rng.random() < 0.2:
        sections.append(["require ()"])
    if rng.random() < 0.3:
        sections.append(["//go:license Apache-2.0 OR MIT"])
    rng.shuffle(sections)

    lines: list[str] = []
    for section in sections:
        lines += section
        if rng.random() < 0.7:
            lines.append("")
        if rng.random() < 0.15:
            lines.append("// a free-standing comment")
    if rng.random() < 0.3:
        lines = [line.replace("\t", "    ") for line in lines]
    if rng.random() < 0.2:
        lines = [line + "  " if line else line for line in lines]
    eol = "\r\n" if rng.random() < 0.2 else "\n"
    text = eol.join(lines)
    if rng.random() < 0.9:
        text += eol
    return text.encode()


# Odd but valid files: escapes, comment placement, spacing the generator does not produce.
ODD_GOMODS: list[bytes] = [
    # Go string escapes inside quoted tokens (raw literals, so Python leaves them alone).
    rb'module "example.com/\x6dain"' + b"\n" + rb'require "example.com/\u0061" "v1.0.0"' + b"\n",
    b"module example.com/m\n" + rb'require "example.com/\141\142" v1.0.0' + b"\n",
    b"module example.com/m // /* not a C comment */\n",
    b"module example.com/m\nrequire (\n) // empty\n"
    b"require ( // c\n\texample.com/a v1.0.0\n) // after\n",
    b"\n\n// leading comment\n\n\nmodule example.com/m\n\n\n",
    b"module example.com/m\nrequire\texample.com/a\t\tv1.0.0\t//\tindirect\n",
    b"module example.com/m\nrequire example.com/a v1.0.0 //indirect;\n",
    b"module example.com/m\nrequire example.com/a v1.0.0 // indirect // twice\n",
    b"module example.com/m\nretract (\n\n\t// first\n\n\t// second\n\tv1.0.0\n\n)\n",
    b"// Deprecated:\nmodule example.com/m\n",
    b"// Deprecated:no space\n//\n//\nmodule example.com/m\n",
    b"// Block comment.\nretract (\n\tv1.0.0\n\t// own\n\tv1.1.0\n)\nmodule example.com/m\n",
    b"module example.com/m\nreplace example.com/a v1.0.0 => example.com/a v1.0.0\n",
    b"module example.com/m\nexclude example.com/a v1.0.0\nexclude example.com/a v1.0.0\n",
    b"module example.com/m\nreplace example.com/a => ./x\nreplace example.com/a => ./x\n",
    b"module example.com/m\ntool example.com/t\ntool example.com/t\nignore x\nignore x\n",
    "module example.com/m\n// Deprecated: ünïcode ✓\nrequire example.com/a v1.0.0\n".encode(),
    b"module example.com/m\ngodebug (\n\ta=1\n\ta=2\n)\n",
    b"go 1.21\n",  # no module line at all
]

# Files the go command must reject: each names the line of the first error.
BAD_GOMODS: list[tuple[str, bytes, int]] = [
    ("unknown directive", b"module example.com/m\n\nfrobnicate x\n", 3),
    ("unknown block", b"module example.com/m\ngo (\n\t1.21\n)\n", 2),
    ("block with two words", b"module example.com/m\nrequire x (\n)\n", 2),
    ("bad version", b"module example.com/m\nrequire example.com/a v1.2.3.4\n", 2),
    ("branch name as version", b"module example.com/m\nrequire (\n\texample.com/a master\n)\n", 3),
    ("major mismatch", b"module example.com/m\nrequire example.com/a/v2 v1.0.0\n", 2),
    ("v2 without suffix", b"module example.com/m\nrequire example.com/a v2.0.0\n", 2),
    ("bad path /v1", b"module example.com/m\nrequire example.com/a/v1 v1.0.0\n", 2),
    ("bad gopkg.in path", b"module example.com/m\nrequire gopkg.in/yaml v1.0.0\n", 2),
    ("require arity", b"module example.com/m\nrequire example.com/a\n", 2),
    ("truncated block", b"module example.com/m\nrequire (\n\texample.com/a v1.0.0\n", 4),
    ("truncated no newline", b"module example.com/m\nrequire (\n\texample.com/a v1.0.0", 3),
    ("truncated string", b'module example.com/m\nrequire "example.com/a v1.0.0\n', 2),
    ("string at EOF", b'module example.com/m\nrequire "example.com/a', 2),
    ("C comment", b"module example.com/m\n/* no */\n", 2),
    ("C comment in word", b"module example.com/m\nrequire a/*b v1.0.0\n", 2),
    ("binary NUL", b"module example.com/m\nrequire \x00\x01\x02 v1\n", 2),
    ("BOM", b"\xef\xbb\xbfmodule example.com/m\n", 1),
    ("repeated go", b"module example.com/m\ngo 1.21\ngo 1.22\n", 3),
    ("bad go version", b"module example.com/m\ngo 1.21.x\n", 2),
    ("go v-prefix", b"module example.com/m\ngo v1.21\n", 2),
    ("repeated module", b"module example.com/m\nmodule example.com/n\n", 2),
    ("module arity", b"module\n", 1),
    ("repeated toolchain", b"module m.com/x\ntoolchain go1.21.0\ntoolchain go1.22.0\n", 3),
    ("bad toolchain", b"module example.com/m\ntoolchain 1.21\n", 2),
    ("godebug no =", b"module example.com/m\ngodebug panicnil\n", 2),
    ("godebug quote", b'module example.com/m\ngodebug "a=b"\n', 2),
    ("replace no arrow", b"module example.com/m\nreplace example.com/a example.com/b v1.0.0\n", 2),
    ("replace path@v", b"module example.com/m\nreplace example.com/a => example.com/b@v1.0.0\n", 2),
    ("replace no version", b"module example.com/m\nreplace example.com/a => example.com/b\n", 2),
    ("replace dir version", b"module example.com/m\nreplace example.com/a => ./b v1.0.0\n", 2),
    ("replace windows dir", b"module example.com/m\nreplace example.com/a => .\\b\n", 2),
    ("replace bad old version", b"module m.com/x\nreplace example.com/a v1.x => ./b\n", 2),
    ("retract bad interval", b"module example.com/m\nretract [v1.0.0 v1.1.0]\n", 2),
    ("retract open interval", b"module example.com/m\nretract (v1.0.0, v1.1.0]\n", 2),
    ("retract trailing", b"module example.com/m\nretract v1.0.0 extra\n", 2),
    ("unquoted quote", b"module example.com/m\nrequire example.com/a'b v1.0.0\n", 2),
    ("bad escape", b'module example.com/m\nrequire "example.com/\\q" v1.0.0\n', 2),
    ("backquoted", b"module example.com/m\nrequire `example.com/a` v1.0.0\n", 2),
    ("paren trailing", b"module example.com/m\nrequire (\n\texample.com/a v1.0.0\n) x\n", 4),
    ("tool arity", b"module example.com/m\ntool a b\n", 2),
    ("ignore arity", b"module example.com/m\nignore\n", 2),
    ("second error only", b"module example.com/m\ngo 1.21\n\nrequire example.com/a v1\nbad\n", 5),
    ("CRLF bad version", b"module example.com/m\r\nrequire example.com/a vX\r\n", 2),
    ("form feed", b"module example.com/m\nrequire\x0cexample.com/a v1.0.0\n", 2),
    ("nbsp", "module example.com/m\nrequire\u00a0example.com/a v1.0.0\n".encode(), 2),
    ("zero-width space", "module example.com/m\u200b\n".encode(), 1),
    ("lone CR is a blank", b"module example.com/m\rrequire example.com/a v1.0.0\n", 1),
]


def _run_edit_json(run_go: RunGo, workdir: Path, name: str, data: bytes) -> tuple[int, str]:
    gomod = workdir / f"{name}.mod"
    gomod.write_bytes(data)
    proc = run_go("mod", "edit", "-json", gomod.name, cwd=workdir, check=False)
    return proc.returncode, proc.stdout if proc.returncode == 0 else proc.stderr


def _go_all(run_go: RunGo, workdir: Path, files: dict[str, bytes]) -> dict[str, tuple[int, str]]:
    # One go process per file; a few at a time keeps the 2-core machine responsive.
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {
            name: pool.submit(_run_edit_json, run_go, workdir, name, data)
            for name, data in files.items()
        }
        return {name: f.result() for name, f in futures.items()}


def _field_diff(ours: dict[str, Any], theirs: dict[str, Any]) -> list[str]:
    return [
        f"  {key}: ours={ours.get(key)!r}\n  {' ' * len(key)}  go  ={theirs.get(key)!r}"
        for key in sorted(set(ours) | set(theirs))
        if ours.get(key) != theirs.get(key)
    ]


N_VARIANTS = 210


@pytest.mark.gocmd
def test_generated_gomods_parse_as_go_mod_edit_json(run_go: RunGo, tmp_path: Path) -> None:
    files = {f"v{seed:03d}": gen_gomod(seed) for seed in range(N_VARIANTS)}
    files.update({f"odd{i:02d}": data for i, data in enumerate(ODD_GOMODS)})
    results = _go_all(run_go, tmp_path, files)
    failures = []
    for name, data in files.items():
        code, out = results[name]
        assert code == 0, f"generator produced a file go rejects ({name}):\n{out}\n{data!r}"
        ours = parse_gomod(data, f"{name}.mod").to_edit_json()
        diff = _field_diff(ours, json.loads(out))
        if diff:
            failures.append(f"{name}.mod:\n" + "\n".join(diff) + f"\n{data.decode()}")
    assert not failures, f"{len(failures)} of {len(files)} differ:\n" + "\n\n".join(failures[:5])


def test_generator_covers_every_directive_and_form() -> None:
    texts = [gen_gomod(seed).decode() for seed in range(N_VARIANTS)]
    blob = "\n".join(texts)
    for directive in ("module", "go", "toolchain", "godebug", "require", "exclude", "replace"):
        assert re.search(rf"(?m)^{directive} [^(]", blob), directive
    for directive in ("module", "godebug", "require", "exclude", "replace", "retract", "tool"):
        assert re.search(rf"(?m)^{directive} \(", blob), f"{directive} block"
    for form in ("// indirect", "=> ./local", '"example.com/', "\r\n", "[v1.0.0", "// Deprecated:"):
        assert form in blob, form
    assert any(not t.endswith("\n") for t in texts)
    assert sum(1 for t in texts if "ignore" in t) > 10


@pytest.mark.gocmd
def test_bad_gomods_fail_on_the_line_go_reports(run_go: RunGo, tmp_path: Path) -> None:
    files = {f"bad{i:02d}": data for i, (_, data, _) in enumerate(BAD_GOMODS)}
    results = _go_all(run_go, tmp_path, files)
    problems = []
    for i, (label, data, line) in enumerate(BAD_GOMODS):
        name = f"bad{i:02d}"
        code, out = results[name]
        go_lines = re.findall(rf"{name}\.mod:(\d+)", out)
        if code == 0 or not go_lines or int(go_lines[0]) != line:
            problems.append(f"{label}: the go command says {out!r}, test expects line {line}")
            continue
        with pytest.raises(ParseError) as info:
            parse_gomod(data, f"{name}.mod")
        if info.value.line != line or not str(info.value).startswith(f"{name}.mod:{line}: "):
            problems.append(f"{label}: ours {info.value} (go: line {line})")
    assert not problems, "\n".join(problems)


def test_lax_mode_reads_a_dependency_like_the_go_command() -> None:
    data = (
        b"module example.com/dep\n"
        b"go 1.18-custom\n"  # lax keeps "1.18" of an odd version
        b"toolchain bogus\n"  # main-module-only directives are not even checked
        b"frobnicate this\n"
        b"replace example.com/a => whatever\n"
        b"exclude example.com/a vX\n"
        b"future (\n\tsyntax\n)\n"
        b"require example.com/a v1.2\n"
        b"retract (v1.0.0, v2.0.0)\n"  # interval syntax from a later Go: skipped
        b"retract v1.0.1 // oops\n"
    )
    mod = parse_gomod(data, lax=True)
    assert mod.module == "example.com/dep"
    assert mod.go == "1.18"
    assert mod.toolchain == "" and mod.replaces == () and mod.excludes == ()
    assert [(r.path, r.version) for r in mod.requires] == [("example.com/a", "v1.2.0")]
    assert [(r.low, r.rationale) for r in mod.retracts] == [("v1.0.1", "oops")]
    with pytest.raises(ParseError, match=r"^go.mod:2: invalid go version .1.18-custom."):
        parse_gomod(data)
    # A bad require is an error even in a dependency.
    with pytest.raises(ParseError) as info:
        parse_gomod(b"module example.com/dep\nrequire example.com/a/v2 v1.0.0\n", lax=True)
    assert info.value.line == 2


def test_lines_helpers_and_licenses() -> None:
    data = (
        b"//go:license Apache-2.0\n"
        b"module example.com/m\n"
        b"\n"
        b"require (\n"
        b"\texample.com/a v1.0.0\n"
        b"\texample.com/b v1.5.0 // indirect\n"
        b")\n"
        b"exclude example.com/a v1.0.1\n"
        b"replace example.com/a => ../a\n"
        b"replace example.com/a v1.0.0 => example.com/fork v1.0.2\n"
        b"retract [v0.1.0, v0.3.0] // broken build\n"
    )
    mod = parse_gomod(data)
    assert isinstance(mod, GoMod)
    assert mod.module_line == 2
    assert [(r.path, r.line, r.indirect) for r in mod.requires] == [
        ("example.com/a", 5, False),
        ("example.com/b", 6, True),
    ]
    assert [(d.expression, d.line) for d in mod.declared_licenses] == [("Apache-2.0", 1)]
    fork = mod.replacement("example.com/a", "v1.0.0")
    assert fork is not None and (fork.new_path, fork.new_version, fork.line) == (
        "example.com/fork",
        "v1.0.2",
        10,
    )
    local = mod.replacement("example.com/a", "v1.1.0")
    assert local is not None and local.is_local and local.new_path == "../a"
    assert mod.replacement("example.com/b", "v1.5.0") is None
    assert mod.is_excluded("example.com/a", "v1.0.1")
    retraction = mod.retraction("v0.2.5")
    assert retraction is not None and retraction.rationale == "broken build"
    assert mod.retraction("v0.3.1") is None


def test_license_annotations_of_the_module_and_of_dependencies() -> None:
    mod = parse_gomod(
        b"//go:license Apache-2.0\n"
        b"module example.com/m //go:license MIT\n"
        b"require example.com/a v1.0.0 //go:license BSD-3-Clause\n"
        b"require (\n\t//go:license ISC\n\texample.com/b v1.0.0 //go:license MPL-2.0\n)\n"
    )
    assert [(d.expression, d.line, d.module) for d in mod.declared_licenses] == [
        ("Apache-2.0", 1, ""),
        ("MIT", 2, ""),
        ("ISC", 5, ""),
    ]
    assert [(d.expression, d.line, d.module) for d in mod.dependency_licenses] == [
        ("BSD-3-Clause", 3, "example.com/a"),
        ("MPL-2.0", 6, "example.com/b"),
    ]


def test_license_annotation_needs_an_expression() -> None:
    with pytest.raises(ParseError, match=r"^go.mod:2: //go:license needs"):
        parse_gomod(b"module example.com/m\n//go:license\n")
    # Other go: annotations are not licenses.
    assert parse_gomod(b"module example.com/m\n//go:licenses x\n").declared_licenses == ()


# go.mod files that `go mod edit -json` reads but `go list -m all` may refuse: strict mode
# follows `go list`. (text, line of our error or None when both accept)
LOAD_CASES: list[tuple[str, bytes, int | None]] = [
    ("module path with a space", b'module "a b"\n', 1),
    ("unreplaced bad require", b"module example.com/m\nrequire foo v1.0.0\n", 2),
    (
        "replaced bad require",
        b"module example.com/m\nrequire foo v0.0.0\nreplace foo => ./x\n",
        None,
    ),
    (
        "replaced require with a space",
        b'module example.com/m\nrequire "a b" v0.0.0\nreplace "a b" => ./x\n',
        None,
    ),
    ("bad tool path", b'module example.com/m\ntool "a b"\n', 2),
    ("odd exclude", b'module example.com/m\nexclude "a b" v1.0.0\n', None),
    ("odd unused replace", b'module example.com/m\nreplace "a b" => ./x\n', None),
    ("retract a branch name", b"module example.com/m\nretract banana\n", 2),
    ("godebug without a key", b"module example.com/m\ngodebug =1\n", 2),
    ("godebug default without go", b"module example.com/m\ngodebug default=1.21\n", 2),
    ("godebug default bad", b"module example.com/m\ngodebug (\n\tdefault=go1.21.x\n)\n", 3),
    ("godebug default ok", b"module example.com/m\ngodebug (\n\tdefault=go1.22rc1\n)\n", None),
    ("main module without a dot", b"module app\n", None),
    (
        "conflicting replacements",
        b"module example.com/m\nreplace example.com/a => ./x\nreplace example.com/a => ./y\n",
        3,
    ),
    (
        "conflicting versioned replacements",
        b"module example.com/m\nreplace example.com/a v1.0.0 => ./x\n"
        b"replace example.com/a v1.0.0 => example.com/b v1.0.0\nreplace example.com/a => ./y\n",
        3,
    ),
]


@pytest.mark.gocmd
def test_strict_mode_refuses_what_go_list_refuses(run_go: RunGo, tmp_path: Path) -> None:
    problems = []
    for i, (case, data, line) in enumerate(LOAD_CASES):
        project = tmp_path / f"p{i}"
        (project / "x").mkdir(parents=True)
        (project / "go.mod").write_bytes(data)
        replaced = b"a b" if b'"a b" =>' in data else b"foo"
        (project / "x" / "go.mod").write_bytes(b'module "' + replaced + b'"\n')
        go = run_go("list", "-m", "all", cwd=project, check=False)
        try:
            parse_gomod(data, str(project / "go.mod"))
            ours = None
        except ParseError as e:
            ours = e
        if line is None:
            if go.returncode != 0 or ours is not None:
                problems.append(f"{case}: go {go.stderr.strip()!r}, ours {ours}")
        elif go.returncode == 0 or ours is None or ours.line != line:
            problems.append(f"{case}: go {go.stderr.strip()!r}, ours {ours} (want line {line})")
        elif "malformed" in go.stderr and "malformed" not in str(ours):
            problems.append(f"{case}: go says {go.stderr.strip()!r}, ours {ours}")
    assert not problems, "\n".join(problems)


def test_crlf_matches_lf() -> None:
    text = "module example.com/m\n\n// Deprecated: gone\nrequire example.com/a v1.0.0 // indirect\n"
    lf = parse_gomod(text.encode())
    crlf = parse_gomod(text.replace("\n", "\r\n").encode())
    assert lf.to_edit_json() == crlf.to_edit_json()
    assert [r.line for r in lf.requires] == [r.line for r in crlf.requires] == [4]


def test_huge_gomod_is_refused_with_a_line() -> None:
    line = b"require example.com/some/long/module/path/for/size v1.2.3 // indirect\n"
    data = b"module example.com/m\n" + line * (20 * (1 << 20) // len(line))
    assert len(data) > 20_000_000
    with pytest.raises(ParseError) as info:
        parse_gomod(data)
    assert info.value.line is not None and info.value.line > 200_000
    assert "16 MiB" in str(info.value)


def test_large_gomod_under_the_limit_parses() -> None:
    lines = [
        f"\texample.com/org{i % 97}/repo{i} v1.{i % 50}.0 // indirect\n" for i in range(20_000)
    ]
    data = ("module example.com/m\nrequire (\n" + "".join(lines) + ")\n").encode()
    mod = parse_gomod(data)
    assert len(mod.requires) == 20_000
    assert mod.requires[-1] == Require("example.com/org17/repo19999", "v1.49.0", True, 20_002)


@pytest.mark.gocmd
def test_lax_retractions_and_deprecation_as_the_go_command_reads_them(
    run_go: RunGo, goproxy_tree: GoProxyTree, tmp_path: Path
) -> None:
    # A dependency's latest go.mod, with directives only a main module may use (and one no Go
    # knows): the go command reads it leniently, and so must parse_gomod(lax=True).
    latest = (
        "// Deprecated: use example.com/new instead.\n"
        "module example.com/dep\n\n"
        "go 1.21\n"
        "toolchain go1.99-experimental\n"
        "frobnicate the widgets\n"
        "replace example.com/x => ../x\n"
        "future (\n\tsyntax here\n)\n\n"
        "// Published with a data race.\n"
        "retract v1.0.0\n\n"
        "retract (\n"
        "\t// Broken build on Windows.\n"
        "\t[v1.0.1, v1.0.3] // and more\n"
        "\tv1.0.4\n"
        ")\n"
    )
    for v in ("v1.0.0", "v1.0.2", "v1.0.4"):
        goproxy_tree.add_module("example.com/dep", v, {"go.mod": "module example.com/dep\n"})
    goproxy_tree.add_module("example.com/dep", "v1.1.0", {"go.mod": latest})
    out = run_go(
        "list",
        "-m",
        "-u",
        "-retracted",
        "-json",
        "example.com/dep@v1.0.0",
        "example.com/dep@v1.0.2",
        "example.com/dep@v1.0.4",
        "example.com/dep@v1.1.0",
        cwd=tmp_path,
        env_extra={"GOPROXY": goproxy_tree.url, "GOFLAGS": ""},
    ).stdout
    go_says = {m["Version"]: m for m in json_stream(out)}

    mod = parse_gomod(latest, "example.com/dep@v1.1.0/go.mod", lax=True)
    for version in ("v1.0.0", "v1.0.2", "v1.0.4"):
        retraction = mod.retraction(version)
        assert retraction is not None
        # The go command shows a retraction without comment as "retracted by module author".
        shown = retraction.rationale or "retracted by module author"
        assert go_says[version]["Retracted"] == [shown]
    assert mod.retraction("v1.1.0") is None and "Retracted" not in go_says["v1.1.0"]
    assert go_says["v1.1.0"]["Deprecated"] == mod.deprecated == "use example.com/new instead."
    with pytest.raises(ParseError, match=r"dep@v1.1.0/go.mod:6: unknown directive: frobnicate"):
        parse_gomod(latest, "example.com/dep@v1.1.0/go.mod")


_TOKENS = [
    *("module", "go", "require", "replace", "exclude", "retract", "tool", "ignore", "godebug"),
    *("toolchain", "(", ")", "[", "]", ",", "=>", "//", "// indirect", "example.com/a"),
    *("example.com/a/v2", "gopkg.in/x.v1", "./dir", "v1.2.3", "v2.0.0", "v1", "1.21", "a=b"),
    *('"example.com/q"', '"v1.0.0"', "example.com/b", "v0.0.0-20200101000000-abcdefabcdef"),
    *("// Deprecated: x", "1.22rc1", "default", "go1.22", "v1.0.0+incompatible", "\t"),
]


def _random_token_file(seed: int) -> bytes:
    rng = random.Random(seed)
    lines = [
        " ".join(rng.choice(_TOKENS) for _ in range(rng.randint(1, 5)))
        for _ in range(rng.randint(1, 10))
    ]
    return "\n".join(lines).encode()


@pytest.mark.gocmd
def test_random_token_files_pass_or_fail_like_go_mod_edit(run_go: RunGo, tmp_path: Path) -> None:
    files = {f"r{seed:03d}": _random_token_file(seed) for seed in range(80)}
    results = _go_all(run_go, tmp_path, files)
    problems = []
    for name, data in files.items():
        code, out = results[name]
        try:
            ours: dict[str, Any] | int = parse_gomod(data, f"{name}.mod").to_edit_json()
        except ParseError as e:
            go_list_only = ("malformed", "retract: version", "conflicting", "godebug", "default=")
            if code == 0 and any(k in e.message for k in go_list_only):
                continue  # strict mode's go-list checks, which `go mod edit` does not make
            ours = e.line or 0
        if code == 0:
            theirs: dict[str, Any] | int = json.loads(out)
        else:
            found = re.findall(rf"{name}\.mod:(\d+)", out)
            theirs = int(found[0]) if found else -1
        if ours != theirs:
            problems.append(f"{name}: ours {ours!r}, go {theirs!r}\n{data.decode()}")
    assert not problems, "\n\n".join(problems[:5])
