"""Split a bash command line into the simple commands it would run, for permission rules.

A rule like ``Bash(git status)`` is judged against every simple command of a line, so
``git status && rm -rf x`` is not covered by it. This is a careful reader of bash's
syntax, not a shell: it understands quoting (``'…'``, ``"…"``, ``$'…'``, backslashes),
the list operators (``&&``, ``||``, ``;``, ``|``, ``|&``, ``&``, new lines), comments,
redirections (``>``, ``>>``, ``&>``, ``2>&1``, here-documents, ``<<<``), and the reserved
words of ``if``/``while``/``for`` lists. Whatever it cannot judge from the text alone is
reported in :attr:`ParsedBash.opaque` (a permission check then asks): subshells,
``$(…)``, backticks, ``<(…)``, arithmetic, ``eval``, ``bash -c``, ``source``, a command
name taken from a variable, function definitions, ``case``, ANSI-C escapes, and text
that does not parse. Commands found inside those constructs are still listed, so deny
rules see them; commands run by wrappers (``sudo``, ``env``, ``xargs``, ``find -exec``,
``timeout``, ...) are listed in :attr:`ParsedBash.inner` for the same reason.
"""

from __future__ import annotations

import re
from dataclasses import field

from opi_cli._util.records import record

__all__ = ["ParsedBash", "SimpleCommand", "parse_bash", "split_words"]

_MAX_DEPTH = 24
_BLANK = " \t"
_META = " \t\n;&|()<>"
_PREFIX_WORDS = frozenset({"!", "if", "then", "else", "elif", "do", "while", "until", "{", "time"})
_CLOSING_WORDS = frozenset({"fi", "done", "esac", "}"})
_SHELLS = frozenset({"bash", "sh", "zsh", "dash", "ksh", "mksh", "ash", "fish"})
_WRAPPERS = frozenset({"sudo", "doas", "env", "nohup", "nice", "ionice", "timeout", "time", "command",
                       "builtin", "exec", "xargs", "stdbuf", "setsid", "unbuffer", "chroot", "watch",
                       "strace", "ltrace", "caffeinate", "flock"})
_VALUE_OPTIONS: dict[str, tuple[str, ...]] = {
    "sudo": ("-u", "-g", "-C", "-p", "-r", "-t", "-U", "-h"),
    "doas": ("-u", "-C"),
    "nice": ("-n",),
    "xargs": ("-I", "-L", "-n", "-P", "-d", "-E", "-s", "-a"),
    "timeout": ("-s", "-k", "--signal", "--kill-after"),
}
_PLAIN = re.compile(r"[^\s;&|()<>\\'\"`$]+")
_DQ_PLAIN = re.compile(r'[^"\\`$]+')
_FD_PREFIX = re.compile(r"\d+|\{[A-Za-z_]\w*\}(?=[<>])")
_EMPTY_PARENS = re.compile(r"\(+[ \t]*\)")
_HARMLESS_TARGETS = frozenset({"/dev/null", "/dev/stdout", "/dev/stderr", "/dev/tty"})


@record
class SimpleCommand:
    """One simple command: its words after quote removal (leading ``NAME=value``
    assignments included, redirections left out) and the files it redirects output to."""

    words: tuple[str, ...]
    writes: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        return " ".join(self.words)


@record
class ParsedBash:
    """What a command line runs.

    Attributes:
        commands: every simple command in order, those inside ``$(…)``, subshells and
            process substitutions included.
        inner: commands run by wrappers, ``eval`` or ``bash -c`` (for deny and ask rules).
        opaque: why the line cannot be judged from its text alone (empty when it can).
    """

    commands: tuple[SimpleCommand, ...]
    inner: tuple[SimpleCommand, ...] = ()
    opaque: tuple[str, ...] = ()


class _Unparsable(Exception):
    pass


@record(frozen=False)
class _Word:
    parts: list[str] = field(default_factory=list)  # joined once: long words stay linear
    expands: bool = False  # an unquoted or double-quoted $, `…` or $(…) is part of it
    quoted: bool = False

    def add(self, text: str) -> None:
        self.parts.append(text)

    @property
    def text(self) -> str:
        if len(self.parts) > 1:
            self.parts[:] = ["".join(self.parts)]
        return self.parts[0] if self.parts else ""


