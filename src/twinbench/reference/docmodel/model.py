"""The doc model's data: what the docs say about a program's command line."""

from __future__ import annotations

from pydantic import BaseModel, Field, model_validator


class OptionSpec(BaseModel):
    """One option of the command line: its spellings, its value(s), and what the docs say about it."""

    flags: list[str] = Field(description='short and long spellings of one option, e.g. ["-f", "--font"]')
    takes_value: bool = Field(default=False, description="always arity > 0")
    arity: int = Field(default=0, ge=0, description="values the option takes: 0 for flags, 2 for jq's --arg")
    value_optional: bool = Field(default=False, description="the value may be left off, e.g. --color[=WHEN]")
    value_hint: str | None = Field(default=None, description='the docs\' name for the value(s): "FILE", "name value"')
    choices: list[str] = Field(default_factory=list, description="values listed in the docs, e.g. always, never")
    description: str = Field(default="", description="the first paragraph the docs give the option")

    @model_validator(mode="after")
    def _arity_matches_takes_value(self) -> OptionSpec:
        # callers may set either field; keep the invariant takes_value == (arity > 0)
        if self.takes_value and self.arity == 0:
            self.arity = 1
        self.takes_value = self.arity > 0
        return self


class DocScript(BaseModel):
    """A program in the program's own input language, found in its docs: a man page code block, an example file."""

    source: str = Field(description='where it was found: "docs/examples/pi.b", "man#0" (a code block of a man page)')
    text: str
    suffix: str = Field(default="", description='the file name\'s suffix, e.g. ".b", ".sed"; "" for code blocks')


class CliModel(BaseModel):
    """What the docs say about a program's command line: options, subcommands, operands and examples."""

    program: str
    summary: str = Field(default="", description="the man page's NAME line, e.g. 'jq - Command-line JSON processor'")
    options: list[OptionSpec] = Field(default_factory=list)
    subcommands: list[str] = Field(default_factory=list)
    positionals: list[str] = Field(default_factory=list, description='operand hints: "FILE", "message", "jq filter"')
    examples: list[list[str]] = Field(default_factory=list, description="argv (no program name) of doc examples")
    example_inputs: list[str] = Field(default_factory=list, description="literal inputs shown in the docs' examples")
    example_scripts: list[DocScript] = Field(
        default_factory=list, description="programs in the program's input language: doc code blocks, example files"
    )

    def option(self, flag: str) -> OptionSpec | None:
        """The option spelled `flag` (e.g. "-f" or "--font"), if the docs describe one."""
        return next((option for option in self.options if flag in option.flags), None)
