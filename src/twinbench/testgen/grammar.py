"""Grammar-aware mutation: learn the tokens and bracket structure of a program's inputs from its seeds.

Byte-level mutation of a bc program or a jq filter mostly makes syntax errors: the program stops at its
parser and the suite learns nothing about what the program is for. Here the seeds of one input slot (script
arguments, stdin, files) are cut into tokens of a few classes (names, numbers, strings, operators, brackets,
space), and into balanced bracket subtrees. Mutants change one token for another of its class, one subtree
for another of the same bracket, nest a subtree inside another, or splice whole lines between seeds, so most
of them still parse. No grammar is written by hand: the same learner serves bc, sed, jq and awk.
"""

from __future__ import annotations

import itertools
import random
import re
from collections import Counter
from dataclasses import dataclass, field

MAX_TOKENS = 4000
MAX_BANK = 400
MAX_TEXT_CHARS = 16_000
CONTEXT_SHARE = 0.9  # token replacements that must fit the seeds' neighbours; the rest explore freely
BRACKETS = {"(": ")", "[": "]", "{": "}"}
CLOSERS = {closer: opener for opener, closer in BRACKETS.items()}

_TOKEN = re.compile(
    r"""(?P<str>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')"""
    r"|(?P<num>(?:0[xX][0-9A-Fa-f]+|\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+))"
    r"|(?P<name>[A-Za-z_$@][\w$]*)"
    r"|(?P<nl>\n)"
    r"|(?P<ws>[ \t\r\f\v]+)"
    r"|(?P<open>[(\[{])"
    r"|(?P<close>[)\]}])"
    r"|(?P<op>[-+*/%=<>!&|^~?:.,;\\#`]{1,3})"
    r"|(?P<other>.)",
    re.DOTALL,
)


# a docs line that names the language's builtins, the way reference sections head their entries:
# "   ltrimstr(str)", "   sort, sort_by(path_expression)", "   $__loc__"
_NAME_ITEM = r"[$@]?[A-Za-z_]\w*(?:\([^()\n]{0,60}\))?"
_HEADING = re.compile(rf"^( {{1,8}})({_NAME_ITEM}(?:(?:,[ \t]*|[ \t]+){_NAME_ITEM})*)[ \t]*$", re.MULTILINE)
# "One-input C math functions: acos acosh asin ...": a list of names after "functions:" (or builtins, commands)
_NAME_LIST = re.compile(r"(?i)\b(?:functions|builtins|commands|operators|keywords):\s+([^.:]{3,800})")
MAX_DOC_NAMES = 600


def doc_names(docs_text: str) -> list[str]:
    """Names of the language's builtins as its docs list them (entry headings of a reference section, lists
    after "functions:"), each as a call template ("ltrimstr(str)", "sin", "@base64"); words of prose are not."""
    found: dict[str, None] = {}
    # an entry heading is indented least (a man page's subsection headings: 3 spaces, the text under them 7)
    indents = {len(line) - len(line.lstrip(" ")) for line in docs_text.splitlines() if line.strip()} - {0}
    heading_indent = min(indents, default=0)
    for heading in _HEADING.finditer(docs_text):
        items = re.findall(_NAME_ITEM, heading.group(2))
        if len(heading.group(1)) != heading_indent or not all(item[:1].islower() or item[0] in "$@_" for item in items):
            continue
        found.update(dict.fromkeys(items))
    for listing in _NAME_LIST.finditer(docs_text):
        words = re.sub(r"-\s*\n\s*", "", listing.group(1)).split()
        if len(words) >= 3 and all(re.fullmatch(r"[A-Za-z_]\w*,?", word) for word in words):
            found.update(dict.fromkeys(word.rstrip(",") for word in words))
    return list(found)[:MAX_DOC_NAMES]


@dataclass(frozen=True)
class Token:
    """One token and its class: str, num, name, nl, ws, open, close, op or other."""

    kind: str
    text: str