@record(frozen=False)
class _Command:
    words: list[_Word] = field(default_factory=list)
    writes: list[str] = field(default_factory=list)


class _Parser:
    """A recursive reader over ``src``; nested parts share the result lists."""

    def __init__(self, src: str, out: _Result, depth: int = 0) -> None:
        self.src = src
        self.i = 0
        self.out = out
        self.depth = depth
        self.heredocs: list[tuple[str, bool, bool]] = []  # (delimiter, strip tabs, expands)
        self.cases = 0  # open `case … esac` blocks: there `pattern)` is no parenthesis
        if depth > _MAX_DEPTH:
            raise _Unparsable("nesting too deep")

    # -- helpers --------------------------------------------------------------------------
    def peek(self, k: int = 0) -> str:
        j = self.i + k
        return self.src[j] if j < len(self.src) else ""

    def starts(self, s: str) -> bool:
        return self.src.startswith(s, self.i)

    def nested(self, text: str) -> None:
        _Parser(text, self.out, self.depth + 1).parse_list(None)

    # -- lists of commands ----------------------------------------------------------------
    def parse_list(self, close: str | None) -> None:
        """Read commands until the end or the unquoted ``close`` character (consumed)."""
        cmd = _Command()
        while True:
            self.skip_blanks()
            c = self.peek()
            if not c:
                if close is not None:
                    raise _Unparsable(f"missing '{close}'")
                self.finish(cmd)
                return
            if c == ")" and self.cases and cmd.words:
                self.i += 1
                cmd = _Command()  # the patterns of a case branch are not a command
                continue
            if close is not None and c == close:
                self.i += 1
                self.finish(cmd)
                return
            if c == "#":
                while self.peek() and self.peek() != "\n":
                    self.i += 1
                continue
            if c == "\n":
                self.i += 1
                self.finish(cmd)
                cmd = _Command()
                self.read_heredocs()
                continue
            if c == ";":
                if self.starts(";;"):
                    self.out.opaque.append("case")
                    self.i += 1
                self.i += 1
                self.finish(cmd)
                cmd = _Command()
                continue
            if c in "&|" and not self.starts("&>"):
                self.i += 2 if self.starts("&&") or self.starts("||") or self.starts("|&") else 1
                self.finish(cmd)
                cmd = _Command()
                continue
            if c == "(":
                self.open_paren(cmd)
                continue
            if c == ")":
                raise _Unparsable("unexpected ')'")
            if self.redirection(cmd):
                continue
            word = self.read_word()
            if not word.quoted and (not cmd.words or self.all_prefix(cmd)):
                self.cases += (word.text == "case") - (word.text == "esac" and self.cases > 0)
            cmd.words.append(word)

    def open_paren(self, cmd: _Command) -> None:
        if cmd.words and not self.all_prefix(cmd):
            if len(cmd.words) == 1 and _EMPTY_PARENS.match(self.src, self.i):
                self.out.opaque.append("function definition")
                self.i = self.src.index(")", self.i) + 1
                cmd.words.clear()  # the body that follows is read as commands
                return
            raise _Unparsable("unexpected '('")
        if self.peek(1) == "(":  # (( arithmetic ))
            self.out.opaque.append("arithmetic")
            self.skip_parens()
            return
        self.i += 1
        self.out.opaque.append("subshell")
        self.parse_list(")")

    @staticmethod
    def all_prefix(cmd: _Command) -> bool:
        return all(not w.quoted and w.text in _PREFIX_WORDS for w in cmd.words)

    def skip_parens(self) -> None:
        """Skip from an opening parenthesis to its match (``((…))``), reading any
        substitution inside."""
        depth = 0
        while True:
            c = self.peek()
            if not c:
                raise _Unparsable("missing ')'")
            if c in "$`'\"\\":
                self.read_word_part(_Word())
                continue
            self.i += 1
            if c == "(":
                depth += 1
            elif c == ")":
                depth -= 1
                if depth == 0:
                    return

    def skip_blanks(self) -> None:
        while True:
            c = self.peek()
            if c in _BLANK and c:
                self.i += 1
            elif c == "\\" and self.peek(1) == "\n":
                self.i += 2
            else:
                return

    def finish(self, cmd: _Command) -> None:
        words = list(cmd.words)
        while words and not words[0].quoted and words[0].text in _PREFIX_WORDS:
            words.pop(0)
        if words and not words[0].quoted and words[0].text in _CLOSING_WORDS:
            words.pop(0)
        if not words:
            if cmd.writes:
                self.out.commands.append(SimpleCommand((), tuple(cmd.writes)))
            return
        head = words[0]
        if not head.quoted and head.text in ("for", "select"):
            return  # `for x in a b`: a loop header, not a command (its expansions were scanned)
        if not head.quoted and head.text in ("case", "function", "coproc"):
            self.out.opaque.append(head.text)
            return
        names = [w for w in words if not _is_assignment(w.text)]
        if names and names[0].expands:
            self.out.opaque.append("command name from an expansion")
        command = SimpleCommand(tuple(w.text for w in words), tuple(cmd.writes))
        self.out.commands.append(command)
        self.unwrap([w.text for w in names])

    def unwrap(self, argv: list[str]) -> None:
        """Record what ``eval``, ``bash -c``, ``source`` and wrapper commands would run."""
        if not argv:
            return
        name = argv[0].rsplit("/", 1)[-1]
        if name == "eval":
            self.out.opaque.append("eval")
            self.inner(" ".join(argv[1:]))
        elif name in _SHELLS:
            script = _shell_script(argv[1:])
            if script is not None:
                self.out.opaque.append(f"{name} -c")
                self.inner(script)
        elif name in ("source", "."):
            self.out.opaque.append("source")
        elif name == "find":
            for cmd in _find_exec(argv):
                self.inner_argv(cmd)
        elif name in _WRAPPERS:
            rest = _after_wrapper(name, argv[1:])
            if rest:
                self.inner_argv(rest)

    def inner(self, text: str) -> None:
        result = _Result()
        try:
            _Parser(text, result, self.depth + 1).parse_list(None)
        except _Unparsable:
            result.opaque.append("could not parse")
        self.out.inner.extend(result.commands)
        self.out.inner.extend(result.inner)
        self.out.opaque.extend(result.opaque)

    def inner_argv(self, argv: list[str]) -> None:
        self.out.inner.append(SimpleCommand(tuple(argv)))
        self.unwrap(argv)

    # -- redirections ---------------------------------------------------------------------
    def redirection(self, cmd: _Command) -> bool:
        m = _FD_PREFIX.match(self.src, self.i)  # 2>file, {fd}>file
        j = m.end() if m is not None else self.i
        if self.src[j : j + 1] not in ("<", ">", "&"):
            return False
        for op in ("<<<", "<<-", "<<", "&>>", "&>", ">>", ">|", ">&", "<&", "<>", ">", "<"):
            if self.src.startswith(op, j):
                break
        else:
            return False
        if op in ("<", ">") and self.src.startswith("(", j + 1):  # process substitution, an argument
            self.i = j + 2
            self.out.opaque.append("process substitution")
            self.parse_list(")")
            cmd.words.append(_Word([op + "(…)"], expands=True))
            return True
        self.i = j + len(op)
        self.skip_blanks()
        target = self.read_word()
        if not target.text and not target.quoted:
            raise _Unparsable(f"missing target after '{op}'")
        if op in ("<<", "<<-"):
            self.heredocs.append((target.text, op == "<<-", not target.quoted))
        elif op in (">&", "<&"):
            if not (target.text.isdigit() or target.text in ("-", "")) and op == ">&":
                self.note_write(cmd, target)
        elif op in (">", ">>", ">|", "&>", "&>>", "<>"):
            self.note_write(cmd, target)
        return True

    def note_write(self, cmd: _Command, target: _Word) -> None:
        if target.text.rstrip("-").isdigit() and target.text.endswith("-"):
            return  # >&3- closes a descriptor
        if target.text not in _HARMLESS_TARGETS or target.expands:
            cmd.writes.append(target.text)

    def read_heredocs(self) -> None:
        pending, self.heredocs = self.heredocs, []
        for delim, strip_tabs, expands in pending:
            body: list[str] = []
            while self.i < len(self.src):
                end = self.src.find("\n", self.i)
                line = self.src[self.i : len(self.src) if end < 0 else end]
                self.i = len(self.src) if end < 0 else end + 1
                if (line.lstrip("\t") if strip_tabs else line) == delim:
                    break
                body.append(line)
            if expands:
                scanner = _Parser("\n".join(body), self.out, self.depth + 1)
                scanner.scan_expanding_text()

    def scan_expanding_text(self) -> None:
        """A here-document body: only ``$…`` and backticks matter."""
        w = _Word()
        while self.i < len(self.src):
            c = self.peek()
            if c == "\\":
                self.i += 2
            elif c in "$`":
                self.read_word_part(w)
            else:
                self.i += 1

    # -- words ----------------------------------------------------------------------------
    def read_word(self) -> _Word:
        word = _Word()
        while True:
            c = self.peek()
            if not c or c in _META:
                if c in "<>" and c and self.peek(1) == "(":
                    self.out.opaque.append("process substitution")
                    self.i += 2
                    self.parse_list(")")
                    word.add(c + "(…)")
                    word.expands = True
                    continue
                return word
            self.read_word_part(word)

    def read_word_part(self, word: _Word) -> None:
        c = self.peek()
        if c == "\\":
            nxt = self.peek(1)
            self.i += 2
            if nxt != "\n":
                word.add(nxt)
                word.quoted = True
        elif c == "'":
            end = self.src.find("'", self.i + 1)
            if end < 0:
                raise _Unparsable("unterminated quote")
            word.add(self.src[self.i + 1 : end])
            word.quoted = True
            self.i = end + 1
        elif c == '"':
            self.i += 1
            word.quoted = True
            self.read_double_quoted(word)
        else:
            self.expansion_or_char(word, c)

    def expansion_or_char(self, word: _Word, c: str, plain: re.Pattern[str] = _PLAIN) -> None:
        """`…`, $… or a run of plain characters (``plain``: unquoted, or inside double quotes)."""
        if c == "`":
            self.backticks(word)
        elif c == "$":
            self.dollar(word)
        else:
            m = plain.match(self.src, self.i)
            end = m.end() if m is not None and m.end() > self.i else self.i + 1
            word.add(self.src[self.i : end])  # a run at a time: long words stay linear
            self.i = end

    def read_double_quoted(self, word: _Word) -> None:
        while True:
            c = self.peek()
            if not c:
                raise _Unparsable("unterminated quote")
            if c == '"':
                self.i += 1
                return
            if c == "\\":
                nxt = self.peek(1)
                if nxt in '$`"\\\n':
                    word.add("" if nxt == "\n" else nxt)
                    self.i += 2
                    continue
                word.add(c)
                self.i += 1
            else:
                self.expansion_or_char(word, c, _DQ_PLAIN)

    def backticks(self, word: _Word) -> None:
        j = self.i + 1
        inner: list[str] = []
        while True:
            if j >= len(self.src):
                raise _Unparsable("unterminated backquote")
            c = self.src[j]
            if c == "\\" and j + 1 < len(self.src) and self.src[j + 1] in "$`\\":
                inner.append(self.src[j + 1])
                j += 2
                continue
            if c == "`":
                break
            inner.append(c)
            j += 1
        self.i = j + 1
        self.out.opaque.append("command substitution")
        self.nested("".join(inner))
        word.add("`…`")
        word.expands = True

    def dollar(self, word: _Word) -> None:
        nxt = self.peek(1)
        if nxt == "(":
            if self.peek(2) == "(":
                self.out.opaque.append("arithmetic")
                self.i += 1
                self.skip_parens()
                word.add("$((…))")
            else:
                self.i += 2
                self.out.opaque.append("command substitution")
                self.parse_list(")")
                word.add("$(…)")
            word.expands = True
        elif nxt == "{":
            start = self.i
            self.i += 2
            self.read_braced()
            word.add(self.src[start : self.i])
            word.expands = True
        elif nxt == "'":
            end = self.i + 2
            while end < len(self.src) and self.src[end] != "'":
                end += 2 if self.src[end] == "\\" else 1
            if end >= len(self.src):
                raise _Unparsable("unterminated quote")
            body = self.src[self.i + 2 : end]
            if "\\" in body:
                self.out.opaque.append("ANSI-C escapes")
            word.add(body)
            word.quoted = True
            self.i = end + 1
        elif nxt == '"':
            self.i += 1  # $"…": a translated string, read like "…"
        elif nxt and (nxt.isalnum() or nxt in "_@*#?$!-"):
            j = self.i + 1
            if nxt.isalpha() or nxt == "_":
                while j < len(self.src) and (self.src[j].isalnum() or self.src[j] == "_"):
                    j += 1
            else:
                j += 1
            word.add(self.src[self.i : j])
            word.expands = True
            self.i = j
        else:
            word.add("$")
            self.i += 1

    def read_braced(self) -> None:
        """Skip a ``${…}`` body, reading any substitution inside it."""
        depth = 1
        sink = _Word()
        while depth:
            c = self.peek()
            if not c:
                raise _Unparsable("missing '}'")
            if c == "}":
                depth -= 1
                self.i += 1
            elif c == "{":
                depth += 1
                self.i += 1
            elif c in "\\'\"`$":
                self.read_word_part(sink)
            else:
                self.i += 1


