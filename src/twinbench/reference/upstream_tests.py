"""Seeds from the source package's own tests: upstream test scripts and their input files, turned into invocations.

Hidden suites are never shown to agents, so the program's own test suite is a fair place to learn what its
inputs look like. The extractors know formats, not programs:
  * line-block files, jq's tests/*.test: "program / input / expected output" blocks separated by blank lines;
  * Perl test tables, GNU's misc.pl: ['name', qw(-n), q('s/x/y/'), {IN=>"..."}, {OUT=>"..."}];
  * shell scripts that run the program (sed's testsuite/*.sh, jq's shtest): argv, `< file`, here-documents and
    `printf ... |` become stdin; files the script writes with `cat > f <<EOF` or `printf ... > f`, or that sit
    next to it, become the case's files;
  * fixture groups, files sharing a stem (madding.sed + madding.inp + madding.good, bc's Test/*.b, gawk's
    foo.awk + foo.in): the program file run with its input.
Every seed says where it came from ("upstream:testsuite/misc.pl"), for tests/testgen.json.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterable, Iterator
from pathlib import Path

from pydantic import BaseModel, Field

from twinbench.reference.coverage.apt import installed_source, source_versions, upstream_version

SOURCE_CACHE = Path(os.environ.get("XDG_CACHE_HOME", str(Path.home() / ".cache"))) / "twinbench" / "sources"
FETCH_TIMEOUT_S = 600.0
MAX_FILE_BYTES = 64 * 1024
MAX_SEEDS_PER_FILE = 400
MAX_SEEDS = 3000
MAX_ARGS = 40
TEST_DIR_NAMES = frozenset({"test", "tests", "testsuite", "t", "examples", "example", "regress", "testdata"})
OUTPUT_SUFFIXES = frozenset(
    {".good", ".ok", ".out", ".exp", ".expected", ".err", ".res", ".result", ".ref", ".stdout", ".stderr", ".log"}
)
INPUT_SUFFIXES = frozenset({".in", ".inp", ".input", ".dat", ".data", ".txt", ".json", ".csv", ".xml", ".yaml"})
# sources, build files and harness code: never the program's input
NOT_PROGRAM_SUFFIXES = frozenset(
    {".c", ".h", ".cc", ".cpp", ".o", ".a", ".so", ".am", ".mk", ".m4", ".pm", ".pl", ".py", ".sh", ".supp",
     ".trs", ".gz", ".xz", ".bz2", ".zip", ".tar", ".png", ".gif", ".jpg", ".pdf", ".html", ".texi", ".info",
     ".1", ".md", ".rst", ".cfg", ".ac", ".bat", ".cmd", ".vcxproj", ".sln"}
)  # fmt: skip
# words that may stand before the program in a test script's command: wrappers, helpers, assignments
WRAPPERS = frozenset({"env", "time", "timeout", "nice", "valgrind", "exec", "!", "command", "returns_", "stdbuf"})
NOT_COMMANDS = frozenset({"echo", "printf", "cat", "test", "[", "grep", "which", "type", "print_ver_", "compare"})
_SHELL_OPERATORS = frozenset({"|", "||", "&&", ";", "&", ";;", "(", ")", "|&"})
LITERAL_DOLLAR = "\x00"  # a "$" that was quoted; no shell word can hold a NUL
HEREDOC_WORD = "__twinbench_heredoc__"  # stands where a line opened a here-document
_HEREDOC = re.compile(r"<<-?\s*(\\?['\"]?)(\w+)\1?['\"]?")
_ASSIGNMENT = re.compile(r"^[A-Za-z_]\w*=")
_VARIABLE = re.compile(r"^\$\{?(\w+)\}?$")


class UpstreamSeed(BaseModel):
    """One invocation found in the source package's tests."""

    source: str = Field(description='where it was found, e.g. "upstream:testsuite/misc.pl"')
    argv: list[str] = Field(default_factory=list)
    stdin: bytes = b""
    files: dict[str, bytes] = Field(default_factory=dict)


class SourceTree(BaseModel):
    """A Debian source package unpacked in the cache, or why there is none."""

    package: str
    version: str = ""
    path: Path | None = None
    error: str | None = None


