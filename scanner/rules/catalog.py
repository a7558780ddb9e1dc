"""The rule catalogue: stable ids, severities, CWEs, messages and fix hints of every source rule."""

from __future__ import annotations

from dataclasses import dataclass

from ..result import RuleInfo, RuleKind, Severity


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """What one source rule checks. The id never changes meaning; retired ids are not reused."""

    id: str
    name: str  # kebab-case, for SARIF `name`
    severity: Severity
    cwe: str  # "CWE-798"; "" when none applies
    short: str  # one line: what is wrong
    fix: str  # what to do instead

    def info(self) -> RuleInfo:
        return RuleInfo(
            id=self.id,
            kind=RuleKind.SOURCE,
            name=self.name,
            severity=self.severity,
            short=self.short,
            help=f"{self.short}. Fix: {self.fix} "
            f"Suppress a reviewed case with `//goproxy-scan:ignore {self.id} <reason>`.",
            cwe=self.cwe,
        )


_H, _M, _L = Severity.HIGH, Severity.MEDIUM, Severity.LOW

RULES: tuple[RuleSpec, ...] = (
    RuleSpec(
        "GPS100",
        "invalid-suppression",
        _L,
        "",
        "A //goproxy-scan:ignore comment without a reason or with an unknown rule id",
        "write `//goproxy-scan:ignore GPSnnn why this is safe`; the reason is required.",
    ),
    RuleSpec(
        "GPS101",
        "hardcoded-credential",
        _H,
        "CWE-798",
        "A credential (password, token, secret or key) is hard-coded in the source",
        "read it at run time from the environment, a secret store or a file outside the "
        "repository, and rotate the exposed value.",
    ),
    RuleSpec(
        "GPS102",
        "exec-non-constant-command",
        _H,
        "CWE-78",
        "A subprocess is started with a command or shell script built at run time",
        "run a fixed program with arguments as separate strings (no `sh -c`), and validate "
        "any value that selects the program against an allow-list.",
    ),
    RuleSpec(
        "GPS103",
        "weak-hash",
        Severity.MEDIUM,
        "CWE-328",
        "MD5 or SHA-1 is used; both are broken for collision resistance",
        "use crypto/sha256 (or sha512, sha3); for passwords use bcrypt, scrypt or argon2.",
    ),
    RuleSpec(
        "GPS104",
        "weak-cipher",
        _H,
        "CWE-327",
        "DES, 3DES or RC4 is used; these ciphers are broken",
        "use AES-GCM (crypto/aes + crypto/cipher.NewGCM) or chacha20poly1305.",
    ),
    RuleSpec(
        "GPS105",
        "insecure-random-for-secret",
        _H,
        "CWE-338",
        "math/rand produces a value used as a secret (token, key, password, nonce, salt)",
        "use crypto/rand (rand.Read, rand.Text, rand.Int) for anything an attacker must not guess.",
    ),
    RuleSpec(
        "GPS106",
        "tls-insecure-skip-verify",
        _H,
        "CWE-295",
        "TLS certificate verification is disabled (InsecureSkipVerify: true)",
        "trust the server's CA with tls.Config.RootCAs instead of turning verification off.",
    ),
    RuleSpec(
        "GPS107",
        "tls-version-below-1.2",
        _H,
        "CWE-326",
        "TLS is allowed below version 1.2",
        "set MinVersion: tls.VersionTLS12 (or VersionTLS13) and do not cap MaxVersion below it.",
    ),
    RuleSpec(
        "GPS108",
        "unsafe-pointer",
        _L,
        "CWE-242",
        "Package unsafe converts pointers around Go's type and memory safety",
        "use safe conversions (encoding/binary, slices, strings.Clone) or confine unsafe to one "
        "reviewed, tested function.",
    ),
    RuleSpec(
        "GPS109",
        "sql-string-building",
        _H,
        "CWE-89",
        "An SQL statement is built from strings (concatenation or fmt.Sprintf)",
        'pass values as query parameters (`db.Query("... WHERE id = ?", id)` / `$1`); '
        "identifiers must come from a fixed allow-list.",
    ),
    RuleSpec(
        "GPS110",
        "http-server-no-timeouts",
        Severity.MEDIUM,
        "CWE-400",
        "An HTTP server has no read timeouts, so slow clients can hold connections (Slowloris)",
        "use &http.Server{ReadHeaderTimeout: 10 * time.Second, ...} and its ListenAndServe "
        "instead of http.ListenAndServe/http.Serve.",
    ),
    RuleSpec(
        "GPS111",
        "file-permissions-too-wide",
        Severity.MEDIUM,
        "CWE-276",
        "A file or directory is created with permissions wider than needed",
        "use 0o600 for files and 0o750 (or 0o700) for directories unless others must read them.",
    ),
    RuleSpec(
        "GPS112",
        "zip-slip",
        _H,
        "CWE-22",
        "An archive entry name is joined into a path without checking it stays inside the target",
        "reject names that are not local: `if !filepath.IsLocal(hdr.Name) { return err }` "
        "before filepath.Join.",
    ),
    RuleSpec(
        "GPS113",
        "decompression-bomb",
        Severity.MEDIUM,
        "CWE-409",
        "Decompressed data is read without a size limit (decompression bomb)",
        "wrap the reader: io.Copy(dst, io.LimitReader(r, max)) or io.CopyN, and fail when the "
        "limit is reached.",
    ),
    RuleSpec(
        "GPS114",
        "bind-all-interfaces",
        Severity.MEDIUM,
        "CWE-1327",
        "A listener binds every network interface (0.0.0.0, [::] or an empty host)",
        "bind to 127.0.0.1 or a configured address; if the service must be public, suppress "
        "with the reason.",
    ),
    RuleSpec(
        "GPS115",
        "text-template-html",
        Severity.MEDIUM,
        "CWE-79",
        "text/template renders HTML without escaping",
        "use html/template, which escapes values for HTML, JavaScript and URLs by context.",
    ),
    RuleSpec(
        "GPS116",
        "pprof-exposed",
        _H,
        "CWE-200",
        "net/http/pprof is imported, which serves /debug/pprof/ on the default mux",
        "serve pprof only on a separate, loopback-bound mux (or behind authentication) and drop "
        "the import from production code.",
    ),
    RuleSpec(
        "GPS117",
        "ssh-insecure-host-key",
        _H,
        "CWE-322",
        "The SSH client accepts any host key (man-in-the-middle)",
        "use knownhosts.New(...) or ssh.FixedHostKey(key) as HostKeyCallback.",
    ),
)

