"""Problems found in a spec while generating: collected as data, reported together at the end."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["GenerationFailed", "Problem", "Problems"]


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with the spec: where (a JSON pointer into it) and what."""

    pointer: str
    message: str
    fatal: bool = True

    def __str__(self) -> str:
        level = "error" if self.fatal else "warning"
        return f"{level}: {self.pointer or '/'}: {self.message}"


@dataclass
class Problems:
    """The problems of one generation run."""

    items: list[Problem] = field(default_factory=list)

    def error(self, pointer: str, message: str) -> None:
        self.items.append(Problem(pointer, message))

    def warn(self, pointer: str, message: str) -> None:
        self.items.append(Problem(pointer, message, fatal=False))

    @property
    def fatal(self) -> list[Problem]:
        return [p for p in self.items if p.fatal]

    def raise_if_fatal(self) -> None:
        if self.fatal:
            raise GenerationFailed(self.items)


class GenerationFailed(Exception):
    """The spec has problems that stop generation; every one of them is listed."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))
