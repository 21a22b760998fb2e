"""Go spellings for the Go target: identifiers, string literals, struct tags and doc comments.

Doc comments are wrapped so that ``gofmt`` (whose Go 1.19 doc-comment reformatting sees an
indented line as code and ``[x]: url`` as a link) leaves them exactly as written.
"""

from __future__ import annotations

import json
import re
import textwrap

__all__ = ["doc_lines", "exported", "go_string", "json_tag_ok", "local", "sentence"]

#: Words Go spells in capitals (as golint and the standard library do).
_INITIALISMS = frozenset(
    {"api", "cpu", "dst", "http", "https", "id", "ip", "json", "jsonrpc", "mcp", "rpc", "sql", "tls", "ttl", "uri"}
    | {"sse", "url", "utc", "uuid", "www", "xml"}
)
_KEYWORDS = frozenset(
    {"break", "case", "chan", "const", "continue", "default", "defer", "else", "fallthrough", "for", "func", "go"}
    | {"goto", "if", "import", "interface", "map", "package", "range", "return", "select", "struct", "switch"}
    | {"type", "var"}
)
#: Names the generated method bodies use for themselves, so a parameter must not take them.
_BODY_NAMES = frozenset({"a", "args", "body", "c", "ctx", "err", "out", "path", "payload", "query", "t", "v"})
_PACKAGES = frozenset(
    {"bytes", "context", "errors", "fmt", "http", "io", "json", "rand", "strconv", "sync", "time", "url"}
)
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
_TAG_PUNCTUATION = set("!#$%&()*+-./:;<=>?@[]^_{|}~ ")
#: Starts of a comment line that gofmt would read as something other than paragraph text.
_RISKY_START = re.compile(r"^(\[|#\s|[-*+•]\s|\d+[.)]\s)")
_ARTICLES = frozenset({"a", "an", "the", "one", "every", "each", "any", "all"})


def _words(text: str) -> list[str]:
    return [w for part in re.split(r"[^A-Za-z0-9]+", text) for w in _WORD.findall(part)]


def _capital(word: str) -> str:
    return word.upper() if word.lower() in _INITIALISMS else word[:1].upper() + word[1:]


def exported(text: str) -> str:
    """An exported Go identifier: ``qualifiedName`` → ``QualifiedName``, ``uriTemplate`` → ``URITemplate``."""
    name = "".join(_capital(w) for w in _words(text)) or "X"
    return "X" + name if name[0].isdigit() else name


def local(text: str) -> str:
    """An unexported Go identifier for a parameter: ``server``, ``toolName``; never a keyword or a name in use."""
    words = _words(text)
    if not words:
        return "x"
    name = words[0].lower() + "".join(_capital(w) for w in words[1:])
    if name[0].isdigit():
        name = "x" + name
    return name + "Arg" if name in _KEYWORDS | _BODY_NAMES | _PACKAGES else name


def go_string(text: str) -> str:
    """A Go interpreted string literal (JSON's escapes are Go's, and UTF-8 passes through)."""
    return json.dumps(text, ensure_ascii=False)


def json_tag_ok(name: str) -> bool:
    """Whether ``encoding/json`` accepts ``name`` as the name in a struct tag."""
    return bool(name) and all(c.isalnum() or c in _TAG_PUNCTUATION for c in name) and "`" not in name


def sentence(name: str, text: str) -> str:
    """``Name is a …`` when the text starts with an article, else ``Name: …`` (a doc comment starts with the name)."""
    text = " ".join(str(text).split())
    if not text:
        return name + "."
    first = text.split(" ", 1)[0]
    if first.lower() in _ARTICLES and first[:1].isupper():
        text = text[:1].lower() + text[1:]
        return f"{name} is {text}" if text.endswith(".") else f"{name} is {text}."
    return f"{name}: {text}" if text.endswith(".") else f"{name}: {text}."


def doc_lines(text: str, width: int = 96) -> list[str]:
    """One paragraph as comment lines (without ``//``), none of which gofmt would read as markup."""
    text = " ".join(str(text).split())
    if not text:
        return []
    lines: list[str] = []
    for line in textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False):
        if lines and _RISKY_START.match(line):
            lines[-1] += " " + line
        else:
            lines.append(line)
    return lines