BY_ID: dict[str, RuleSpec] = {r.id: r for r in RULES}


def describe(rule_id: str) -> RuleInfo:
    """The report description of a rule; KeyError for an unknown id."""
    return BY_ID[rule_id].info()


def unknown_rule_hint(rule_id: str) -> str:
    """What to write instead of an id that names no rule: the likely ones, then every id."""
    known = "rule ids: " + ", ".join(r.id for r in RULES)
    guess = did_you_mean(rule_id)
    return f"{guess} {known}" if guess else known


def did_you_mean(rule_id: str) -> str:
    """`did you mean GPS103 weak-hash?` for the ids one slip from `rule_id` (a wrong case, a
    typed or swapped digit: GPS013 for GPS103); "" when none is, or too many to be a guess."""
    typed = rule_id.strip().upper()
    exact = BY_ID.get(typed)
    near = [exact] if exact else [r for r in RULES if _one_slip(typed, r.id)]
    if not near or len(near) > 3:  # GPS10 is one slip from ten ids: no guess
        return ""
    return "did you mean " + " or ".join(f"{r.id} {r.name}" for r in near) + "?"


def _one_slip(typed: str, rule_id: str) -> bool:
    """One character replaced, inserted or dropped, or two neighbours swapped."""
    if len(typed) == len(rule_id):
        diff = [i for i, (a, b) in enumerate(zip(typed, rule_id, strict=True)) if a != b]
        if len(diff) != 2:
            return len(diff) == 1
        i, j = diff
        return j == i + 1 and typed[i] == rule_id[j] and typed[j] == rule_id[i]
    short, long = sorted((typed, rule_id), key=len)
    if len(long) - len(short) != 1:
        return False
    return any(long[:k] + long[k + 1 :] == short for k in range(len(long)))
