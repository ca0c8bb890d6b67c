"""Merging: one OptionSpec per option, whichever docs spelled it."""

from __future__ import annotations

import re

from twinbench.reference.docmodel.model import OptionSpec
from twinbench.reference.docmodel.options import _Definition
from twinbench.reference.docmodel.text import _LIST_ITEM, _QUOTED_WORD, _unique


def _merge(definitions: list[_Definition], all_text: str) -> list[OptionSpec]:
    literal_spellings = _literal_equals_values(definitions)
    merged: list[_Definition] = []
    owner: dict[str, _Definition] = {}
    for definition in definitions:
        if definition.value_hint and definition.flags:
            for flag in definition.flags:
                if (flag, definition.value_hint) in literal_spellings:
                    # "-p, --indicator-style=slash" beside "--indicator-style=WORD": a fixed spelling
                    definition.flags = [f"{f}={definition.value_hint}" if f == flag else f for f in definition.flags]
                    definition.arity, definition.value_hint = 0, None
        targets = _unique_by_id([owner[flag] for flag in definition.flags if flag in owner])
        if not targets:
            target = _Definition(flags=[])
            merged.append(target)
        else:
            target = targets[0]
            for other in targets[1:]:
                _absorb(target, other)
                merged.remove(other)
        _absorb(target, definition)
        for flag in target.flags:
            owner[flag] = target
    all_sentences = _sentences(all_text)
    options = []
    for definition in merged:
        _settle_sub_options(definition)
        flags = sorted(_unique(definition.flags), key=lambda flag: flag.startswith("--"))
        choices = _unique(definition.choices + _choices_from_text(definition, all_sentences))
        options.append(
            OptionSpec(
                flags=flags,
                arity=definition.arity,
                value_optional=definition.value_optional and definition.arity > 0,
                value_hint=definition.value_hint if definition.arity > 0 else None,
                choices=choices if definition.arity > 0 else [],
                description=definition.description,
            )
        )
    return options


def _settle_sub_options(definition: _Definition) -> None:
    """mawk's "-W dump", "-W exec file", "-W version"...: one option whose value picks a sub-option."""
    first_words = _unique(variant.split()[0] for variant in definition.variants if variant.split())
    if len(first_words) >= 3:
        definition.arity = 1
        definition.value_hint = definition.usage_hint or "option"
        definition.value_optional = False
        definition.choices = _unique(definition.choices + first_words)


def _absorb(target: _Definition, source: _Definition) -> None:
    target.flags = _unique(target.flags + source.flags)
    if source.from_usage:
        target.usage_hint = target.usage_hint or source.value_hint
    else:
        target.variants.extend(source.variants or ([source.value_hint] if source.value_hint else []))
    if source.arity > 0:
        # an option is optional-valued only if every doc that gives it a value says so
        target.value_optional = (
            source.value_optional if target.arity == 0 else (target.value_optional and source.value_optional)
        )
    target.arity = max(target.arity, source.arity)
    target.value_hint = _better_hint(target.value_hint, source.value_hint)
    target.description = target.description or source.description
    target.block = target.block or source.block
    target.choices = _unique(target.choices + source.choices)


def _better_hint(current: str | None, candidate: str | None) -> str | None:
    """The first hint found, unless it is terse ("a v") and the other one is not ("name value")."""
    if current is None or candidate is None:
        return current or candidate
    if all(len(word) == 1 for word in current.split()) and any(len(word) > 1 for word in candidate.split()):
        return candidate
    return current


def _literal_equals_values(definitions: list[_Definition]) -> set[tuple[str, str]]:
    """Long options given both a placeholder (WORD) and lowercase words (slash): the words are literals."""
    hints: dict[str, set[str]] = {}
    for definition in definitions:
        for flag in definition.flags:
            if flag.startswith("--") and definition.value_hint and definition.arity == 1:
                hints.setdefault(flag, set()).add(definition.value_hint)
    literals: set[tuple[str, str]] = set()
    for flag, values in hints.items():
        if len(values) > 1 and any(value.isupper() for value in values):
            literals.update((flag, value) for value in values if re.fullmatch(r"[a-z][a-z0-9-]*", value))
    return literals


def _choices_from_text(definition: _Definition, all_sentences: list[str]) -> list[str]:
    """Values the docs list for an option: "FMT='date' ... 'hours', or 'ns'", "WORD: none (-U), size (-S)"."""
    hint = definition.value_hint
    if not hint or definition.arity != 1:
        return []
    hint_word = re.escape(hint)
    found: list[str] = []
    for sentence in _sentences(definition.block):
        mentions_hint = re.search(rf"\b{hint_word}\b", sentence) is not None
        if mentions_hint or re.search(r"\bone of\b|\bcan be\b|\bmust be\b", sentence):
            quoted = _quoted_values(sentence)
            if len(quoted) >= 2:
                found.extend(quoted)
                continue
        if mentions_hint:
            found.extend(_listed_after(sentence, rf"\b{hint_word}\b[^:]*:"))
    if re.fullmatch(r"[A-Z][A-Z0-9_]+", hint):
        # GNU help explains uppercase hints once, below the options: "The WHEN argument defaults to 'always'..."
        for sentence in all_sentences:
            if re.search(rf"\bThe {hint_word} argument\b|\b{hint_word} (?:is one of|can be|must be)\b", sentence):
                quoted = _quoted_values(sentence)
                found.extend(quoted if len(quoted) >= 2 else _listed_after(sentence, r"\b(?:one of|can be|be)\b:?"))
    return found


def _quoted_values(sentence: str) -> list[str]:
    """Quoted words that could be option values: 'always', "auto"; not '--block-size=M' or '*'."""
    words = [next(group for group in match if group) for match in _QUOTED_WORD.findall(sentence)]
    return [word for word in words if re.fullmatch(r"[\w.+:@][\w.+:@=-]*", word)]


def _listed_after(sentence: str, lead: str) -> list[str]:
    match = re.search(lead, sentence)
    if match is None:
        return []
    items: list[str] = []
    for part in re.split(r",\s*|\s+or\s+", sentence[match.end() :].strip().rstrip(".;")):
        item = _LIST_ITEM.match(part.strip())
        if item is None:
            break
        items.append(item.group(1))
    return items if len(items) >= 2 else []


def _sentences(text: str) -> list[str]:
    flat = re.sub(r"\s+", " ", text)
    return [sentence for sentence in re.split(r"(?<=[.;])\s+(?=[A-Z(])", flat) if sentence]


def _unique_by_id(items: list[_Definition]) -> list[_Definition]:
    kept: list[_Definition] = []
    for item in items:
        if all(item is not other for other in kept):
            kept.append(item)
    return kept