def fetch_source(binary_package: str, cache: Path = SOURCE_CACHE) -> SourceTree:
    """The Debian source of an installed package, unpacked under `cache` (reused when already there).

    The installed version first; when the mirror no longer has it (a security update replaced it), the newest
    version apt knows with the same upstream version, then the newest at all. Never raises: failures are data.
    """
    found = installed_source(binary_package)
    if found is None:
        return SourceTree(package=binary_package, error=f"{binary_package} is not an installed Debian package")
    source, installed = found
    cached = _cached_tree(cache, source, installed)
    if cached is not None:
        return SourceTree(package=source, version=installed, path=cached)
    if shutil.which("apt-get") is None or shutil.which("dpkg-source") is None:
        return SourceTree(package=source, error="apt-get source needs apt and dpkg-dev")
    _ensure_source_entries(binary_package)
    tried: list[str] = []
    for version in _candidate_versions(source, installed):
        cached = _cached_tree(cache, source, version)
        if cached is not None:
            return SourceTree(package=source, version=version, path=cached)
        target = cache / f"{source}_{version}"
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True, exist_ok=True)
        tried.append(version)
        try:
            result = subprocess.run(
                ["apt-get", "source", "-q", f"{source}={version}"],
                cwd=target,
                capture_output=True,
                text=True,
                timeout=FETCH_TIMEOUT_S,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        tree = _unpacked(target)
        if result.returncode == 0 and tree is not None:
            (target / ".complete").write_text(tree.name, encoding="utf-8")
            return SourceTree(package=source, version=version, path=tree)
    shutil.rmtree(cache / f"{source}_{installed}", ignore_errors=True)
    return SourceTree(package=source, error=f"apt-get source {source} failed (tried {', '.join(tried) or 'nothing'})")


def _ensure_source_entries(package: str) -> None:
    """deb-src entries for the configured mirrors, as coverage builds add them; apt-get source needs them."""
    import io

    from twinbench.reference.coverage import CoverageBuildError
    from twinbench.reference.coverage.apt import BuildRunner, ensure_deb_src

    try:
        ensure_deb_src(BuildRunner(io.StringIO(), Path("(no log)"), lambda line: None), package)
    except (CoverageBuildError, OSError):
        pass  # apt-get source then says what is missing, and fetch_source reports it


def _candidate_versions(source: str, installed: str) -> list[str]:
    """The installed version first, then the versions apt knows with the same upstream version, then the rest."""
    _name, known = source_versions(source)
    upstream = upstream_version(installed)
    same = [version for version in known if upstream_version(version) == upstream]
    return list(dict.fromkeys([installed, *same, *known]))


def _cached_tree(cache: Path, source: str, version: str) -> Path | None:
    marker = cache / f"{source}_{version}" / ".complete"
    if not marker.is_file():
        return None
    tree = marker.parent / marker.read_text(encoding="utf-8").strip()
    return tree if tree.is_dir() else None


def _unpacked(target: Path) -> Path | None:
    return next((path for path in sorted(target.iterdir()) if path.is_dir()), None)


# ---------------------------------------------------------------------------------------------------------------
# Finding the tests


def upstream_seeds(tree: Path, program: str, script_flag: str | None = None) -> list[UpstreamSeed]:
    """Invocations of `program` from the test and example directories of a source tree.

    `script_flag` is the option that reads a program from a file (sed and awk's -f, jq's --from-file), if the
    docs name one; a program file of a fixture group is then passed with it, else as the first operand.
    """
    seeds: list[UpstreamSeed] = []
    seen: set[tuple[object, ...]] = set()
    # test directories, then test scripts elsewhere (figlet's run-tests.sh, mawk's test/mawktest at the top)
    places = [(directory, _files_in(directory)) for directory in _test_dirs(tree)]
    places.append((tree, [path for path in _files_in(tree) if re.search(r"test", path.name, re.IGNORECASE)]))
    for directory, files in places:
        for seed in _seeds_in(directory, files, tree, program, script_flag):
            key = (tuple(seed.argv), seed.stdin, tuple(sorted(seed.files.items())))
            if key not in seen and len(seed.argv) <= MAX_ARGS:
                seen.add(key)
                seeds.append(seed)
            if len(seeds) >= MAX_SEEDS:
                return seeds
    return seeds


def _test_dirs(tree: Path) -> list[Path]:
    """Test directories and every directory below one: suites keep a script per tool in its own directory
    (bedtools' test/merge/test-merge.sh beside its a.bed), not only at the test directory's top."""
    found = []
    for root, dirs, _files in os.walk(tree):
        dirs[:] = sorted(name for name in dirs if not name.startswith(".") and name != "debian")
        parts = Path(root).relative_to(tree).parts
        if any(part.lower() in TEST_DIR_NAMES for part in parts):
            found.append(Path(root))
    return found


def _files_in(directory: Path) -> list[Path]:
    try:
        return sorted(path for path in directory.iterdir() if path.is_file() and path.stat().st_size <= MAX_FILE_BYTES)
    except OSError:
        return []


def _seeds_in(
    directory: Path, files: list[Path], tree: Path, program: str, script_flag: str | None
) -> Iterator[UpstreamSeed]:
    used: set[Path] = set()
    for path in files:
        text = _text(path)
        if text is None:
            continue
        source = f"upstream:{path.relative_to(tree).as_posix()}"
        found: list[UpstreamSeed] = []
        if path.suffix == ".pl" and re.search(r"@Tests\s*=", text):
            found = list(perl_table_seeds(text, source, directory))
        elif path.suffix == ".sh" or (text.startswith("#!") and re.search(r"\b(?:ba|da|k)?sh\b", text.split("\n")[0])):
            found = list(shell_seeds(text, program, source, directory))
        elif path.suffix not in NOT_PROGRAM_SUFFIXES and is_line_block_file(text):
            found = list(line_block_seeds(text, source))
        if found:
            used.add(path)
        yield from found[:MAX_SEEDS_PER_FILE]
    yield from fixture_seeds([path for path in files if path not in used], tree, script_flag)


def _text(path: Path) -> str | None:
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if b"\0" in data[:4096]:
        return None
    return data.decode("utf-8", errors="surrogateescape")


def _bytes(text: str) -> bytes:
    return text.replace(LITERAL_DOLLAR, "$").encode("utf-8", errors="surrogateescape")


# ---------------------------------------------------------------------------------------------------------------
# Line-block files: jq's tests/*.test


def is_line_block_file(text: str) -> bool:
    """Blocks of three or more lines between blank lines, '#' comments around them: jq's .test format."""
    blocks = _line_blocks(text)
    if len(blocks) < 3:
        return False
    # program, input, one output line is the common case; longer blocks have several outputs
    triplets = sum(1 for block in blocks if len(block) == 3)
    long_blocks = sum(1 for block in blocks if len(block) >= 3)
    return triplets >= 0.5 * len(blocks) and long_blocks >= 0.8 * len(blocks) and text.lstrip().startswith("#")


def _line_blocks(text: str) -> list[list[str]]:
    blocks: list[list[str]] = [[]]
    for line in text.split("\n"):
        if not line.strip():
            if blocks[-1]:
                blocks.append([])
        elif not line.startswith("#"):
            blocks[-1].append(line)
    return [block for block in blocks if block]


def line_block_seeds(text: str, source: str) -> Iterator[UpstreamSeed]:
    """Each block's first line is the program (an argument), its second the input (stdin); '%%' lines are
    markers ("%%FAIL": the program must be rejected, so it has no input)."""
    for block in _line_blocks(text):
        marked = block[0].startswith("%%")
        lines = block[1:] if marked else block
        if not lines:
            continue
        stdin = b"" if marked or len(lines) < 2 else _bytes(lines[1] + "\n")
        yield UpstreamSeed(source=source, argv=[lines[0]], stdin=stdin)


# ---------------------------------------------------------------------------------------------------------------
# Perl test tables: GNU's Coreutils.pm format


def perl_table_seeds(text: str, source: str, directory: Path) -> Iterator[UpstreamSeed]:
    """['name', qw(args), q('script'), {IN=>"input"}, {OUT=>...}]: each {IN} is a file given as an operand
    (named after the test), {IN_PIPE} is stdin, {ENV}, {OUT}, {ERR} and {EXIT} are the harness's."""
    start = re.search(r"@Tests\s*=\s*\(", text)
    if start is None:
        return
    for entry in _perl_entries(text[start.end() :]):
        if not entry or not isinstance(entry[0], str):
            continue
        name = re.sub(r"[^\w.-]", "_", entry[0])[:40] or "t"
        argv: list[str] = []
        files: dict[str, bytes] = {}
        stdin = b""
        for item in entry[1:]:
            if isinstance(item, list):
                argv.extend(item)
            elif isinstance(item, str):
                argv.append(item)
            elif "IN" in item:
                file_name = f"{name}.in{len(files) + 1 if files else ''}"
                files[file_name] = _bytes(item["IN"])
                argv.append(file_name)
            elif "IN_PIPE" in item:
                stdin = _bytes(item["IN_PIPE"])
        yield UpstreamSeed(source=source, argv=_unquote_args(argv), stdin=stdin, files=files)


def _unquote_args(argv: list[str]) -> list[str]:
    """Coreutils.pm joins the args with spaces and lets the shell split them: "'s/x/y/'" is one quoted word."""
    try:
        return shlex.split(" ".join(argv))
    except ValueError:
        return argv


PerlItem = str | list[str] | dict[str, str]


def _perl_entries(text: str) -> Iterator[list[PerlItem]]:
    """The [ ... ] entries of a Perl list, each as strings, qw() word lists and {KEY => string} hashes."""
    position = 0
    while True:
        opening = _next_code_char(text, position, "[)")
        if opening is None or text[opening] == ")":
            return
        entry, position = _perl_entry(text, opening + 1)
        if entry is None:
            return
        yield entry


def _next_code_char(text: str, position: int, wanted: str) -> int | None:
    while position < len(text):
        char = text[position]
        if char == "#":
            newline = text.find("\n", position)
            position = len(text) if newline < 0 else newline
        elif char in wanted:
            return position
        position += 1
    return None


def _perl_entry(text: str, position: int) -> tuple[list[PerlItem] | None, int]:
    items: list[PerlItem] = []
    while position < len(text):
        position = _skip_space_and_comments(text, position)
        if position >= len(text):
            return None, position
        char = text[position]
        if char == "]":
            return items, position + 1
        if char == ",":
            position += 1
            continue
        if char == "{":
            hash_items, position = _perl_hash(text, position + 1)
            if hash_items is None:
                return None, position
            items.append(hash_items)
            continue
        value, position = _perl_scalar(text, position)
        if value is None:
            # something this reader does not know (a sub call, a variable): skip the rest of the entry
            depth = 1
            while position < len(text) and depth:
                depth += {"[": 1, "]": -1}.get(text[position], 0)
                position += 1
            return None if depth else [], position
        items.append(value)
    return None, position


def _perl_hash(text: str, position: int) -> tuple[dict[str, str] | None, int]:
    position = _skip_space_and_comments(text, position)
    key_match = re.match(r"(\w+)\s*=>\s*", text[position:])
    if key_match is None:
        closing = text.find("}", position)
        return ({} if closing >= 0 else None), (closing + 1 if closing >= 0 else len(text))
    key = key_match.group(1)
    value, position = _perl_scalar(text, position + key_match.end())
    closing = text.find("}", position)
    if closing < 0:
        return None, len(text)
    return ({key: value} if isinstance(value, str) else {}), closing + 1


def _skip_space_and_comments(text: str, position: int) -> int:
    while position < len(text):
        if text[position].isspace():
            position += 1
        elif text[position] == "#":
            newline = text.find("\n", position)
            position = len(text) if newline < 0 else newline
        else:
            break
    return position


_PERL_CLOSERS = {"(": ")", "[": "]", "{": "}", "<": ">"}


def _perl_scalar(text: str, position: int) -> tuple[str | list[str] | None, int]:
    """A string expression ('a' . "b\\n", q(...), qw(...)) starting at `position`."""
    parts: list[str] = []
    words: list[str] | None = None
    while True:
        position = _skip_space_and_comments(text, position)
        quote = re.match(r"(qw|qq|q)\s*([^\w\s])", text[position:])
        if quote:
            opener = quote.group(2)
            closer = _PERL_CLOSERS.get(opener, opener)
            end = _closing(text, position + quote.end(), opener, closer)
            if end is None:
                return None, len(text)
            body = text[position + quote.end() : end]
            position = end + 1
            if quote.group(1) == "qw":
                words = body.split()
            else:
                parts.append(_perl_unescape(body) if quote.group(1) == "qq" else body.replace("\\\\", "\\"))
        elif position < len(text) and text[position] in "'\"":
            delimiter = text[position]
            end = _closing(text, position + 1, delimiter, delimiter)
            if end is None:
                return None, len(text)
            body = text[position + 1 : end]
            parts.append(_perl_unescape(body) if delimiter == '"' else body.replace("\\'", "'").replace("\\\\", "\\"))
            position = end + 1
        elif parts and re.match(r"x\s*(\d+)", text[position:]):
            repeat = re.match(r"x\s*(\d+)", text[position:])
            assert repeat is not None
            parts[-1] = parts[-1] * min(int(repeat.group(1)), 10_000)
            position += repeat.end()
        else:
            return (words if words is not None else ("".join(parts) if parts else None)), position
        position = _skip_space_and_comments(text, position)
        if position < len(text) and text[position] == "." and words is None:
            position += 1
            continue
        if position < len(text) and text[position] == "x" and parts:
            continue
        return (words if words is not None else "".join(parts)), position


def _closing(text: str, position: int, opener: str, closer: str) -> int | None:
    depth = 1
    while position < len(text):
        char = text[position]
        if char == "\\":
            position += 2
            continue
        if char == closer and opener != closer:
            depth -= 1
            if depth == 0:
                return position
        elif char == closer:
            return position
        elif char == opener:
            depth += 1
        position += 1
    return None


_PERL_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "\\": "\\", '"': '"', "$": "$", "@": "@", "e": "\x1b"}


