"""Problem types → the exception classes every client target renders.

A client picks the exception for an error answer by the problem's ``type`` first, then, for a
type it does not know (a newer server), by the status, then ``ServerError``. The status classes
are fixed here whatever the spec says, because their names are public API; each catalogued type
gets a class that extends its status's class, unless it is named like that class, which then
stands for the type itself (``unauthorized`` is ``Unauthorized``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from generator.catalogue import Member, ProblemType, escape, header, member, read_types
from generator.problems import Problems

__all__ = ["FALLBACK", "ErrorClass", "Errors", "read_error_classes"]

#: The class for a status no other class is chosen by.
FALLBACK = "ServerError"
#: Names the clients' packages already export; a problem type's class must not take one.
_TAKEN_CLASSES = frozenset(
    {"ApiError", "TransportError", "ProblemError", "FieldProblem", "Client", "Retry", "ToolOutcome", "HttpClient"}
    | {"RetryPolicy", "ClientOptions", "Http", "Api", "Tools", "Prompts", "CallTarget", "Error", "models"}
)


@dataclass(frozen=True, slots=True)
class ErrorClass:
    """One exception class of a generated client, with the accessors it adds to its parent's."""

    name: str
    parent: str
    #: The status that chooses this class for a type the client does not know (status classes only).
    status: int | None
    #: The reason phrase of ``status``, or of the type's status for a type class.
    phrase: str
    problem_type: ProblemType | None = None
    members: tuple[Member, ...] = ()
    headers: tuple[Member, ...] = ()

    @property
    def accessors(self) -> tuple[Member, ...]:
        return self.members + self.headers

    @property
    def summary(self) -> str:
        """What the class stands for, in a line (Markdown)."""
        if self.problem_type is not None:
            return f"{self.problem_type.status} `{self.problem_type.slug}`: {self.problem_type.title.rstrip('.')}."
        if self.status is not None:
            return f"Any {self.status} {self.phrase}."
        return "A status this client has no class for."

    @property
    def details(self) -> str:
        """What the class adds to its summary (Markdown), possibly nothing."""
        if self.problem_type is None and self.name == FALLBACK:
            return "A known problem type of such a status is a subclass."
        if self.problem_type is None:
            return "Each known problem type is a subclass; an unknown type is this class itself."
        details = self.problem_type.description.strip()
        if self.status is not None:
            also = f"Also any {self.status} of a problem type this client does not know."
            details = f"{details.rstrip('.')}. {also}" if details else also
        return details


@dataclass(frozen=True, slots=True)
class Errors:
    """Every exception class below the clients' ``ProblemError``, parents before children."""

    classes: tuple[ErrorClass, ...]
    #: Every catalogued type, ordered by status then slug.
    types: tuple[ProblemType, ...] = ()

    @property
    def by_status(self) -> tuple[ErrorClass, ...]:
        return tuple(c for c in self.classes if c.status is not None)

    @property
    def by_type(self) -> tuple[ErrorClass, ...]:
        return tuple(c for c in self.classes if c.problem_type is not None)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.classes)

    @property
    def kinds(self) -> frozenset[str]:
        return frozenset(m.kind for c in self.classes for m in c.accessors)

    def tree(self, accessor: Callable[[Member], str]) -> list[str]:
        """The class tree below ``ProblemError`` as lines of text, each class with what picks it."""
        rows: list[tuple[str, str]] = []
        tops = [c for c in self.classes if c.parent not in self.names]
        for i, top in enumerate(tops):
            last = i == len(tops) - 1
            rows.append((("└── " if last else "├── ") + top.name, self._label(top, accessor)))
            children = [c for c in self.classes if c.parent == top.name]
            for j, child in enumerate(children):
                branch = ("    " if last else "│   ") + ("└── " if j == len(children) - 1 else "├── ")
                rows.append((branch + child.name, self._label(child, accessor)))
        width = max((len(left) for left, _ in rows), default=0) + 2
        return [f"{left:<{width}}{label}".rstrip() for left, label in rows]

    @staticmethod
    def _label(cls: ErrorClass, accessor: Callable[[Member], str]) -> str:
        parts = []
        if cls.status is not None:
            parts.append(str(cls.status))
        elif cls.name == FALLBACK:
            parts.append("any other status")
        if cls.problem_type is not None:
            parts.append(cls.problem_type.slug)
        label = ", ".join(parts)
        if cls.accessors:
            label += ", with " + ", ".join(accessor(m) for m in cls.accessors)
        return label


