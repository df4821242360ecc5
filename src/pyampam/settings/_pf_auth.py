"""Read the three Azure MFA SDK credentials out of the C# source of ``pf_auth.cs``."""

from __future__ import annotations

import bisect
import codecs
import os
import re
from typing import Final, NamedTuple

from pyampam.exceptions import SettingsError
from pyampam.settings._credentials import SdkCredentials

__all__ = ["load_pf_auth", "parse_pf_auth"]

_KEYS: Final = ("LICENSE_KEY", "GROUP_KEY", "CERT_PASSWORD")

# The SDK's pf_auth.cs is a few tens of KiB; anything near this size is the wrong file, and the
# cap keeps a mistaken path (a disk image, /dev/zero) from eating memory.
_MAX_SIZE: Final = 4 * 1024 * 1024

# Interpolated strings inside interpolation holes are lexed recursively; the cap turns hostile
# input into a SettingsError instead of a RecursionError.
_MAX_NESTING: Final = 16

_REFETCH: Final = (
    "the file was never filled in; download the SDK again from the MFA provider's portal "
    "and use the pf/pf_auth.cs inside it"
)
_FROM_SDK: Final = "take pf/pf_auth.cs from the Azure MFA SDK ZIP again"

# C# line terminators (the spec's list, not Python's longer one from str.splitlines).
_BREAKS: Final = "\r\n\x85\u2028\u2029"
_NEWLINE = re.compile("\r\n|[\r\n\x85\u2028\u2029]")
_NEWLINE_BYTES = re.compile(rb"\r\n?|\n")