def _perl_unescape(body: str) -> str:
    def replace(match: re.Match[str]) -> str:
        escape = match.group(1)
        if escape.startswith("x"):
            return chr(int(escape[1:].strip("{}") or "0", 16))
        if escape[0] in "01234567" and len(escape) > 1:
            return chr(int(escape, 8))
        return _PERL_ESCAPES.get(escape, escape)

    return re.sub(r"\\(x\{[0-9A-Fa-f]+\}|x[0-9A-Fa-f]{1,2}|[0-7]{1,3}|.)", replace, body, flags=re.DOTALL)


# ---------------------------------------------------------------------------------------------------------------
# Shell scripts that run the program


def shell_seeds(text: str, program: str, source: str, directory: Path) -> Iterator[UpstreamSeed]:
    """Invocations of `program` in a shell script, with the stdin and files each one reads."""
    written: dict[str, bytes] = {}
    program_variables = {program.upper(), program.upper().replace("-", "_")}
    variables: dict[str, str] = {}
    commands = [([_expand(word, variables) for word in words], heredoc) for words, heredoc in _shell_commands(text)]
    # files some command of the script makes while it runs (often the program itself: "sed ... > lines1");
    # an invocation that reads one cannot be replayed unless the script wrote it in a way this reader follows
    made_at_run_time = {
        Path(target).name
        for words, heredoc in commands
        for segment, _stdin in _segments(words, heredoc)
        if (target := _redirect_target(segment, ">")) is not None
    }
    for words, heredoc in commands:
        for segment_words, stdin_from_pipe in _segments(words, heredoc):
            target = _redirect_target(segment_words, ">")
            command_at = _program_position(segment_words, program, program_variables)
            if command_at is None:
                if target is not None:
                    _remember_write(segment_words, heredoc, target, written)
                assignment = _program_assignment(segment_words, program)
                if assignment:
                    program_variables.add(assignment)
                continue
            seed = _invocation(segment_words[command_at + 1 :], stdin_from_pipe, heredoc, written, directory, source)
            if seed is not None and not any(arg in made_at_run_time and arg not in seed.files for arg in seed.argv):
                yield seed


