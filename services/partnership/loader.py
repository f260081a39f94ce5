"""Reading a partnership file: YAML in, a checked Partnership out, every problem with its line."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import ValidationError

from services.partnership.fields import Loc
from services.partnership.model import CHECK_LATER, Partnership, cross_reference_problems, place


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a partnership file."""

    place: str
    line: int | None
    reason: str

    def __str__(self) -> str:
        where = f"line {self.line}, " if self.line else ""
        return f"{where}{self.place}: {self.reason}"


class PartnershipError(ValueError):
    """A partnership file that cannot be used, with every problem found in it."""

    def __init__(self, path: Path, problems: list[Problem]) -> None:
        self.path = path
        self.problems = problems
        listed = "\n".join(f"  {problem}" for problem in problems)
        count = f"{len(problems)} problem{'' if len(problems) == 1 else 's'}"
        super().__init__(f"partnership file {path} is invalid ({count}):\n{listed}")


def default_partnership_path() -> Path:
    """The reference partnership the project ships and tests against."""
    return Path(__file__).resolve().parent / "partnerships" / "northmoor-eastvale.yaml"


def load_partnership(path: Path | str) -> Partnership:
    """Read and check a partnership file, reporting every problem with its place and line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise PartnershipError(
            path, [Problem("(file)", None, f"cannot be read: {error}")]
        ) from None
    return load_text(text, path)


def load_text(text: str, path: Path) -> Partnership:
    """Check a partnership file's text (read from `path`), reporting every problem found."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        reason = f"is not YAML: {getattr(error, 'problem', None) or error}"
        raise PartnershipError(path, [Problem("(file)", mark and mark.line + 1, reason)]) from None
    problems = _duplicate_keys(root, ())
    try:
        partnership = Partnership.model_validate(document, context={CHECK_LATER: True})
    except ValidationError as error:
        for found in error.errors():
            loc, reason = tuple(found["loc"]), _reason(found["type"], found["msg"])
            problems.append(Problem(place(loc), _line(root, loc), reason))
        raise PartnershipError(path, problems) from None
    for loc, reason in cross_reference_problems(partnership):
        problems.append(Problem(place(loc), _line(root, loc), reason))
    if problems:
        raise PartnershipError(path, problems)
    return partnership


def _reason(kind: str, message: str) -> str:
    reasons = {"extra_forbidden": "unknown key", "missing": "required but missing"}
    return reasons.get(kind, message.removeprefix("Value error, "))


def _line(node: yaml.Node | None, loc: Loc) -> int | None:
    line = None if node is None else node.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == str(part):
                    node, line = value, key.start_mark.line + 1
                    break
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value)
        ):
            node = node.value[part]
            line = node.start_mark.line + 1
    return line


def _duplicate_keys(node: yaml.Node | None, loc: Loc) -> list[Problem]:
    # safe_load quietly keeps the last of two equal keys; a partnership file must not.
    problems: list[Problem] = []
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            name = str(key.value)
            if name in seen:
                problems.append(
                    Problem(place((*loc, name)), key.start_mark.line + 1, "key repeated")
                )
            seen.add(name)
            problems += _duplicate_keys(value, (*loc, name))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            problems += _duplicate_keys(item, (*loc, i))
    return problems
