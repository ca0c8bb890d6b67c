"""Doc mining on real docs of Debian programs (figlet, jq, coreutils, sed, bc, mawk, apt-get), frozen in tests/data."""

from __future__ import annotations

import functools
import random

import pytest

from tests.helpers_paths import TEST_DATA
from twinbench.reference.docmodel import CliModel, OptionSpec, mine_named_docs
from twinbench.reference.docmodel import mine_docs as mine_docs_leniently

DOCS = TEST_DATA / "docs"
# the docs as gather_docs recorded them on a Debian 12 machine (MANWIDTH=80, LANG=C.UTF-8), frozen so that a
# different man-db, groff or package version cannot change what these tests see
FROZEN = {
    ("man", "-P", "cat", "6", "figlet"): "figlet.6.txt",
    ("figlet", "-h"): "figlet-h.txt",
    ("man", "-P", "cat", "6", "figlist"): "figlist.6.txt",
    ("man", "-P", "cat", "jq"): "jq.1.txt",
    ("jq", "--help"): "jq-help.txt",
    ("man", "-P", "cat", "sort"): "sort.1.txt",
    ("sort", "--help"): "sort-help.txt",
    ("cut", "--help"): "cut-help.txt",
    ("man", "-P", "cat", "cut"): "cut.1.txt",
    ("ls", "--help"): "ls-help.txt",
    ("date", "--help"): "date-help.txt",
    ("sed", "--help"): "sed-help.txt",
    ("bc", "--help"): "bc-help.txt",
    ("bc", "--version"): "bc-version.txt",
    ("awk", "-W", "usage"): "awk-usage.txt",
    ("man", "-P", "cat", "awk"): "awk.1.txt",
    ("apt-get", "--help"): "apt-get-help.txt",
    ("man", "-P", "cat", "apt-get"): "apt-get.8.txt",
    ("man", "-P", "cat", "bc"): "bc.1.txt",
    ("man", "-P", "cat", "sed"): "sed.1.txt",
    ("man", "-P", "cat", "gdu"): "gdu.1.txt",
}


def doc_text(*argv: str) -> str:
    """What a command printed (stdout and stderr) when the docs were frozen into tests/data/docs."""
    return (DOCS / FROZEN[argv]).read_text(encoding="utf-8")


def mine_docs(program: str, texts: list[str]) -> CliModel:
    """Doc mining in strict mode: an extractor that raises fails the test instead of mining less."""
    return mine_docs_leniently(program, texts, strict=True)


@functools.cache
def figlet_model() -> CliModel:
    return mine_docs("figlet", [doc_text("man", "-P", "cat", "6", "figlet"), doc_text("figlet", "-h")])


@functools.cache
def jq_model() -> CliModel:
    return mine_docs("jq", [doc_text("man", "-P", "cat", "jq"), doc_text("jq", "--help")])


def option(model: CliModel, flag: str) -> OptionSpec:
    found = model.option(flag)
    assert found is not None, f"{flag} not in {[o.flags for o in model.options]}"
    return found


def test_figlet_options_from_help_and_man_page() -> None:
    model = figlet_model()
    font = option(model, "-f")
    assert (font.takes_value, font.arity, font.value_hint, font.flags) == (True, 1, "fontfile", ["-f"])
    center = option(model, "-c")
    assert (center.takes_value, center.arity, center.value_hint) == (False, 0, None)
    assert "justification" in center.description  # "-c\n-l\n-r\n-x   These options handle..." share one text
    assert option(model, "-w").value_hint == "outputwidth"
    assert option(model, "-I").value_hint == "infocode"
    # the man page's hint wins over the usage line's ("smushmode")
    assert option(model, "-m").value_hint == "layoutmode"
    flags = {flag for spec in model.options for flag in spec.flags}
    assert flags == {f"-{letter}" for letter in "cklnoprstvxDELNRSWX"} | {"-d", "-f", "-m", "-w", "-C", "-I"}
    assert len(model.options) == 25
    assert model.positionals == ["message"]
    assert model.summary.startswith("FIGlet - display large characters")


def test_figlet_usage_line_alone_gives_the_option_groups() -> None:
    model = mine_docs("figlet", [doc_text("figlet", "-h")])
    assert [spec.flags[0] for spec in model.options][:19] == [f"-{letter}" for letter in "cklnoprstvxDELNRSWX"]
    smush = option(model, "-m")
    assert (smush.arity, smush.value_hint) == (1, "smushmode")
    assert option(model, "-k").arity == 0
    assert model.positionals == ["message"]