def _shell_commands(text: str) -> Iterator[tuple[list[str], str | None]]:
    """Each logical line's words (continuations joined) and the here-document it opens, if any."""
    lines = text.split("\n")
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        while line.endswith("\\") and index < len(lines):
            line = line[:-1] + " " + lines[index].strip()
            index += 1
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        heredoc = None
        marker = _HEREDOC.search(line)
        if marker is not None:
            delimiter = marker.group(2)
            body: list[str] = []
            while index < len(lines) and lines[index].strip() != delimiter:
                body.append(lines[index].lstrip("\t") if "<<-" in marker.group(0) else lines[index])
                index += 1
            index += 1
            heredoc = "\n".join(body) + "\n"
            line = line[: marker.start()] + f" {HEREDOC_WORD} " + line[marker.end() :]
        words = _shell_words(line)
        if words:
            yield words, heredoc


def _shell_words(line: str) -> list[str]:
    # "$" inside single quotes is a literal (sed's '$p'): mark it so that only real expansions look unknown
    line = re.sub(r"'[^']*'", lambda match: match.group().replace("$", LITERAL_DOLLAR), line)
    lexer = shlex.shlex(line, posix=True, punctuation_chars="|&;()<>")
    lexer.whitespace_split = True
    lexer.commenters = ""
    try:
        words = list(lexer)
    except ValueError:
        return []
    # shlex reads "2>err" as "2", ">", "err": put the descriptor back on its redirection
    joined: list[str] = []
    for word in words:
        if joined and word.startswith((">", "<")) and joined[-1] in ("0", "1", "2"):
            joined[-1] += word
        else:
            joined.append(word)
    return joined