_STATUS_CLASSES: tuple[tuple[int, str, str], ...] = (
    (400, "BadRequest", "Bad Request"),
    (401, "Unauthorized", "Unauthorized"),
    (403, "Forbidden", "Forbidden"),
    (404, "NotFound", "Not Found"),
    (408, "RequestTimeout", "Request Timeout"),
    (409, "Conflict", "Conflict"),
    (413, "PayloadTooLarge", "Content Too Large"),
    (415, "UnsupportedMediaType", "Unsupported Media Type"),
    (422, "UnprocessableContent", "Unprocessable Content"),
    (429, "TooManyRequests", "Too Many Requests"),
    (431, "RequestHeaderFieldsTooLarge", "Request Header Fields Too Large"),
    (502, "BadGateway", "Bad Gateway"),
    (503, "ServiceUnavailable", "Service Unavailable"),
    (504, "GatewayTimeout", "Gateway Timeout"),
)
#: Accessors status classes had before the catalogue existed, kept so that code using them still runs.
_STATUS_MEMBERS = {409: (member("candidates", "strings", "Qualified names (`server.name`) that match."),)}
_STATUS_HEADERS = {429: (header("Retry-After"),), 503: (header("Retry-After"),)}


def _pascal(slug: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", slug) if part)


def _adding(cls: ErrorClass, members: tuple[Member, ...], headers: tuple[Member, ...]) -> ErrorClass:
    has = {m.py_name for m in cls.accessors}
    return replace(
        cls,
        members=cls.members + tuple(m for m in members if m.py_name not in has),
        headers=cls.headers + tuple(m for m in headers if m.py_name not in has),
    )


def _beyond(child: ErrorClass, parent: ErrorClass) -> ErrorClass:
    """``child`` without the accessors it inherits from ``parent``."""
    has = {m.py_name for m in parent.accessors}
    return replace(
        child,
        members=tuple(m for m in child.members if m.py_name not in has),
        headers=tuple(m for m in child.headers if m.py_name not in has),
    )


def read_error_classes(schemas: Mapping[str, Any], problems: Problems) -> Errors:
    """The exception classes for the catalogue among ``schemas``; without one, the status classes alone."""
    where, types = read_types(schemas, problems)
    tops: dict[str, ErrorClass] = {}
    by_status: dict[int, str] = {}
    for status, name, phrase in _STATUS_CLASSES:
        members, headers = _STATUS_MEMBERS.get(status, ()), _STATUS_HEADERS.get(status, ())
        tops[name] = ErrorClass(name, "ProblemError", status, phrase, members=members, headers=headers)
        by_status[status] = name
    tops[FALLBACK] = ErrorClass(FALLBACK, "ProblemError", None, "")
    children: dict[str, list[ErrorClass]] = {name: [] for name in tops}
    for problem_type in types:
        name = _pascal(problem_type.slug)
        parent = by_status.get(problem_type.status, FALLBACK)
        here = f"{where}/types/{escape(problem_type.slug)}"
        if name == parent:
            # Named like its status's class: that class stands for the type and reads its members.
            stands_for = tops[name].problem_type
            if stands_for is not None:
                problems.error(here, f"class {name} already stands for {stands_for.slug!r}")
                continue
            top = replace(tops[name], problem_type=problem_type)
            tops[name] = _adding(top, problem_type.members, problem_type.headers)
        elif name in _TAKEN_CLASSES or name in tops or any(name == c.name for cs in children.values() for c in cs):
            problems.error(here, f"its class name {name} is taken by another name of the client")
        else:
            child = ErrorClass(name, parent, None, tops[parent].phrase, problem_type)
            children[parent].append(_adding(child, problem_type.members, problem_type.headers))
    ordered: list[ErrorClass] = []
    for name, top in tops.items():
        ordered.append(top)
        ordered.extend(_beyond(child, top) for child in children[name])
    return Errors(classes=tuple(ordered), types=types)
