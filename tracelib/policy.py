"""Witness policies in C2SP tlog-policy form: which logs are accepted, which witnesses are
known, and the quorum of them whose cosignatures make a checkpoint count as witnessed.

Invariants
----------
* A :class:`Policy` is only built from text that follows C2SP tlog-policy: exactly one
  ``quorum`` line; groups and the quorum name only witnesses and groups defined on
  earlier lines; ``1 <= k <= n`` in every group; a name is a group member at most once;
  no two logs and no two witnesses share a public key ("Duplicate witnesses ... are not
  allowed").
* :meth:`Policy.satisfied` is monotone: more cosigners never un-satisfy a quorum.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from .errors import ValidationError
from .note import CosignatureVerifier, NoteVerifier

__all__ = ["NONE", "Group", "Policy", "PolicyWitness", "parse_log_list", "parse_policy"]

#: The predefined quorum name that requires no cosignature (C2SP tlog-policy, quorum).
NONE = "none"

# C2SP tlog-policy, Character set: only tab and newline among the control characters.
_BAD_OCTETS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass(frozen=True)
class PolicyWitness:
    """A ``witness <name> <vkey> [<url>]`` line."""

    name: str
    verifier: CosignatureVerifier
    url: str | None = None


@dataclass(frozen=True)
class Group:
    """A ``group <name> <k|all|any> <member>...`` line: witnessed when at least ``k`` of
    its ``members`` (witnesses or earlier groups) are."""

    name: str
    k: int
    members: tuple[str, ...]


@dataclass(frozen=True)
class Policy:
    """A parsed C2SP tlog-policy: its logs (with optional URLs), witnesses, groups and
    quorum (:data:`NONE` or a witness or group name)."""

    logs: tuple[tuple[NoteVerifier, str | None], ...]
    witnesses: Mapping[str, PolicyWitness]
    groups: Mapping[str, Group]
    quorum: str
    _order: tuple[str, ...] = field(default=(), repr=False)

    def cosigner_keys(self) -> list[CosignatureVerifier]:
        """The witnesses' cosignature verifiers (for :func:`tracelib.note.open_cosigned_note`)."""
        return [w.verifier for w in self.witnesses.values()]

    def log_verifiers(self) -> list[NoteVerifier]:
        return [v for v, _url in self.logs]

    def names_of(self, cosigner_keys: Iterable[tuple[str, bytes]]) -> set[str]:
        """The policy names of the witnesses whose (key name, key id) are given (the
        cosignatures that verified)."""
        wanted = set(cosigner_keys)
        return {w.name for w in self.witnesses.values()
                if (w.verifier.name, w.verifier.key_id) in wanted}

    def _witnessed(self, name: str, cosigned: set[str]) -> bool:
        if name == NONE:
            return True
        if name in self.witnesses:
            return name in cosigned
        group = self.groups[name]
        return sum(self._witnessed(m, cosigned) for m in group.members) >= group.k

    def satisfied(self, cosigners: Iterable[str]) -> bool:
        """Whether the witnesses named ``cosigners`` (policy names) meet the quorum
        (C2SP tlog-policy, "Defining a witness group")."""
        return self._witnessed(self.quorum, set(cosigners))

    def describe(self) -> str:
        """The quorum in words, e.g. ``2 of 3 witnesses (w1, w2, w3)``."""
        if self.quorum == NONE:
            return "no witness required"
        if self.quorum in self.witnesses:
            return f"witness {self.quorum}"
        group = self.groups[self.quorum]
        return f"{group.k} of {len(group.members)} ({', '.join(group.members)})"


def _check_url(url: str, line_no: int) -> str:
    if not re.match(r"https?://[^\s/]+", url):
        raise ValidationError(f"policy line {line_no}: URL {url!r} is not http(s)://…",
                              line=line_no)
    return url.rstrip("/")