def _segments(words: list[str], heredoc: str | None) -> Iterator[tuple[list[str], bytes | None]]:
    """Simple commands of a line, each with the stdin a preceding `echo X |` or `printf X |` gives it."""
    segment: list[str] = []
    previous: list[str] = []
    piped = False
    for word in [*words, ";"]:
        if word in _SHELL_OPERATORS:
            stdin = _echoed(previous) if piped else None
            if segment:
                yield segment, stdin
            piped = word == "|"
            previous, segment = segment, []
        else:
            segment.append(word)


def _echoed(words: list[str]) -> bytes | None:
    if not words:
        return None
    if words[0] == "echo":
        rest = words[1:]
        newline = "-n" not in rest[:1]
        rest = [word for word in rest if word not in ("-n", "-e")]
        return _bytes(" ".join(rest) + ("\n" if newline else ""))
    if words[0] == "printf" and len(words) >= 2:
        return _bytes(_printf(words[1], words[2:]))
    return None


def _printf(format_text: str, arguments: list[str]) -> str:
    text = re.sub(r"%%", "\x00PERCENT\x00", format_text)
    values = iter(arguments)
    text = re.sub(r"%[-+ 0#]*\d*(?:\.\d+)?[sdbc]", lambda _m: next(values, ""), text)
    text = text.replace("\x00PERCENT\x00", "%")
    return _shell_unescape(text)


