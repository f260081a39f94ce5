"""The partnership in force in one process: swapped whole when a checked new version arrives."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from services.partnership.loader import PartnershipError, Problem, load_text
from services.partnership.model import Partnership


@dataclass(frozen=True)
class PolicyVersion:
    """One version of the partnership file: the checked policy, its text and its SHA-256."""

    partnership: Partnership
    sha256: str
    content: str

    @property
    def version(self) -> str:
        """The file's `policy_version`."""
        return self.partnership.policy_version


@dataclass(frozen=True)
class Reload:
    """What reading the file again did: applied a new version, found nothing new, or refused."""

    applied: PolicyVersion | None = None
    problems: tuple[Problem, ...] = ()

    @property
    def refused(self) -> bool:
        """Whether the file was refused and the running policy stays."""
        return bool(self.problems)


REUSED_VERSION = "the file changed but its policy_version did not; give the change a new one"


def reused_version(candidate: PolicyVersion, sha256_on_record: str | None) -> Problem | None:
    """The problem with a version whose name is on record under another text, if it is."""
    if sha256_on_record is None or sha256_on_record == candidate.sha256:
        return None
    reason = f"{candidate.version!r} is on record with another SHA-256: {REUSED_VERSION}"
    return Problem("policy_version", None, reason)


def sha256_of(content: str) -> str:
    """The hex SHA-256 of a partnership file's UTF-8 text."""
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


def read_version(path: Path) -> PolicyVersion:
    """Read and check a partnership file (PartnershipError with every problem if it fails)."""
    try:
        content = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise PartnershipError(
            path, [Problem("(file)", None, f"cannot be read: {type(error).__name__}")]
        ) from None
    return PolicyVersion(load_text(content, path), sha256_of(content), content)


class PartnershipHolder:
    """Holds the partnership in force; `current` is read once per decision, swapped atomically.

    Every version applied in this process is remembered, so a changed file under a version
    already seen is refused: a version names one set of rules, for ever.
    """

    def __init__(self, path: Path, first: PolicyVersion | None = None) -> None:
        self.path = path
        self._in_force = first or read_version(path)
        self._seen = {self._in_force.version: self._in_force.sha256}

    @classmethod
    def of(cls, partnership: Partnership, content: str = "") -> PartnershipHolder:
        """A holder of a partnership given in memory (tests, tools): no file to reload."""
        return cls(Path("(in memory)"), PolicyVersion(partnership, sha256_of(content), content))

    @property
    def current(self) -> Partnership:
        """The partnership in force now."""
        return self._in_force.partnership

    @property
    def in_force(self) -> PolicyVersion:
        """The version in force now, with its text and SHA-256."""
        return self._in_force

    def offer(self, candidate: PolicyVersion) -> Reload:
        """Apply a checked version unless it is the one in force or reuses a version's name."""
        if candidate.sha256 == self._in_force.sha256:
            return Reload()
        problem = reused_version(candidate, self._seen.get(candidate.version))
        if problem is not None:
            return Reload(problems=(problem,))
        self._seen[candidate.version] = candidate.sha256
        # One assignment: a reader sees the old version or the new one, never a mixture.
        self._in_force = candidate
        return Reload(applied=candidate)

    def read(self) -> PolicyVersion | Reload:
        """The file as it is now, checked; a refusal with every problem if it cannot be used."""
        try:
            return read_version(self.path)
        except PartnershipError as error:
            return Reload(problems=tuple(error.problems))

    def reload(self) -> Reload:
        """Read the file again and apply it if it is a valid new version; otherwise keep the old."""
        candidate = self.read()
        return candidate if isinstance(candidate, Reload) else self.offer(candidate)