def test_figlet_examples_drop_prompts_pipes_and_redirections() -> None:
    examples = figlet_model().examples
    assert [] in examples  # "example% figlet": reads standard input
    assert ["-f", "script"] in examples
    assert ["-p"] in examples  # "figlet -p < myfile"
    assert ["-ptk", "-f", "shadow"] in examples
    assert ["Hello", "world"] in examples
    assert ["-f", "lean"] in examples  # "figlet -f lean | tr ' _/' ' ()'"
    assert len(examples) == len({tuple(example) for example in examples})


def test_man_pages_of_sibling_commands_are_ignored() -> None:
    figlist = doc_text("man", "-P", "cat", "6", "figlist")
    model = mine_docs("figlet", [doc_text("man", "-P", "cat", "6", "figlet"), figlist])
    assert option(model, "-d").value_hint == "fontdirectory"  # figlist's "-d directory" is not figlet's
    assert ["-d", "/usr/share/fonts/figlet"] not in model.examples


def test_jq_options_with_two_values_and_both_spellings() -> None:
    model = jq_model()
    arg = option(model, "--arg")
    assert (arg.takes_value, arg.arity, arg.value_hint) == (True, 2, "name value")
    assert option(model, "--argjson").arity == 2
    assert option(model, "--slurpfile").arity == 2
    assert option(model, "-s").flags == ["-s", "--slurp"]
    assert option(model, "-C").flags == ["-C", "--color-output"]  # "--color-output / -C and --monochrome-output / -M"
    assert option(model, "-M").flags == ["-M", "--monochrome-output"]
    from_file = option(model, "--from-file")
    assert (from_file.flags, from_file.value_hint) == (["-f", "--from-file"], "filename")
    assert option(model, "-L").value_hint == "directory"  # "-Ldirectory / -L directory"
    run_tests = option(model, "--run-tests")
    assert run_tests.value_optional and run_tests.arity == 1
    assert option(model, "--tab").arity == 0
    assert model.option("-seq") is None  # "-seq may output additional forms" is a wrapped sentence
    assert "jq filter" in model.positionals


def test_jq_manual_examples_and_their_inputs() -> None:
    model = jq_model()
    assert [".foo"] in model.examples
    assert ["."] in model.examples  # --help: "$ echo '{"foo": 0}' | jq ."
    assert ["map(has(2))"] in model.examples
    assert len(model.examples) > 150
    assert all(len(example) == 1 for example in model.examples)  # every jq example is one filter
    assert '{"foo": 42, "bar": "less interesting data"}' in model.example_inputs
    assert '{"foo": 0}' in model.example_inputs
    assert '[[1,2], "string", {"a":2}, null]' in model.example_inputs  # "jq '.[] | length' [[1,2], ...] => 2, ..."
    assert len(model.example_inputs) == len(set(model.example_inputs))
    assert ["-", "Command-line", "JSON", "processor"] not in model.examples  # the NAME line


def test_coreutils_sort_keys_literal_spellings_and_choices() -> None:
    model = mine_docs("sort", [doc_text("man", "-P", "cat", "sort"), doc_text("sort", "--help")])
    key = option(model, "--key")
    assert (key.flags, key.arity, key.value_hint) == (["-k", "--key"], 1, "KEYDEF")
    assert option(model, "-c").flags == ["-c", "--check", "--check=diagnose-first"]
    assert option(model, "-C").flags == ["-C", "--check=quiet", "--check=silent"]
    sort_words = ["general-numeric", "human-numeric", "month", "numeric", "random", "version"]
    assert option(model, "--sort").choices == sort_words  # "sort according to WORD: general-numeric -g, ..."
    assert option(model, "--reverse").arity == 0
    assert model.positionals == ["FILE"]


def test_coreutils_cut_ignores_the_range_table() -> None:
    model = mine_docs("cut", [doc_text("cut", "--help"), doc_text("man", "-P", "cat", "cut")])
    assert option(model, "-d").flags == ["-d", "--delimiter"]
    assert option(model, "-d").value_hint == "DELIM"
    assert option(model, "--complement").arity == 0
    assert option(model, "-n").description == "(ignored)"
    assert model.option("-M") is None  # "-M    from first to M'th (included) byte" describes a LIST
    assert len(model.options) == 11