def _shell_unescape(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        escape = match.group(1)
        if escape[0] in "01234567":
            return chr(int(escape, 8) & 0xFF)
        if escape.startswith("x"):
            return chr(int(escape[1:], 16))
        return {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "a": "\a", "f": "\f", "v": "\v"}.get(escape, "\\" + escape)

    return re.sub(r"\\(0?[0-7]{1,3}|x[0-9A-Fa-f]{1,2}|.)", replace, text)


def _program_position(words: list[str], program: str, variables: set[str]) -> int | None:
    for position, word in enumerate(words[:6]):
        variable = _VARIABLE.match(word)
        if not _ASSIGNMENT.match(word) and (
            Path(word).name == program or (variable and variable.group(1) in variables)
        ):
            return position
        if word in NOT_COMMANDS or word.startswith((">", "<")):
            return None
        if not (_ASSIGNMENT.match(word) or variable or word in WRAPPERS or word.isdigit()):
            return None
    return None


def _program_assignment(words: list[str], program: str) -> str | None:
    """`JQ=$JQBASEDIR/jq` and `PROG="${MAWK:-../mawk}"` name a variable that holds the program."""
    if len(words) == 1 and _ASSIGNMENT.match(words[0]):
        name, _, value = words[0].partition("=")
        default = re.fullmatch(r"\$\{\w+:?-([^}]*)\}", value)
        if Path(default.group(1) if default else value).name == program:
            return name
    return None


def _expand(word: str, variables: dict[str, str]) -> str:
    """Expand variables a script set to plain values earlier (`dat=mawktest.dat`); remember new ones."""
    if _ASSIGNMENT.match(word) and "$" not in word:
        name, _, assigned = word.partition("=")
        variables[name] = assigned
        return word

    def known(match: re.Match[str]) -> str:
        return variables.get(match.group(1) or match.group(2), match.group(0))

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", known, word)


def _redirect_target(words: list[str], operator: str) -> str | None:
    for position, word in enumerate(words):
        if word in (operator, "1" + operator) and position + 1 < len(words):
            return words[position + 1]
        if word.startswith(operator) and word != operator and not word.startswith(operator + operator):
            return word[len(operator) :]
    return None


def _remember_write(words: list[str], heredoc: str | None, target: str, written: dict[str, bytes]) -> None:
    """Files the script writes before running the program: `cat > f <<EOF`, `printf ... > f`, `echo ... > f`."""
    name = Path(target).name
    command = [word for word in words if not word.startswith((">", "<", "1>", "2>")) and word != target]
    if command[:1] == ["cat"] and HEREDOC_WORD in command and heredoc is not None:
        written[name] = _bytes(heredoc)
    elif command[:1] in (["echo"], ["printf"]):
        content = _echoed(command)
        if content is not None:
            written[name] = content


def _invocation(
    args: list[str],
    stdin: bytes | None,
    heredoc: str | None,
    written: dict[str, bytes],
    directory: Path,
    source: str,
) -> UpstreamSeed | None:
    argv: list[str] = []
    files: dict[str, bytes] = {}
    skip = False
    for position, word in enumerate(args):
        if skip:
            skip = False
            continue
        if word == HEREDOC_WORD:
            stdin = _bytes(heredoc) if heredoc is not None else None
            continue
        if word in ("<", "0<") and position + 1 < len(args):
            stdin = _file_content(args[position + 1], written, directory)
            if stdin is None:
                return None
            skip = True
            continue
        if re.match(r"^(?:\d?>>?|&>|\d?>&)", word):
            skip = not re.match(r"^(?:\d?>>?|&>|\d?>&)\S", word)
            continue
        local = _local_file(word, written, directory)
        if local is not None:
            files[local[0]] = local[1]
            argv.append(local[0])
        elif "$" in word or "`" in word:
            return None  # a value only the test's run knows
        else:
            argv.append(word)
    argv = [word.replace(LITERAL_DOLLAR, "$") for word in argv]
    return UpstreamSeed(source=source, argv=argv, stdin=stdin or b"", files=files)


def _file_content(word: str, written: dict[str, bytes], directory: Path) -> bytes | None:
    if word == "/dev/null":
        return b""
    local = _local_file(word, written, directory)
    return local[1] if local is not None else None


def _local_file(word: str, written: dict[str, bytes], directory: Path) -> tuple[str, bytes] | None:
    """A file the script wrote, or one next to it ("$dir/madding.inp", "$srcdir/testsuite/x.sed")."""
    if word.startswith("-") or not word or word.startswith("/dev/"):
        return None
    name = word.rstrip("/").rsplit("/", 1)[-1]
    if not re.fullmatch(r"[\w.+-]+", name) or name in (".", ".."):
        return None
    if name in written:
        return name, written[name]
    if "/" not in word and "$" not in word and not re.search(r"\.\w+$", name):
        return None  # a bare word: a script or an argument, not a file
    path = directory / name
    if path.is_file() and path.stat().st_size <= MAX_FILE_BYTES:
        try:
            return name, path.read_bytes()
        except OSError:
            return None
    return None


# ---------------------------------------------------------------------------------------------------------------
# Fixture groups: files sharing a stem


def fixture_seeds(paths: Iterable[Path], tree: Path, script_flag: str | None) -> Iterator[UpstreamSeed]:
    """madding.sed + madding.inp (+ madding.good): the program file run on its input; bc's Test/*.b alone."""
    groups: dict[Path, list[Path]] = {}
    for path in paths:
        groups.setdefault(path.with_suffix(""), []).append(path)
    for _stem, members in sorted(groups.items()):
        programs = [
            path
            for path in members
            if path.suffix
            and path.suffix not in OUTPUT_SUFFIXES | INPUT_SUFFIXES | NOT_PROGRAM_SUFFIXES
            and _text(path) is not None
        ]
        inputs = [path for path in members if path.suffix in INPUT_SUFFIXES]
        for program_file in programs:
            source = f"upstream:{program_file.relative_to(tree).as_posix()}"
            files = {program_file.name: program_file.read_bytes()}
            head = [script_flag, program_file.name] if script_flag else [program_file.name]
            if not inputs:
                yield UpstreamSeed(source=source, argv=head, files=files)
            for input_file in inputs:
                content = input_file.read_bytes()
                yield UpstreamSeed(
                    source=source, argv=[*head, input_file.name], files={**files, input_file.name: content}
                )
                yield UpstreamSeed(source=source, argv=head, stdin=content, files=files)
