"""What an imported bundle's rollbacks and pins do to this vault's (RollbackStore.merge)."""

from __future__ import annotations

from pathlib import Path

from proxy.rollback import Pin, Rollback, RollbackState, RollbackStore, state_file

M = "example.com/dep/m0"


def store(tmp_path: Path) -> RollbackStore:
    return RollbackStore(state_file(str(tmp_path / "vault")))


def test_a_rollback_of_the_version_pinned_here_is_recorded_and_said(tmp_path: Path) -> None:
    """Import made a vault pin and roll back one version, which `pin` and `rollback` refuse
    together, without a word."""
    vault = store(tmp_path)
    vault.pin(M, "v1.1.0", "newer", "ops")
    incoming = RollbackState(
        rollbacks=(Rollback(M, "v1.1.0", "bad", "src", "2099-01-01T00:00:00Z"),)
    )
    _, notes = vault.merge(incoming, "bundle from src")
    state = vault.load()
    assert [(r.module, r.version) for r in state.rollbacks] == [(M, "v1.1.0")]  # the rollback wins
    (note,) = notes
    assert note.startswith(f"{M} is pinned here to v1.1.0, which the bundle rolls back")
    assert f"go-vault pin --undo {M}" in note


def test_reimporting_does_not_bring_back_a_rollback_undone_here(tmp_path: Path) -> None:
    """docs: re-importing is a no-op; a rollback this vault's operator undid came back."""
    vault = store(tmp_path)
    made = "2026-01-01T00:00:00Z"
    incoming = RollbackState(
        rollbacks=(Rollback(M, "v1.1.0", "bad", "src", made),),
        pins=(Pin("example.com/dep/p", "v1.0.0", "hold", "src", made),),
    )
    events, notes = vault.merge(incoming, "bundle from src")
    assert events and not notes
    vault.undo(M, ["v1.1.0"], "ops")
    events, notes = vault.merge(incoming, "bundle from src")
    assert vault.load().rollbacks == () and events == []
    (note,) = notes
    assert note.startswith(f"the bundle's rollback of {M}@v1.1.0 is not recorded: undone here")
    # a later rollback of it at the source is a new decision: recorded
    again = RollbackState(
        rollbacks=(Rollback(M, "v1.1.0", "worse", "src", "2099-01-01T00:00:00Z"),)
    )
    vault.merge(again, "bundle from src")
    assert [r.reason for r in vault.load().rollbacks] == ["worse"]