_BOMS: Final = (
    # UTF-32 first: its little-endian mark begins with the UTF-16 one.
    (codecs.BOM_UTF32_LE, "utf-32-le", "UTF-32"),
    (codecs.BOM_UTF32_BE, "utf-32-be", "UTF-32"),
    (codecs.BOM_UTF8, "utf-8", "UTF-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "UTF-16"),
)


def parse_pf_auth(source: str | bytes) -> SdkCredentials:
    """Return the credentials declared in the C# source of ``pf_auth.cs``.

    ``source`` is the file's text, or its raw bytes. Bytes are decoded by their byte-order mark
    (UTF-8, UTF-16 LE/BE, UTF-32 LE/BE); without one as UTF-8, and if that fails as Windows-1252,
    the "ANSI" code page western Windows editors save in.

    The source is tokenized like C# (comments, every string and character literal syntax,
    preprocessor lines), so commented-out declarations and text inside other strings are never
    read. ``LICENSE_KEY``, ``GROUP_KEY`` and ``CERT_PASSWORD`` are taken from field or property
    declarations of type ``string`` (any modifiers, any namespace or class) whose value is a
    string literal, or literals joined with ``+``. Declarations inside method bodies are ignored.

    Raises :class:`~pyampam.exceptions.SettingsError` (with ``key`` and ``line`` where they are
    known) when the input is not text, is over 4 MiB, cannot be tokenized, lacks a key, holds a
    placeholder, defines a key twice with different values or gives one a value that is not a
    string literal. Messages never contain the values. Raises :class:`TypeError` when
    ``source`` is neither ``str`` nor ``bytes``.
    """
    return _parse(source, path=None)


def load_pf_auth(path: str | os.PathLike[str]) -> SdkCredentials:
    """Read ``pf_auth.cs`` at ``path`` and return its credentials, as :func:`parse_pf_auth` does.

    Every :class:`~pyampam.exceptions.SettingsError` carries ``path``, including those for a
    missing file, a folder or a file that may not be read. Files over 4 MiB are refused
    without reading further.
    """
    name = os.fsdecode(path)
    try:
        with open(path, "rb") as file:
            data = file.read(_MAX_SIZE + 1)
    except FileNotFoundError as exc:
        raise SettingsError(
            f"there is no such file: {_FROM_SDK} (unpacked, it is pf/pf_auth.cs)", path=name
        ) from exc
    except IsADirectoryError as exc:
        raise SettingsError(_folder_message(), path=name) from exc
    except PermissionError as exc:
        if os.path.isdir(path):  # Windows reports a folder as a permission problem
            raise SettingsError(_folder_message(), path=name) from exc
        raise SettingsError(
            "permission denied: run as a user allowed to read it (it holds secrets, so only "
            "administrators and the MIM Service account should be)",
            path=name,
        ) from exc
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise SettingsError(f"cannot read the file ({reason})", path=name) from exc
    except ValueError as exc:  # what open() raises for a path with a NUL character in it
        raise SettingsError("this path contains a NUL character: check it", path=name) from exc
    return _parse(data, path=name)


def _folder_message() -> str:
    return "this is a folder: give the path of pf_auth.cs itself (pf/pf_auth.cs in the SDK)"


def _parse(source: str | bytes, *, path: str | None) -> SdkCredentials:
    src = _decode(source, path)
    lexer = _Lexer(src)
    tokens = lexer.run()
    collector = _Collector(src, tokens, lexer.mentions)
    collector.run()
    return collector.credentials()


# --- decoding ---------------------------------------------------------------------------------


class _Source:
    """Decoded text and where it came from, to put file and line into errors."""

    def __init__(self, text: str, path: str | None) -> None:
        self.text = text
        self.path = path
        self._line_starts: list[int] | None = None

    def line_of(self, offset: int) -> int:
        if self._line_starts is None:
            # Built on first need: most inputs only ask for the lines of three declarations.
            self._line_starts = [m.end() for m in _NEWLINE.finditer(self.text)]
        return bisect.bisect_right(self._line_starts, offset) + 1

    def error(
        self,
        message: str,
        *,
        offset: int | None = None,
        line: int | None = None,
        key: str | None = None,
    ) -> SettingsError:
        if offset is not None:
            line = self.line_of(offset)
        return SettingsError(message, path=self.path, line=line, key=key)


def _decode(source: str | bytes, path: str | None) -> _Source:
    checked: object = source  # annotations do not stop callers passing anything
    if isinstance(checked, str):
        if len(checked) > _MAX_SIZE:
            raise SettingsError(_too_large(), path=path)
        text = checked.removeprefix("\ufeff")
    elif isinstance(checked, bytes):
        if len(checked) > _MAX_SIZE:
            raise SettingsError(_too_large(), path=path)
        text = _decode_bytes(checked, path)
    else:
        raise TypeError(f"pf_auth.cs source must be str or bytes, not {type(checked).__name__}")
    src = _Source(text, path)
    nul = text.find("\0")
    if nul >= 0:
        raise src.error(
            f"pf_auth.cs contains NUL characters, so it is not C# source: {_FROM_SDK}",
            offset=nul,
        )
    if not text.strip():
        raise src.error(f"pf_auth.cs is empty: {_FROM_SDK}")
    return src


def _too_large() -> str:
    return (
        f"the input is over {_MAX_SIZE // (1024 * 1024)} MiB, far larger than pf_auth.cs from "
        "the SDK (tens of KiB): check that this is the right file"
    )


def _decode_bytes(data: bytes, path: str | None) -> str:
    for bom, codec, name in _BOMS:
        if data.startswith(bom):
            body = data[len(bom) :]
            try:
                return body.decode(codec)
            except UnicodeDecodeError as exc:
                valid = body[: exc.start].decode(codec, "replace")
                raise SettingsError(
                    f"pf_auth.cs starts with a {name} byte-order mark but is not valid {name} "
                    f"text: save it again as UTF-8, or {_FROM_SDK}",
                    path=path,
                    line=len(_NEWLINE.findall(valid)) + 1,
                ) from exc
    if data.startswith(b"PK\x03\x04"):
        raise SettingsError(
            "this is a ZIP archive (the SDK download itself?), not pf_auth.cs: "
            "extract pf/pf_auth.cs from it and read that",
            path=path,
        )
    nul = data.find(b"\0")
    if nul >= 0:
        raise SettingsError(
            "pf_auth.cs contains NUL bytes, so it is binary data, or UTF-16 text saved without "
            f"a byte-order mark: save it again as UTF-8, or {_FROM_SDK}",
            path=path,
            line=len(_NEWLINE_BYTES.findall(data, 0, nul)) + 1,
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        # What Windows editors save as "ANSI" on western systems; it leaves 5 bytes undefined.
        return data.decode("cp1252")
    except UnicodeDecodeError as exc:
        raise SettingsError(
            "pf_auth.cs is neither UTF-8 nor Windows-1252 text (binary data?): save it again "
            f"as UTF-8, or {_FROM_SDK}",
            path=path,
            line=len(_NEWLINE_BYTES.findall(data, 0, exc.start)) + 1,
        ) from exc


# --- tokens -----------------------------------------------------------------------------------


# A token is (kind, text, start, flavor): kind is "ident", "punct", "number", "char" or "string";
# text is as written (identifiers with their \u escapes resolved); start is the offset in the
# source, turned into a line number only when needed; flavor names a string's literal syntax,
# which decides how to decode it. Plain tuples, because a large file holds hundreds of thousands
# of tokens and building NamedTuples doubled the time to lex it.
_Token = tuple[str, str, int, str]
_KIND: Final = 0
_TEXT: Final = 1
_START: Final = 2
_FLAVOR: Final = 3


_UNICODE_ESCAPE = r"\\u[0-9A-Fa-f]{4}|\\U[0-9A-Fa-f]{8}"
# White space is consumed in front of each token, which halves the matches on ordinary code;
# the common tokens come first, and the last two alternatives make every match succeed.
_TOKEN = re.compile(
    r"\s*(?:"
    + "|".join(
        (
            rf"(?P<ident>@?(?:[^\W\d]|{_UNICODE_ESCAPE})\w*(?:(?:{_UNICODE_ESCAPE})\w*)*)",
            # Operators whose `=` is not an assignment, `::`, then any character that cannot
            # start a literal, comment or directive; other operators may split, harmlessly.
            r"""(?P<punct>=>|[-+*/%&|^!<>=?]?=|::|[^\s"'/@$#\d])""",
            r"(?P<number>\d(?:\w|\.\d)*)",
            r'(?P<raw>\$*"""+)',
            rf'(?P<regular>"[^"\\{_BREAKS}]*(?:\\[^{_BREAKS}][^"\\{_BREAKS}]*)*")',
            rf"(?P<comment>//[^{_BREAKS}]*|/\*[\s\S]*?\*/)",
            r'(?P<interpolated>\$@"|@\$"|\$")',
            # The lookahead refuses to end on the first half of a doubled quote.
            r'(?P<verbatim>@"[^"]*(?:""[^"]*)*"(?!"))',
            rf"(?P<char>'(?:[^'\\{_BREAKS}]|\\[^{_BREAKS}])+')",
            r"(?P<hash>\#)",
            r"(?P<open_comment>/\*)",
            r'(?P<open_verbatim>@")',
            r'(?P<open_regular>")',
            r"(?P<open_char>')",
            r"(?P<other>\S)",  # `/`, `@` or `$` on its own
            r"(?P<end>\Z)",
        )
    )
    + ")"
)
# Token kinds whose whole text the pattern matched, with the kind and flavor they become.
_PLAIN_KINDS: Final = {
    "regular": ("string", "regular"),
    "verbatim": ("string", "verbatim"),
    "char": ("char", ""),
    "other": ("punct", ""),
}
_REST_OF_LINE = re.compile(f"[^{_BREAKS}]*")
_INTERPOLATED_RUN = re.compile(f'[^"\\\\{{}}{_BREAKS}]*')
_VERBATIM_INTERPOLATED_RUN = re.compile('[^"{}]*')
_ID_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")


class _Lexer:
    """Splits C# source into tokens, dropping white space, comments and preprocessor lines."""

    def __init__(self, src: _Source) -> None:
        self.src = src
        self.text = src.text
        self.tokens: list[_Token] = []
        # Where a key is first named inside a comment: a hint when the key is missing.
        self.mentions: dict[str, int] = {}

    def run(self) -> list[_Token]:
        text = self.text
        size = len(text)
        append = self.tokens.append
        special = self._special
        pos = 0
        while pos < size:
            # Since every position matches, finditer walks token by token; it is restarted
            # only after the rare tokens whose end is found by hand.
            for m in _TOKEN.finditer(text, pos):
                kind = m.lastgroup
                # The common kinds inline: this loop runs once per token of the whole file.
                if kind == "ident":
                    word = m.group(kind)
                    if "\\" in word:
                        word = _identifier(word)
                    append(("ident", word, m.start(kind), ""))
                elif kind in {"punct", "number"}:
                    append((kind, m.group(kind), m.start(kind), ""))
                else:
                    token, pos = special(m, 0)
                    if token is not None:
                        append(token)
                    if pos != m.end():
                        break
            else:
                break
        return self.tokens

    def _step(self, pos: int, nesting: int) -> tuple[_Token | None, int]:
        m = _TOKEN.match(self.text, pos)
        if m is None:  # pragma: no cover - the last alternatives match anything
            raise self.src.error("cannot read the text here", offset=pos)
        kind = m.lastgroup
        if kind == "ident":
            return ("ident", _identifier(m.group(kind)), m.start(kind), ""), m.end()
        if kind in {"punct", "number"}:
            return (kind, m.group(kind), m.start(kind), ""), m.end()
        return self._special(m, nesting)

    def _special(self, m: re.Match[str], nesting: int) -> tuple[_Token | None, int]:
        """Handle every token kind but the common three; ``None`` for text that is no token."""
        kind = m.lastgroup or "end"
        pos = m.start(kind)
        end = m.end()
        if kind in _PLAIN_KINDS:
            token_kind, flavor = _PLAIN_KINDS[kind]
            return (token_kind, m.group(kind), pos, flavor), end
        if kind == "comment":
            comment = m.group(kind)
            for key in _KEYS:
                if key in comment and key not in self.mentions:
                    self.mentions[key] = pos
            return None, end
        if kind == "hash":
            if self._at_line_start(pos):
                rest = _REST_OF_LINE.match(self.text, end)
                return None, rest.end() if rest is not None else end
            return ("punct", "#", pos, ""), end
        if kind in {"interpolated", "raw"}:
            return self._long_string(m, kind, pos, nesting)
        if kind == "end":
            return None, end
        raise self._broken(kind, pos)

    def _long_string(
        self, m: re.Match[str], kind: str, pos: int, nesting: int
    ) -> tuple[_Token, int]:
        """Find the end of an interpolated or raw string, which no single pattern can."""
        text = self.text
        end = m.end()
        if kind == "raw":
            quotes = m.group(kind).lstrip("$")
            close = text.find(quotes, end)
            if close < 0:
                raise self._unclosed(pos, 'a raw string literal ("""...""") is never closed')
            end = close + len(quotes)
            return ("string", text[pos:end], pos, "raw"), end
        verbatim = end - pos == 3
        end = self._interpolated(pos, end, verbatim=verbatim, nesting=nesting)
        flavor = "interpolated_verbatim" if verbatim else "interpolated"
        return ("string", text[pos:end], pos, flavor), end

    def _broken(self, kind: str, pos: int) -> SettingsError:
        if kind == "open_comment":
            return self.src.error(
                "a /* comment starting here is never closed: add the closing */", offset=pos
            )
        if kind == "open_char":
            return self._unclosed(pos, "a character literal ('x') here is not closed or not valid")
        if kind == "open_verbatim":
            return self._unclosed(
                pos,
                'a verbatim string (@"...") starting here is never closed (inside it a quote '
                'is written "")',
            )
        return self._unclosed(
            pos,
            "a string literal starting here is never closed on its line (inside it a quote "
            'is written \\")',
        )

    def _at_line_start(self, pos: int) -> bool:
        text = self.text
        i = pos - 1
        while i >= 0 and text[i] not in _BREAKS and text[i].isspace():
            i -= 1
        return i < 0 or text[i] in _BREAKS

    def _unclosed(self, pos: int, what: str) -> SettingsError:
        key = None
        # Name the key when the broken literal is its value, for the `key` field of the error.
        if len(self.tokens) >= 2 and self.tokens[-1][_TEXT] in ("=", "=>"):
            name = self.tokens[-2][_TEXT].removeprefix("@")
            if name in _KEYS:
                key = name
        return self.src.error(f"{what}: fix the quotes, or {_FROM_SDK}", offset=pos, key=key)

    def _interpolated(self, start: int, pos: int, *, verbatim: bool, nesting: int) -> int:
        if nesting >= _MAX_NESTING:
            raise self.src.error("interpolated strings are nested too deeply here", offset=start)
        text = self.text
        size = len(text)
        run = _VERBATIM_INTERPOLATED_RUN if verbatim else _INTERPOLATED_RUN
        while True:
            m = run.match(text, pos)
            if m is not None:
                pos = m.end()
            if pos >= size:
                raise self._unclosed(start, 'an interpolated string ($"...") is never closed')
            char = text[pos]
            if char == '"':
                if verbatim and text.startswith('""', pos):
                    pos += 2
                    continue
                return pos + 1
            if char in "{}":
                if text.startswith(char * 2, pos):
                    pos += 2
                elif char == "{":
                    pos = self._hole(pos + 1, start, verbatim=verbatim, nesting=nesting)
                else:
                    pos += 1
                continue
            if char == "\\" and pos + 1 < size and text[pos + 1] not in _BREAKS:
                pos += 2
                continue
            raise self._unclosed(start, 'an interpolated string ($"...") is never closed')

    def _hole(self, pos: int, start: int, *, verbatim: bool, nesting: int) -> int:
        """Skip one ``{expression[,alignment][:format]}``, returning the offset after it."""
        text = self.text
        depth = 0
        while pos < len(text):
            token, pos = self._step(pos, nesting + 1)
            if token is None or token[_KIND] != "punct":
                continue
            t = token[_TEXT]
            if t in ("(", "[", "{"):
                depth += 1
            elif t in (")", "]"):
                depth = max(depth - 1, 0)
            elif t == "}":
                if depth == 0:
                    return pos
                depth -= 1
            elif t == ":" and depth == 0:
                close = text.find("}", pos)
                if close >= 0 and (verbatim or not any(c in _BREAKS for c in text[pos:close])):
                    return close + 1
                break
        raise self._unclosed(start, 'an interpolated string ($"...") is never closed')


def _identifier(raw: str) -> str:
    if "\\" not in raw:
        return raw

    def unescape(m: re.Match[str]) -> str:
        code = int(m.group(1) or m.group(2), 16)
        return chr(code) if code <= 0x10FFFF else m.group()

    return _ID_ESCAPE.sub(unescape, raw)


# --- declarations -----------------------------------------------------------------------------

_MODIFIERS: Final = frozenset(
    {
        "abstract", "async", "const", "event", "extern", "file", "fixed", "internal", "new",
        "override", "partial", "private", "protected", "public", "readonly", "ref", "required",
        "scoped", "sealed", "static", "unsafe", "virtual", "volatile",
    }
)  # fmt: skip
_KEYWORDS: Final = frozenset(
    {
        "abstract", "as", "base", "bool", "break", "byte", "case", "catch", "char", "checked",
        "class", "const", "continue", "decimal", "default", "delegate", "do", "double", "else",
        "enum", "event", "explicit", "extern", "false", "finally", "fixed", "float", "for",
        "foreach", "goto", "if", "implicit", "in", "int", "interface", "internal", "is", "lock",
        "long", "namespace", "new", "null", "object", "operator", "out", "override", "params",
        "private", "protected", "public", "readonly", "ref", "return", "sbyte", "sealed",
        "short", "sizeof", "stackalloc", "static", "string", "struct", "switch", "this",
        "throw", "true", "try", "typeof", "uint", "ulong", "unchecked", "unsafe", "ushort",
        "using", "virtual", "void", "volatile", "while",
    }
)  # fmt: skip
_PREDEFINED_TYPES: Final = frozenset(
    {
        "bool", "byte", "char", "decimal", "double", "float", "int", "long", "object", "sbyte",
        "short", "string", "uint", "ulong", "ushort", "void",
    }
)  # fmt: skip
_TYPE_BODY_KEYWORDS: Final = frozenset({"class", "interface", "namespace", "record", "struct"})
_STRING_TYPES: Final = frozenset({"string", "String", "System.String", "global::System.String"})
_OPENERS: Final = frozenset({"(", "[", "{"})
_CLOSERS: Final = frozenset({")", "]", "}"})


class _Declaration(NamedTuple):
    name: _Token
    type_tokens: list[_Token]
    initializer: list[_Token] | None  # None when declared without a value


class _Definition(NamedTuple):
    value: str | None  # None for `null` or `default`
    line: int


class _Collector:
    """Finds the declarations of the three keys among the members of types and namespaces."""

    def __init__(self, src: _Source, tokens: list[_Token], mentions: dict[str, int]) -> None:
        self.src = src
        self.tokens = tokens
        self.mentions = mentions
        self.definitions: dict[str, list[_Definition]] = {key: [] for key in _KEYS}
        self.valueless: dict[str, int] = {}
        self.names: list[tuple[str, int]] = []

    def run(self) -> None:  # noqa: PLR0912 - one loop keeps the hot state in locals
        tokens = self.tokens
        count = len(tokens)
        segment: list[_Token] = []  # the member declaration being read
        nesting = 0  # brackets open inside it
        assigned = False  # it has reached its `=` or `=>`
        i = 0
        while i < count:
            token = tokens[i]
            i += 1
            t = token[_TEXT]
            if token[_KIND] != "punct":
                segment.append(token)
            elif nesting:
                if t in _OPENERS:
                    nesting += 1
                elif t in _CLOSERS:
                    nesting -= 1
                segment.append(token)
            elif t == ";":
                self._member(segment)
                segment, assigned = [], False
            elif t == "{":
                if assigned:  # an initializer's braces: a collection, lambda or switch
                    nesting = 1
                    segment.append(token)
                elif _opens_type_body(segment):
                    segment = []
                else:
                    # A method, accessor or enum body: statements there are not members.
                    i = _skip_block(tokens, i - 1)
                    if i < count and tokens[i][_TEXT] == "=":
                        continue  # `{ get; } = "value";`: keep reading the property
                    self._member(segment)
                    segment = []
            elif t == "}":
                self._member(segment)  # tolerate a last member without its `;`
                segment, assigned = [], False
            else:
                if t in ("=", "=>"):
                    assigned = True
                elif t in _OPENERS:
                    nesting = 1
                segment.append(token)
        self._member(segment)

    def _member(self, segment: list[_Token]) -> None:
        if segment:
            for declaration in _declarators(segment):
                self._record(declaration)

    def _record(self, declaration: _Declaration) -> None:
        name = declaration.name[_TEXT].removeprefix("@")
        line = self.src.line_of(declaration.name[_START])
        self.names.append((name, line))
        if name not in _KEYS:
            return
        if declaration.initializer is None:
            self.valueless.setdefault(name, line)
            return
        type_text = "".join(token[_TEXT] for token in declaration.type_tokens)
        if type_text.removesuffix("?") not in _STRING_TYPES:
            raise self.src.error(
                f"{name} is declared as `{type_text}`, not as a string; pf_auth.cs from the SDK "
                f'has `private const string {name} = "...";`: {_FROM_SDK}',
                line=line,
                key=name,
            )
        value = self._evaluate(declaration.initializer, name, line)
        self.definitions[name].append(_Definition(value, line))

    def _evaluate(self, tokens: list[_Token], key: str, line: int) -> str | None:
        """Join string literals and ``+``, in parentheses or not; refuse anything else."""
        if len(tokens) == 1 and tokens[0][_TEXT] in ("null", "default"):
            return None
        parts: list[str] = []
        open_parens = 0
        expect_operand = True
        for token in tokens:
            if token[_TEXT] == ";":
                break  # an unclosed `(` let the declaration run on past its end
            if expect_operand:
                if token[_TEXT] == "(":
                    open_parens += 1
                elif token[_KIND] == "string":
                    parts.append(_string_value(self.src, token, key))
                    expect_operand = False
                else:
                    raise self._not_literal(token, key)
            elif token[_TEXT] == "+":
                expect_operand = True
            elif token[_TEXT] == ")" and open_parens:
                open_parens -= 1
            else:
                raise self.src.error(
                    f"the value of {key} is followed by something other than `+` or `;`: "
                    "is a semicolon missing?",
                    offset=token[_START],
                    key=key,
                )
        if expect_operand or open_parens:
            raise self.src.error(
                f"the value of {key} is missing or incomplete after `=`: write it as "
                f'`{key} = "...";`',
                line=line,
                key=key,
            )
        return "".join(parts)

    def _not_literal(self, token: _Token, key: str) -> SettingsError:
        if token[_KIND] == "number":
            what = "a number"
        elif token[_KIND] == "char":
            what = "a character literal"
        else:
            what = "computed by code or taken from another name"
        return self.src.error(
            f"the value of {key} is {what}, not a string literal; pyampam reads only values "
            f"written out in pf_auth.cs: copy the value from the original file, or {_FROM_SDK}",
            offset=token[_START],
            key=key,
        )

    def credentials(self) -> SdkCredentials:
        values: dict[str, str] = {}
        for key in _KEYS:
            definitions = self.definitions[key]
            if not definitions:
                raise self._missing(key)
            first = definitions[0]
            for other in definitions[1:]:
                if other.value != first.value:
                    raise self.src.error(
                        f"{key} is defined more than once with different values, on lines "
                        f"{first.line} and {other.line}: keep only the one from the SDK download",
                        line=other.line,
                        key=key,
                    )
            if first.value is None:
                raise self.src.error(f"{key} is null: {_REFETCH}", line=first.line, key=key)
            if not first.value.strip():
                raise self.src.error(f"{key} is empty: {_REFETCH}", line=first.line, key=key)
            if _is_placeholder(first.value):
                raise self.src.error(
                    f"{key} holds a placeholder, not a real value: {_REFETCH}",
                    line=first.line,
                    key=key,
                )
            values[key] = first.value
        return SdkCredentials(
            license_key=values["LICENSE_KEY"],
            group_key=values["GROUP_KEY"],
            cert_password=values["CERT_PASSWORD"],
        )

    def _missing(self, key: str) -> SettingsError:
        example = f'`private const string {key} = "...";`'
        if key in self.valueless:
            line = self.valueless[key]
            return self.src.error(
                f"{key} is declared without a value; pyampam reads only a value written in the "
                f"declaration, like {example} (not one set by a constructor or property body): "
                f"{_FROM_SDK}",
                line=line,
                key=key,
            )
        message = f"{key} is not defined; pf_auth.cs from the SDK declares it as {example}"
        hint_line: int | None = None
        for name, line in self.names:
            if name.upper() == key:
                message += f"; line {line} declares `{name}`, but C# names are case sensitive"
                hint_line = line
                break
        else:
            if key in self.mentions:
                hint_line = self.src.line_of(self.mentions[key])
                message += f"; it is named only inside a comment, on line {hint_line}"
        if key == "CERT_PASSWORD":
            thumbprints = [(n, line) for n, line in self.names if "THUMBPRINT" in n.upper()]
            if thumbprints:
                name, line = thumbprints[0]
                hint_line = hint_line or line
                message += (
                    f"; line {line} declares `{name}`: this copy was changed to use a "
                    "certificate thumbprint instead of the password"
                )
            else:
                message += (
                    "; copies of pf_auth.cs changed to use a certificate thumbprint instead "
                    "lack it too"
                )
            message += (
                ". pyampam needs the password that protects cert_key.p12: take pf/pf_auth.cs "
                "from the original SDK download"
            )
        else:
            message += f": check that this is pf_auth.cs, or {_FROM_SDK}"
        return self.src.error(message, line=hint_line, key=key)


def _opens_type_body(segment: list[_Token]) -> bool:
    """Whether a ``{`` after ``segment`` opens a namespace or type, whose members we read."""
    brackets = 0  # attribute sections may hold `(` and keywords of their own
    for token in segment:
        t = token[_TEXT]
        if t == "[":
            brackets += 1
        elif t == "]":
            brackets = max(brackets - 1, 0)
        elif brackets:
            continue
        elif t == "(":
            # A method: `where T : class` constraints come after its parameter list.
            return False
        elif token[_KIND] == "ident" and t in _TYPE_BODY_KEYWORDS:
            return True
    return False


def _skip_block(tokens: list[_Token], i: int) -> int:
    """Return the index after the ``}`` matching the ``{`` at ``i`` (or the end)."""
    depth = 0
    for j in range(i, len(tokens)):
        t = tokens[j][_TEXT]
        if t == "{":
            depth += 1
        elif t == "}":
            depth -= 1
            if depth == 0:
                return j + 1
    return len(tokens)


def _skip_balanced(tokens: list[_Token], i: int, opener: str, closer: str) -> int:
    depth = 0
    for j in range(i, len(tokens)):
        t = tokens[j][_TEXT]
        if t == opener:
            depth += 1
        elif t == closer:
            depth -= 1
            if depth == 0:
                return j + 1
    return len(tokens)


def _declarators(segment: list[_Token]) -> list[_Declaration]:
    """Read ``[attributes] modifiers type name [= value], name [= value]...`` (or ``=>``)."""
    count = len(segment)
    i = 0
    while i < count and segment[i][_TEXT] == "[":
        i = _skip_balanced(segment, i, "[", "]")
    while i < count and segment[i][_KIND] == "ident" and segment[i][_TEXT] in _MODIFIERS:
        i += 1
    type_start = i
    i = _skip_type(segment, i)
    if i == type_start:
        return []
    type_tokens = segment[type_start:i]
    found: list[_Declaration] = []
    while i < count:
        name = segment[i]
        if name[_KIND] != "ident" or name[_TEXT] in _KEYWORDS:
            break
        i += 1
        if i == count or segment[i][_TEXT] == ",":
            found.append(_Declaration(name, type_tokens, None))
            i += 1
            continue
        if segment[i][_TEXT] == "=>":
            found.append(_Declaration(name, type_tokens, segment[i + 1 :]))
            break
        if segment[i][_TEXT] != "=":
            break  # a method, indexer or something else that is not a field
        end = _initializer_end(segment, i + 1)
        found.append(_Declaration(name, type_tokens, segment[i + 1 : end]))
        i = end + 1
    return found


def _skip_type(segment: list[_Token], i: int) -> int:
    """Return the index after a type name starting at ``i``, or ``i`` if there is none."""
    count = len(segment)
    if i >= count:
        return i
    kind, first, _, _ = segment[i]
    if kind != "ident" or (first in _KEYWORDS and first not in _PREDEFINED_TYPES):
        return i
    i += 1
    while i < count:
        t = segment[i][_TEXT]
        if t in (".", "::") and i + 1 < count and segment[i + 1][_KIND] == "ident":
            i += 2
        elif t == "<":
            i = _skip_balanced(segment, i, "<", ">")
        else:
            break
    return _skip_type_suffixes(segment, i)


def _skip_type_suffixes(segment: list[_Token], i: int) -> int:
    """Skip the ``?``, ``*`` and ``[]`` or ``[,]`` that may follow a type name."""
    count = len(segment)
    while i < count:
        t = segment[i][_TEXT]
        if t in ("?", "*"):
            i += 1
            continue
        if t != "[":
            break
        j = i + 1
        while j < count and segment[j][_TEXT] == ",":
            j += 1
        if j >= count or segment[j][_TEXT] != "]":
            break
        i = j + 1
    return i


def _initializer_end(segment: list[_Token], i: int) -> int:
    depth = 0
    for j in range(i, len(segment)):
        t = segment[j][_TEXT]
        if t in _OPENERS:
            depth += 1
        elif t in _CLOSERS:
            depth -= 1
        elif t == "," and depth <= 0:
            return j
    return len(segment)


# --- string literals --------------------------------------------------------------------------

_SIMPLE_ESCAPES: Final = {
    "'": "'",
    '"': '"',
    "\\": "\\",
    "0": "\0",
    "a": "\a",
    "b": "\b",
    "e": "\x1b",  # C# 13
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
}
_ESCAPE = r"\\(?:u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})|x([0-9A-Fa-f]{1,4})|([\s\S]))"
_REGULAR_PART = re.compile(_ESCAPE)
_INTERPOLATED_PART = re.compile(r"\{\{|\}\}|\{|" + _ESCAPE)
_VERBATIM_INTERPOLATED_PART = re.compile(r'""|\{\{|\}\}|\{')
_SURROGATE = re.compile("[\ud800-\udfff]")


def _string_value(src: _Source, token: _Token, key: str) -> str:
    text = token[_TEXT]
    flavor = token[_FLAVOR]
    if flavor == "verbatim":
        value = text[2:-1].replace('""', '"')
    elif flavor == "regular":
        value = _unescape(src, token, key, text[1:-1], _REGULAR_PART)
    elif flavor == "interpolated":
        value = _unescape(src, token, key, text[2:-1], _INTERPOLATED_PART)
    elif flavor == "interpolated_verbatim":

        def unquote(m: re.Match[str]) -> str:
            if m.group() == "{":
                raise _holes(src, token, key)
            return m.group()[0]

        value = _VERBATIM_INTERPOLATED_PART.sub(unquote, text[3:-1])
    else:
        value = _raw_value(src, token, key)
    if _SURROGATE.search(value):
        # C# strings are UTF-16: an escaped surrogate pair is one character.
        value = value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")
        if _SURROGATE.search(value):
            raise src.error(
                f"the value of {key} holds half of a UTF-16 surrogate pair, which no real "
                f"credential does: {_FROM_SDK}",
                offset=token[_START],
                key=key,
            )
    return value


def _unescape(src: _Source, token: _Token, key: str, body: str, pattern: re.Pattern[str]) -> str:
    def replace(m: re.Match[str]) -> str:
        whole = m.group()
        if whole in ("{{", "}}"):
            return whole[0]
        if whole == "{":
            raise _holes(src, token, key)
        short, long, hexa, simple = m.group(1, 2, 3, 4)
        if short:
            return chr(int(short, 16))
        if long:
            code = int(long, 16)
            if code <= 0x10FFFF:
                return chr(code)
        elif hexa:
            return chr(int(hexa, 16))
        elif simple in _SIMPLE_ESCAPES:
            return _SIMPLE_ESCAPES[simple]
        raise src.error(
            f"the value of {key} has a backslash escape C# does not know (a literal backslash "
            "is written \\\\): fix it, or copy the value from the original pf_auth.cs",
            offset=token[_START],
            key=key,
        )

    return pattern.sub(replace, body) if "\\" in body or "{" in body or "}" in body else body


def _holes(src: _Source, token: _Token, key: str) -> SettingsError:
    return src.error(
        f"the value of {key} is an interpolated string with {{...}} holes, which pyampam does "
        'not evaluate: write it as a plain "..." string',
        offset=token[_START],
        key=key,
    )


def _raw_value(src: _Source, token: _Token, key: str) -> str:
    text = token[_TEXT]
    dollars = len(text) - len(text.lstrip("$"))
    quotes = len(text[dollars:]) - len(text[dollars:].lstrip('"'))
    body = text[dollars + quotes : len(text) - quotes]
    if dollars and "{" * dollars in body:
        raise _holes(src, token, key)
    if not _NEWLINE.search(body):
        return body
    # A multi-line raw string drops its first and last line and the closing line's indentation.
    pieces = _NEWLINE.split(body)
    breaks = _NEWLINE.findall(body)
    indent = pieces[-1]
    if pieces[0].strip() or indent.strip():
        raise src.error(
            f'the raw string (""") holding {key} must start and end on lines of their own: '
            'write the value as a plain "..." string',
            offset=token[_START],
            key=key,
        )
    lines = pieces[1:-1]
    out: list[str] = []
    for number, line in enumerate(lines):
        if line.startswith(indent):
            out.append(line[len(indent) :])
        elif not line.strip():
            out.append("")
        else:
            raise src.error(
                f'a line of the raw string (""") holding {key} is indented less than its '
                'closing quotes: write the value as a plain "..." string',
                offset=token[_START],
                key=key,
            )
        if number < len(lines) - 1:
            out.append(breaks[number + 1])
    return "".join(out)


# --- placeholders -----------------------------------------------------------------------------

_NOT_ALNUM = re.compile(r"[\W_]+")
_PLACEHOLDERS: Final = frozenset(
    {
        "CERT_PASSWORD", "CHANGE_ME", "CHANGEME", "DUMMY", "ENTER_KEY_HERE", "FIXME",
        "GROUP_KEY", "KEY", "LICENSE_KEY", "N_A", "NONE", "NULL", "PASSWORD", "PLACEHOLDER",
        "REPLACE_ME", "REPLACEME", "SECRET", "TBD", "TODO", "VALUE", "YOUR_CERT_PASSWORD",
        "YOUR_GROUP_KEY", "YOUR_LICENSE_KEY",
    }
)  # fmt: skip
_PLACEHOLDER_VERBS: Final = frozenset({"ENTER", "INSERT", "PASTE", "PUT", "YOUR"})
_PLACEHOLDER_NOUNS: Final = frozenset(
    {
        "CERT", "CERTIFICATE", "GROUP", "HERE", "KEY", "LICENCE", "LICENSE", "PASS",
        "PASSWORD", "PWD", "SECRET", "VALUE",
    }
)  # fmt: skip


def _is_placeholder(value: str) -> bool:
    """Whether ``value`` is filler text a real credential never is (``<Enter key here>``)."""
    words = [word for word in _NOT_ALNUM.split(value.upper()) if word]
    if not words:
        return True  # blank, or punctuation such as "..." or a masked "********"
    joined = "_".join(words)
    if joined in _PLACEHOLDERS or words[-1] == "HERE":
        return True
    if words[0] in _PLACEHOLDER_VERBS and not _PLACEHOLDER_NOUNS.isdisjoint(words[1:]):
        return True
    letters = "".join(words)
    return len(letters) >= 4 and len(set(letters)) == 1  # XXXXXXXXXXXX, 000000000000
