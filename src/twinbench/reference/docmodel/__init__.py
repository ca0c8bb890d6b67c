"""Doc mining: a model of a program's command line from its --help output, man page, READMEs and examples.

The stages, one module each: `reading` (clean-up, man page structure), `options` (option lines), `usage` (usage
lines, SYNOPSIS, subcommand lists), `examples` (command lines, inputs and code blocks), `merge` (one OptionSpec
per option). The parsers are heuristics tuned on real Debian programs (figlet, jq, GNU coreutils, sed, bc,
mawk). By default they never raise on odd text: an extractor that trips contributes nothing, and the model
holds what could be found. Tests pass strict=True, so a bug in an extractor fails loudly instead of showing
only as fewer options mined.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from twinbench.reference.docmodel.examples import _code_blocks, _examples, script_files
from twinbench.reference.docmodel.merge import _merge
from twinbench.reference.docmodel.model import CliModel, DocScript, OptionSpec
from twinbench.reference.docmodel.options import _Definition, _option_definitions
from twinbench.reference.docmodel.reading import _Doc, _own_docs, _read_doc, _usage_commands
from twinbench.reference.docmodel.text import MAX_OPTION_INDENT, _unique, _unique_lists
from twinbench.reference.docmodel.usage import _parse_usage, _subcommands, _usage_statements, _UsageFindings

__all__ = ["CliModel", "DocScript", "OptionSpec", "mine_docs", "mine_named_docs"]

_T = TypeVar("_T")
_A = TypeVar("_A")


def mine_named_docs(program: str, docs: dict[str, str], strict: bool = False) -> CliModel:
    """mine_docs over a task's docs by name: files under an examples/ directory are example programs (bc's
    .b files, sed scripts), kept whole as scripts; every other doc is read as text."""
    examples = {name: text for name, text in docs.items() if "/examples/" in f"/{name}"}
    texts = [text for name, text in docs.items() if name not in examples]
    return mine_docs(program, texts, strict=strict, example_files=examples)


def mine_docs(
    program: str, texts: list[str], strict: bool = False, example_files: dict[str, str] | None = None
) -> CliModel:
    """A CliModel of `program` from its docs (help output, man page text, READMEs) and example files (name ->
    text); never raises on odd text unless `strict`, which lets an extractor's exception through."""

    def safely(extract: Callable[[_A], _T], argument: _A) -> _T | None:
        if strict:
            return extract(argument)
        try:
            return extract(argument)
        except Exception:  # the contract is "never raise on weird text"; a failed extractor contributes nothing
            return None

    read = [safely(_read_doc, text) for text in texts if isinstance(text, str) and text.strip()]
    docs = [doc for doc in read if doc is not None]
    aliases = {program.lower(), program.rsplit("/", 1)[-1].lower()}
    for doc in docs:
        aliases.update(_usage_commands(doc.lines))
    docs = _own_docs(docs, aliases)
    summary = ""
    for doc in docs:
        if doc.is_man_page:
            aliases.update(doc.names)
            summary = summary or doc.summary

    definitions: list[_Definition] = []
    secondary_definitions: list[_Definition] = []
    usages: list[str] = []
    subcommands: list[str] = []
    examples: list[list[str]] = []
    inputs: list[str] = []
    scripts: list[DocScript] = []
    for number, doc in enumerate(docs):
        # each extractor is independent: one that trips on a doc must not cost the others
        statements = safely(_usage_statements_of, (doc, aliases)) or []
        usages.extend(statements)
        # a README's option lists are often configure's ("--with-readline"): trust the man page and --help first
        primary = doc.is_man_page or bool(statements)
        (definitions if primary else secondary_definitions).extend(safely(_option_definitions, doc.lines) or [])
        subcommands.extend(safely(_subcommands, doc) or [])
        found_examples, found_inputs = safely(_examples_of, (doc, aliases)) or ([], [])
        examples.extend(found_examples)
        inputs.extend(found_inputs)
        scripts.extend(safely(_code_blocks_of, (doc, aliases, number)) or [])
    scripts.extend(safely(script_files, example_files or {}) or [])

    usage_definitions: list[_Definition] = []
    positionals: list[str] = []
    for statement in usages:
        findings = safely(_parse_usage, statement) or _UsageFindings()
        usage_definitions.extend(findings.definitions)
        positionals.extend(findings.positionals)
        subcommands.extend(findings.literals)

    if not definitions:
        definitions = secondary_definitions
    all_text = "\n".join("\n".join(doc.lines) for doc in docs)
    options = safely(_merge_all, (definitions + usage_definitions, all_text)) or []
    return CliModel(
        program=program,
        summary=summary,
        options=options,
        subcommands=_unique(subcommands),
        positionals=_unique(positionals),
        examples=_unique_lists(examples),
        example_inputs=_unique(inputs),
        example_scripts=list({script.text: script for script in scripts}.values()),
    )


def _usage_statements_of(arguments: tuple[_Doc, set[str]]) -> list[str]:
    return _usage_statements(*arguments)


def _examples_of(arguments: tuple[_Doc, set[str]]) -> tuple[list[list[str]], list[str]]:
    doc, aliases = arguments
    # man pages set example code deeper than their body text (7 columns); shallower lines are prose or headings
    return _examples(doc.lines, aliases, min_bare_indent=MAX_OPTION_INDENT if doc.is_man_page else 0)


def _code_blocks_of(arguments: tuple[_Doc, set[str], int]) -> list[DocScript]:
    doc, aliases, number = arguments
    source = f"{'man' if doc.is_man_page else 'doc'}#{number}"
    return _code_blocks(doc.lines, aliases, source)


def _merge_all(arguments: tuple[list[_Definition], str]) -> list[OptionSpec]:
    return _merge(*arguments)