def test_optional_values_and_choices_from_gnu_help() -> None:
    ls_model = mine_docs("ls", [doc_text("ls", "--help")])
    color = option(ls_model, "--color")
    assert (color.value_optional, color.value_hint) == (True, "WHEN")
    assert sorted(color.choices) == ["always", "auto", "never"]  # "The WHEN argument defaults to 'always'..."
    assert option(ls_model, "--indicator-style").choices == ["none", "slash", "file-type", "classify"]
    assert option(ls_model, "-p").flags == ["-p", "--indicator-style=slash"]
    date_model = mine_docs("date", [doc_text("date", "--help")])
    iso = option(date_model, "-I")
    assert (iso.flags, iso.value_optional, iso.choices) == (
        ["-I", "--iso-8601"],
        True,
        ["date", "hours", "minutes", "seconds", "ns"],
    )
    assert option(date_model, "--utc").flags == ["-u", "--utc", "--universal"]
    assert "MMDDhhmm[[CC]YY][.ss]" in date_model.positionals


def test_sed_bc_and_awk_help() -> None:
    sed = mine_docs("sed", [doc_text("sed", "--help")])
    in_place = option(sed, "-i")
    assert (in_place.flags, in_place.value_optional, in_place.value_hint) == (["-i", "--in-place"], True, "SUFFIX")
    assert option(sed, "-E").flags == ["-E", "-r", "--regexp-extended"]
    assert option(sed, "--expression").value_hint == "script"
    bc = mine_docs("bc", [doc_text("bc", "--help")])
    assert bc.options[0].flags == ["-h", "--help"]  # "-h  --help   print this usage"
    assert bc.positionals == ["file"]
    awk = mine_docs("awk", [doc_text("awk", "-W", "usage"), doc_text("man", "-P", "cat", "awk")])
    assert {"version", "dump", "exec"} <= set(option(awk, "-W").choices)
    assert option(awk, "-v").value_hint == "var=value"
    assert ["-f", "prog", "v=1", "A", "t=hello", "B"] in awk.examples


def test_pflag_man_pages_with_one_space_and_shown_defaults() -> None:
    # Go programs' generated man pages: "-h, --help[=false] help for gdu", "-l, --log-file="/dev/null" Path"
    gdu = mine_docs("gdu", [doc_text("man", "-P", "cat", "gdu")])
    assert option(gdu, "-n").flags == ["-n", "--non-interactive"] and not option(gdu, "-n").takes_value
    assert option(gdu, "--show-apparent-size").flags == ["-a", "--show-apparent-size"]
    assert option(gdu, "-l").takes_value and option(gdu, "-l").value_hint == '"/dev/null"'
    assert len(gdu.options) == 17


def test_readme_option_lists_do_not_override_help_and_banners_are_not_examples() -> None:
    readme = DOCS / "bc-README.txt"
    texts = [doc_text("bc", "--help"), doc_text("bc", "--version"), readme.read_text(errors="replace")]
    model = mine_docs("bc", texts)
    assert model.option("--with-readline") is None  # configure's option, listed in the README
    assert model.option("--mathlib") is not None
    assert model.examples == []  # "bc 1.07.1" opens --version; it is not an invocation
    only_readme = mine_docs("bc", [readme.read_text(errors="replace")])
    assert only_readme.option("--with-readline") is not None  # with nothing better, the README is used


def test_subcommands_from_a_command_list_and_a_usage_choice() -> None:
    model = mine_docs("apt-get", [doc_text("apt-get", "--help"), doc_text("man", "-P", "cat", "apt-get")])
    assert {"update", "install", "remove", "dist-upgrade", "build-dep"} <= set(model.subcommands)
    assert len(model.subcommands) == len(set(model.subcommands))
    assert model.summary.startswith("apt-get - APT package handling utility")


def test_the_same_text_twice_changes_nothing() -> None:
    once = mine_docs("jq", [doc_text("jq", "--help")])
    twice = mine_docs("jq", [doc_text("jq", "--help"), doc_text("jq", "--help")])
    assert once == twice