@record(frozen=False)
class _Result:
    commands: list[SimpleCommand] = field(default_factory=list)
    inner: list[SimpleCommand] = field(default_factory=list)
    opaque: list[str] = field(default_factory=list)


def _is_assignment(text: str) -> bool:
    name, eq, _ = text.partition("=")
    return bool(eq) and name.replace("+", "").isidentifier() and not text.startswith("=")


def _shell_script(args: list[str]) -> str | None:
    """The script of ``bash [options] -c SCRIPT``, else None."""
    for i, a in enumerate(args):
        if a.startswith("-") and not a.startswith("--") and "c" in a[1:]:
            return args[i + 1] if i + 1 < len(args) else ""
        if not a.startswith("-") and not a.startswith("+"):
            return None
    return None


def _after_wrapper(name: str, args: list[str]) -> list[str]:
    """The command a wrapper runs (options and ``NAME=value`` skipped, best effort)."""
    i = 0
    takes_value = {"timeout": 1, "nice": 0, "ionice": 0, "watch": 0, "flock": 1, "chroot": 1}
    while i < len(args):
        a = args[i]
        if a == "--":
            i += 1
            break
        if a.startswith("-"):
            if a in _VALUE_OPTIONS.get(name, ()):
                i += 1  # the option's value
            i += 1
            continue
        if name == "env" and _is_assignment(a):
            i += 1
            continue
        break
    i += takes_value.get(name, 0)
    return args[i:]