def tokenize(text: str) -> list[Token]:
    """The tokens of `text`; joined back they give `text` exactly."""
    tokens = []
    for match in _TOKEN.finditer(text[:MAX_TEXT_CHARS]):
        kind = match.lastgroup or "other"
        tokens.append(Token(kind, match.group()))
        if len(tokens) >= MAX_TOKENS:
            break
    consumed = sum(len(token.text) for token in tokens)
    if consumed < len(text):
        tokens.append(Token("other", text[consumed:]))
    return tokens


def subtrees(tokens: list[Token]) -> list[tuple[int, int]]:
    """(start, end) token spans of balanced bracket groups, brackets included (end exclusive)."""
    spans = []
    stack: list[int] = []
    for index, token in enumerate(tokens):
        if token.kind == "open":
            stack.append(index)
        elif token.kind == "close":
            if stack and tokens[stack[-1]].text == CLOSERS[token.text]:
                spans.append((stack.pop(), index + 1))
            else:
                stack.clear()  # unbalanced here: what came before cannot pair with what follows
    return spans


@dataclass
class Grammar:
    """What the seeds of one input slot are made of: tokens by class, bracket subtrees by opener, lines."""

    vocabulary: dict[str, list[str]] = field(default_factory=dict)
    # adjacent token pairs seen in the seeds, spaces skipped: the learned context a replacement must fit
    pairs: set[tuple[str, str]] = field(default_factory=set)
    bank: dict[str, list[list[Token]]] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)
    # the builtins the docs list (doc_names), which the seeds may never use: call templates
    names: list[str] = field(default_factory=list)

    @classmethod
    def learn(cls, texts: list[str], names: list[str] | None = None) -> Grammar:
        """The grammar of `texts`; the most frequent tokens of each class first, subtrees and lines deduplicated."""
        counts: dict[str, Counter[str]] = {}
        bank: dict[str, dict[str, list[Token]]] = {}
        lines: dict[str, None] = {}
        pairs: set[tuple[str, str]] = set()
        for text in texts:
            tokens = tokenize(text)
            solid = [token.text for token in tokens if token.kind not in ("ws", "nl")]
            pairs.update(itertools.pairwise(["", *solid, ""]))
            for token in tokens:
                if token.kind not in ("ws", "nl"):
                    counts.setdefault(token.kind, Counter())[token.text] += 1
            for start, end in subtrees(tokens):
                group = tokens[start:end]
                if end - start <= 200:
                    bank.setdefault(group[0].text, {}).setdefault("".join(t.text for t in group), group)
            for line in text.splitlines():
                if line.strip() and len(line) < 400:
                    lines.setdefault(line, None)
        return cls(
            vocabulary={kind: [text for text, _ in counter.most_common(MAX_BANK)] for kind, counter in counts.items()},
            pairs=pairs,
            bank={opener: list(groups.values())[:MAX_BANK] for opener, groups in bank.items()},
            lines=list(lines)[: MAX_BANK * 2],
            names=list(names or []),
        )

    @property
    def empty(self) -> bool:
        """Nothing was learned (no seeds in this slot)."""
        return not self.vocabulary and not self.lines

    def mutate(self, text: str, rng: random.Random) -> str:
        """A variation of `text` at token, subtree or line level; `text` itself if nothing applies."""
        tokens = tokenize(text)
        operators = [
            self._replace_token,
            self._replace_subtree,
            self._nest,
            self._splice_line,
            self._drop,
            self._doc_name,
        ]
        weights = [4, 3, 1, 2, 1, 2 if self.names else 0]
        for _ in range(4):
            operator = rng.choices(operators, weights=weights)[0]
            mutated = operator(tokens, rng)
            if mutated is not None and mutated != text:
                return mutated
        return text

    def _replace_token(self, tokens: list[Token], rng: random.Random) -> str | None:
        """One name, number, string or operator becomes another of its class that the seeds show between the
        same neighbours (so "define" stays a keyword's place, "+" an operator's), else any of its class."""
        candidates = [i for i, token in enumerate(tokens) if token.kind in self.vocabulary and token.kind != "other"]
        if not candidates:
            return None
        index = rng.choice(candidates)
        options = self.vocabulary[tokens[index].kind]
        before = next((t.text for t in reversed(tokens[:index]) if t.kind not in ("ws", "nl")), "")
        after = next((t.text for t in tokens[index + 1 :] if t.kind not in ("ws", "nl")), "")
        fitting = [o for o in options if (before, o) in self.pairs and (o, after) in self.pairs] or [
            o for o in options if (before, o) in self.pairs or (o, after) in self.pairs
        ]
        if fitting and rng.random() < CONTEXT_SHARE:
            choice = rng.choice(fitting)
        else:
            # frequent tokens are the language's keywords and operators: prefer them, but reach rare ones too
            choice = options[min(int(rng.expovariate(1 / 8)), len(options) - 1)]
        return _join(tokens[:index]) + choice + _join(tokens[index + 1 :])

    def _doc_name(self, tokens: list[Token], rng: random.Random) -> str | None:
        """A name token becomes a builtin the docs list, its parameters filled with tokens the seeds use."""
        places = [i for i, token in enumerate(tokens) if token.kind == "name"]
        if not places or not self.names:
            return None
        index = rng.choice(places)
        template = rng.choice(self.names)
        fillers = [*self.vocabulary.get("num", [])[:20], *self.vocabulary.get("str", [])[:20], "."]
        call = (
            re.sub(r"[^();,]+(?=[;,)])", lambda _match: rng.choice(fillers), template) if "(" in template else template
        )
        return _join(tokens[:index]) + call + _join(tokens[index + 1 :])

    def _replace_subtree(self, tokens: list[Token], rng: random.Random) -> str | None:
        """A bracket group becomes another group with the same bracket, from any seed."""
        spans = [(s, e) for s, e in subtrees(tokens) if self.bank.get(tokens[s].text)]
        if not spans:
            return None
        start, end = rng.choice(spans)
        donor = rng.choice(self.bank[tokens[start].text])
        return _join(tokens[:start]) + _join(donor) + _join(tokens[end:])

    def _nest(self, tokens: list[Token], rng: random.Random) -> str | None:
        """A bracket group goes inside a donor group, in place of one of the donor's inner groups."""
        spans = subtrees(tokens)
        if not spans:
            return None
        start, end = rng.choice(spans)
        hosts = [group for group in self.bank.get(tokens[start].text, []) if len(subtrees(group)) > 1]
        if not hosts:
            return None
        host = rng.choice(hosts)
        inner = [(s, e) for s, e in subtrees(host) if (s, e) != (0, len(host)) and host[s].text == tokens[start].text]
        if not inner:
            return None
        inner_start, inner_end = rng.choice(inner)
        nested = _join(host[:inner_start]) + _join(tokens[start:end]) + _join(host[inner_end:])
        return _join(tokens[:start]) + nested + _join(tokens[end:])

    def _splice_line(self, tokens: list[Token], rng: random.Random) -> str | None:
        """A whole line of some seed inserted at a line boundary, or replacing one line."""
        if not self.lines:
            return None
        lines = _join(tokens).split("\n")
        donor = rng.choice(self.lines)
        position = rng.randint(0, len(lines))
        if rng.random() < 0.5 and position < len(lines) and len(lines) > 1:
            lines[position] = donor
        else:
            lines.insert(position, donor)
        return "\n".join(lines)

    def _drop(self, tokens: list[Token], rng: random.Random) -> str | None:
        """Empty a bracket group, or drop one line: smaller inputs that still parse."""
        spans = [(s, e) for s, e in subtrees(tokens) if e - s > 2]
        if spans and rng.random() < 0.5:
            start, end = rng.choice(spans)
            return _join(tokens[: start + 1]) + _join(tokens[end - 1 :])
        lines = _join(tokens).split("\n")
        if len([line for line in lines if line.strip()]) < 2:
            return None
        del lines[rng.randrange(len(lines))]
        return "\n".join(lines)


def _join(tokens: list[Token]) -> str:
    return "".join(token.text for token in tokens)