def test_weird_text_never_raises() -> None:
    weird = [
        "",
        "\x00\x01\x1b[1mbold\x1b[0m",
        "Usage: foo [[[[ -",
        "usage: foo {a|b",
        "Usage: ...",
        "-",
        "-- --- ----",
        "$ foo 'unterminated",
        'foo "unterminated',
        "○ -",
        "-a" * 5000,
        "Usage: foo " + "[" * 3000,
        "-x\n" * 5000,
        "NAME\n" * 100,
    ]
    chooser = random.Random(7)
    alphabet = "-[]{}|<>'\"= \n\t.:,$%abcXYZ"
    weird += ["".join(chooser.choice(alphabet) for _ in range(chooser.randint(0, 300))) for _ in range(200)]
    for text in weird:
        model = mine_docs("foo", [text, text])  # strict: no extractor raises on these either
        assert model.program == "foo"
        assert mine_docs_leniently("foo", [text], example_files={"docs/examples/x.b": text}).program == "foo"
    assert mine_docs("foo", []) == CliModel(program="foo")


def test_strict_mode_lets_an_extractor_bug_through(monkeypatch: pytest.MonkeyPatch) -> None:
    import twinbench.reference.docmodel as docmodel

    def broken(lines: list[str]) -> list[object]:
        raise IndexError("a bug in the option parser")

    monkeypatch.setattr(docmodel, "_option_definitions", broken)
    help_text = doc_text("sed", "--help")
    assert mine_docs_leniently("sed", [help_text]).positionals  # lenient: the usage line is still read
    with pytest.raises(IndexError):
        mine_docs("sed", [help_text])


def test_code_blocks_of_a_man_page_become_example_scripts() -> None:
    model = mine_docs("bc", [doc_text("man", "-P", "cat", "bc")])
    texts = [script.text for script in model.example_scripts]
    factorial = next(text for text in texts if text.startswith("define f (x) {"))
    assert factorial.splitlines()[1] == "  if (x <= 1) return (1);"  # dedented to the block, inner indent kept
    assert any(text.startswith("scale = 20\n") and "define e(x) {" in text for text in texts)
    assert all(script.source == "man#0" for script in model.example_scripts)
    assert not any("--mathlib" in text or "bc -l" in text for text in texts)  # options and shell lines are not code
    awk = mine_docs("awk", [doc_text("man", "-P", "cat", "awk")])
    assert "{ print }\n" in [script.text for script in awk.example_scripts]
    assert not any("dickey@" in script.text for script in awk.example_scripts)  # the AUTHORS block is not code
    jq_scripts = mine_docs("jq", [doc_text("man", "-P", "cat", "jq")]).example_scripts
    assert not any("JQ(1)" in script.text for script in jq_scripts)  # the page footer is not code
    for page in ("sed", "figlet"):
        argv = ("man", "-P", "cat", "6", page) if page == "figlet" else ("man", "-P", "cat", page)
        assert mine_docs(page, [doc_text(*argv)]).example_scripts == []  # SYNOPSIS lines are not code


def test_example_files_are_kept_whole_and_build_files_are_not() -> None:
    examples = {f"docs/examples/{path.name}": path.read_text() for path in sorted((DOCS / "examples").iterdir())}
    examples["docs/examples/Makefile"] = "all:\n\tcc -o x x.c\n"
    docs = {"docs/bc.1.txt": doc_text("man", "-P", "cat", "bc"), **examples}
    model = mine_named_docs("bc", docs, strict=True)
    files = {script.source: script for script in model.example_scripts if script.source.startswith("docs/")}
    assert sorted(files) == [f"docs/examples/{name}" for name in ("ckbook.b", "dc.sed", "pi.b", "primes.b", "twins.b")]
    assert files["docs/examples/pi.b"].suffix == ".b"
    assert files["docs/examples/pi.b"].text == (DOCS / "examples" / "pi.b").read_text()
    assert model.option("--mathlib") is not None  # the man page is still read as a doc


def test_option_spec_keeps_takes_value_and_arity_in_step() -> None:
    assert OptionSpec(flags=["-x"], takes_value=True).arity == 1
    assert OptionSpec(flags=["--arg"], arity=2).takes_value
    assert not OptionSpec(flags=["-q"]).takes_value


def test_a_commands_block_in_angle_brackets_with_colon_entries_gives_subcommands() -> None:
    help_text = (
        "Usage: 7zz <command> [<switches>...] <archive_name> [<file_names>...]\n\n"
        "<Commands>\n  a : Add files to archive\n  l : List contents of archive\n  rn : Rename files in archive\n\n"
        "<Switches>\n  -- : Stop switches and @listfile parsing\n  -bd : disable progress indicator\n"
    )
    model = mine_named_docs("7zz", {"docs/help.txt": help_text}, strict=True)
    assert model.subcommands == ["a", "l", "rn"]