def parse_policy(text: str) -> Policy:
    """Parse C2SP tlog-policy text; ``ValidationError`` naming the line when it breaks a rule."""
    if not isinstance(text, str):
        raise ValidationError("a policy is text")
    m = _BAD_OCTETS.search(text)
    if m:
        raise ValidationError(f"policy contains control character U+{ord(m.group()):04X} "
                              "(C2SP tlog-policy allows only tab and newline)")
    logs: list[tuple[NoteVerifier, str | None]] = []
    witnesses: dict[str, PolicyWitness] = {}
    groups: dict[str, Group] = {}
    order: list[str] = []
    quorum: str | None = None
    log_keys: set[bytes] = set()
    witness_keys: set[bytes] = set()
    for n, raw_line in enumerate(text.split("\n"), 1):
        words = raw_line.replace("\t", " ").split()
        if not words or words[0].startswith("#"):
            continue
        keyword, args = words[0], words[1:]

        def fail(why: str, n: int = n) -> ValidationError:
            return ValidationError(f"policy line {n}: {why}", line=n)

        if keyword == "log":
            if len(args) not in (1, 2):
                raise fail("expected: log <vkey> [<url>]")
            try:
                verifier = NoteVerifier.parse(args[0])
            except ValidationError as e:
                raise fail(f"log key: {e}") from e
            if verifier.public_key.raw in log_keys:
                raise fail("duplicate log key")
            log_keys.add(verifier.public_key.raw)
            logs.append((verifier, _check_url(args[1], n) if len(args) == 2 else None))
        elif keyword == "witness":
            if len(args) not in (2, 3):
                raise fail("expected: witness <name> <vkey> [<url>]")
            name = args[0]
            if name == NONE or name in witnesses or name in groups:
                raise fail(f"name {name!r} is already defined or reserved")
            try:
                co = CosignatureVerifier.parse(args[1])
            except ValidationError as e:
                raise fail(f"witness key: {e}") from e
            if co.public_key.raw in witness_keys:
                raise fail("duplicate witness key")
            witness_keys.add(co.public_key.raw)
            witnesses[name] = PolicyWitness(name, co,
                                            _check_url(args[2], n) if len(args) == 3 else None)
            order.append(name)
        elif keyword == "group":
            if len(args) < 3:
                raise fail("expected: group <name> <k|all|any> <member>...")
            name, threshold, members = args[0], args[1], tuple(args[2:])
            if name == NONE or name in witnesses or name in groups:
                raise fail(f"name {name!r} is already defined or reserved")
            for member in members:
                if member not in witnesses and member not in groups:
                    raise fail(f"group member {member!r} is not defined on an earlier line")
            if len(set(members)) != len(members):
                raise fail("a name is listed more than once in the group")
            if threshold == "all":
                k = len(members)
            elif threshold == "any":
                k = 1
            elif re.fullmatch(r"[1-9][0-9]*", threshold):
                k = int(threshold)
                if not 1 <= k <= len(members):
                    raise fail(f"threshold {k} is not in 1..{len(members)}")
            else:
                raise fail(f"threshold {threshold!r} is not a number, all or any")
            groups[name] = Group(name, k, members)
            order.append(name)
        elif keyword == "quorum":
            if len(args) != 1:
                raise fail("expected: quorum <name>")
            if quorum is not None:
                raise fail("a policy has exactly one quorum line")
            if args[0] != NONE and args[0] not in witnesses and args[0] not in groups:
                raise fail(f"quorum {args[0]!r} is not defined on an earlier line")
            quorum = args[0]
        else:
            raise fail(f"unknown keyword {keyword!r} (log, witness, group or quorum)")
    if quorum is None:
        raise ValidationError("policy has no quorum line (C2SP tlog-policy: exactly one)")
    return Policy(tuple(logs), witnesses, groups, quorum, tuple(order))


def parse_log_list(text: str) -> list[NoteVerifier]:
    """The logs a witness follows: the ``log <vkey> [<url>]`` lines of a C2SP tlog-policy
    file, or of a file holding only such lines (comments and other lines are ignored). Each
    log's origin is its vkey's key name (C2SP tlog-policy, "Defining a log")."""
    logs: list[NoteVerifier] = []
    for n, raw_line in enumerate(text.split("\n"), 1):
        words = raw_line.replace("\t", " ").split()
        if not words or words[0] != "log":
            continue
        if len(words) not in (2, 3):
            raise ValidationError(f"logs line {n}: expected: log <vkey> [<url>]", line=n)
        try:
            logs.append(NoteVerifier.parse(words[1]))
        except ValidationError as e:
            raise ValidationError(f"logs line {n}: {e}", line=n) from e
    if not logs:
        raise ValidationError("no `log <vkey>` line: the witness would follow no log")
    return logs