def _find_exec(argv: list[str]) -> list[list[str]]:
    out: list[list[str]] = []
    i = 0
    while i < len(argv):
        if argv[i] in ("-exec", "-execdir", "-ok", "-okdir"):
            j = i + 1
            while j < len(argv) and argv[j] not in (";", "+"):
                j += 1
            if j > i + 1:
                out.append(argv[i + 1 : j])
            i = j
        i += 1
    return out


def parse_bash(command: str) -> ParsedBash:
    """The simple commands of ``command`` and what makes it opaque (see the module docstring)."""
    result = _Result()
    try:
        parser = _Parser(command, result)
        parser.parse_list(None)
        parser.read_heredocs()
    except _Unparsable as exc:
        result.opaque.append(f"could not parse ({exc})")
    except (RecursionError, ValueError):
        result.opaque.append("could not parse")
    return ParsedBash(tuple(result.commands), tuple(result.inner), tuple(dict.fromkeys(result.opaque)))


def split_words(text: str) -> tuple[str, ...] | None:
    """The words of one simple command as :func:`parse_bash` reads them (for rule
    specifiers); None when ``text`` is not exactly one simple command."""
    parsed = parse_bash(text)
    if parsed.opaque or len(parsed.commands) != 1:
        return None
    return parsed.commands[0].words
