"""Seeds from a source package's own tests: each test format on a small tree, and the real Debian bc source."""

from __future__ import annotations

from pathlib import Path

import pytest

from twinbench.reference.upstream_tests import (
    UpstreamSeed,
    fetch_source,
    is_line_block_file,
    perl_table_seeds,
    shell_seeds,
    upstream_seeds,
)

JQ_STYLE_TEST = """\
# Tests are groups of three lines: program, input, expected output
# Blank lines and lines starting with # are ignored

.foo
{"foo": 42}
42

[.[] | . * 2]
[1, 2]
[2, 4]

%%FAIL
{(0):1}
jq: error: Cannot use number (0) as object key

.[0]
[1]
1
"""

PERL_TABLE = r"""
my @Tests =
    (
     ['empty', qw(-e ''), {IN=>''}, {OUT=>''}],
     # a comment between entries
     ['space', q('s/_\S/XX/g;s/\s/_/g'),
      {IN=>  "Hello World\t!\n" . "x\n" },
      {OUT=> "Hello_World_!\n" }],
     ['insert-nl', qw(-f), {IN => "/foo/i\\\n"}, {IN => "bar\nfoo\n" }, {OUT=> "bar\n\nfoo\n" }],
     ['piped', qw(-n p), {IN_PIPE=>"a\n"}, {OUT=>"a\n"}, {EXIT=>0}],
    );
"""

SHELL_SCRIPT = r"""#!/bin/sh
. "${srcdir=.}/testsuite/init.sh"; path_prepend_ ./sed
cat <<\EOF > prog1 || framework_failure_
1s/./\cA/
EOF
printf 'a\nb\n' > in1 || framework_failure_
sed -f prog1 in1 > out1 || fail=1
returns_ 1 sed 's/./x/0' </dev/null 2>err || fail=1
echo "hello world" | sed 's/o/0/g' > out2
sed -f "$dir/"madding.sed "$dir/madding.inp" > madding-out || fail=1
sed -n '$p' <<EOF >out3
one
two
EOF
sed "s/$unknown/x/" in1
sed -n p out2
compare exp out1 || fail=1
echo sed is not run here
"""


def write_tree(root: Path) -> Path:
    tests = root / "pkg-1.0" / "testsuite"
    tests.mkdir(parents=True)
    (tests / "jq.test").write_text(JQ_STYLE_TEST)
    (tests / "misc.pl").write_text(PERL_TABLE)
    (tests / "subst.sh").write_text(SHELL_SCRIPT)
    (tests / "madding.sed").write_text("s/summit/top/\n")
    (tests / "madding.inp").write_text("on the summit\n")
    (tests / "madding.good").write_text("on the top\n")
    (tests / "lonely.b").write_text("define f(x) { return (x*2); }\nf(3)\n")
    (tests / "Makefile.am").write_text("TESTS = subst.sh\n")
    (root / "pkg-1.0" / "src").mkdir()
    (root / "pkg-1.0" / "src" / "main.c").write_text("int main(void) { return 0; }\n")
    return root / "pkg-1.0"


def test_line_block_files_give_the_program_as_argument_and_the_input_on_stdin(tmp_path: Path) -> None:
    seeds = [seed for seed in upstream_seeds(write_tree(tmp_path), "jq") if seed.source.endswith("jq.test")]
    assert [(seed.argv, seed.stdin) for seed in seeds] == [
        ([".foo"], b'{"foo": 42}\n'),
        (["[.[] | . * 2]"], b"[1, 2]\n"),
        (["{(0):1}"], b""),  # %%FAIL: the program alone, to be rejected
        ([".[0]"], b"[1]\n"),
    ]
    assert all(seed.source == "upstream:testsuite/jq.test" for seed in seeds)
    # a sed script with blank-line separated blocks is no line-block test file
    assert not is_line_block_file("#n\n/x/{\n  p\n  d\n  n\n  s/a/b/\n}\n\n$!{\n  N\n  P\n  D\n  x\n}\n\n1{\n  h\n}\n")


def test_perl_tables_give_operand_files_and_piped_stdin(tmp_path: Path) -> None:
    seeds = list(perl_table_seeds(PERL_TABLE, "upstream:misc.pl", tmp_path))
    assert seeds[0] == UpstreamSeed(source="upstream:misc.pl", argv=["-e", "", "empty.in"], files={"empty.in": b""})
    assert seeds[1].argv == ["s/_\\S/XX/g;s/\\s/_/g", "space.in"]  # q('...') keeps its backslashes
    assert seeds[1].files == {"space.in": b"Hello World\t!\nx\n"}  # "..." . "..." joined, escapes read
    assert seeds[2].argv == ["-f", "insert-nl.in", "insert-nl.in2"]
    assert seeds[2].files["insert-nl.in"] == b"/foo/i\\\n"
    assert (seeds[3].argv, seeds[3].stdin, seeds[3].files) == (["-n", "p"], b"a\n", {})


def test_shell_scripts_give_argv_stdin_and_the_files_the_script_wrote(tmp_path: Path) -> None:
    directory = write_tree(tmp_path) / "testsuite"
    seeds = list(shell_seeds(SHELL_SCRIPT, "sed", "upstream:subst.sh", directory))
    by_argv = {tuple(seed.argv): seed for seed in seeds}
    script = by_argv[("-f", "prog1", "in1")]
    assert script.files == {"prog1": b"1s/./\\cA/\n", "in1": b"a\nb\n"}
    assert by_argv[("s/./x/0",)].stdin == b""  # returns_ 1 is a helper; </dev/null is empty stdin
    assert by_argv[("s/o/0/g",)].stdin == b"hello world\n"
    madding = by_argv[("-f", "madding.sed", "madding.inp")]
    assert madding.files["madding.inp"] == b"on the summit\n"  # "$dir/"madding.inp: the file next to the script
    assert by_argv[("-n", "$p")].stdin == b"one\ntwo\n"  # a here-document
    # "$unknown" cannot be known; out2 is made by running sed; "echo sed" and "compare" do not run sed
    assert len(seeds) == 5


def test_a_source_tree_gives_seeds_from_every_format_and_fixture_groups(tmp_path: Path) -> None:
    tree = write_tree(tmp_path)
    seeds = upstream_seeds(tree, "sed", script_flag="-f")
    sources = {seed.source for seed in seeds}
    assert sources == {
        "upstream:testsuite/jq.test",
        "upstream:testsuite/misc.pl",
        "upstream:testsuite/subst.sh",
        "upstream:testsuite/madding.sed",
        "upstream:testsuite/lonely.b",
    }
    fixture = [seed for seed in seeds if seed.source.endswith("madding.sed")]
    assert [seed.argv for seed in fixture] == [["-f", "madding.sed"]]  # with its input as an operand: a duplicate
    assert fixture[0].stdin == b"on the summit\n"
    lonely = next(seed for seed in seeds if seed.source.endswith("lonely.b"))
    assert lonely.argv == ["-f", "lonely.b"]
    as_operand = [seed.argv for seed in upstream_seeds(tree, "bc") if "lonely" in seed.source]
    assert as_operand == [["lonely.b"]]  # without a script-file option the program file is an operand
    assert len({(tuple(s.argv), s.stdin) for s in seeds}) == len(seeds)


def test_hostile_test_files_give_no_seeds_and_no_crash(tmp_path: Path) -> None:
    tests = tmp_path / "pkg" / "tests"
    tests.mkdir(parents=True)
    (tests / "broken.pl").write_text("my @Tests = ( ['x', q(unterminated, {IN=>\"a\n")
    (tests / "broken.sh").write_text("#!/bin/sh\nsed 'unterminated\ncat <<EOF\nnever closed\n")
    (tests / "binary.test").write_bytes(b"\0\1\2" * 100)
    (tests / "huge.b").write_text("1+1\n" * 40_000)
    (tests / "many.sh").write_text("sed p\n" * 5000 + "sed " + "x " * 100 + "\n")
    seeds = upstream_seeds(tmp_path / "pkg", "sed")
    assert all(seed.source != "upstream:tests/huge.b" for seed in seeds)  # over the size cap
    assert all(len(seed.argv) <= 40 for seed in seeds)
    assert len(seeds) <= 2  # duplicates collapse


def test_variables_a_script_sets_are_followed_and_top_level_test_scripts_read(tmp_path: Path) -> None:
    tree = tmp_path / "mawk-1.3"
    (tree / "test").mkdir(parents=True)
    (tree / "test" / "wc.awk").write_text("{ w += NF } END { print NR, w }\n")
    (tree / "test" / "data.dat").write_text("a b\nc\n")
    (tree / "test" / "mawktest").write_text('#!/bin/sh\nPROG="${MAWK:-../mawk}"\ndat=data.dat\n$PROG -f wc.awk $dat\n')
    (tree / "run-tests.sh").write_text("#!/bin/sh\nCMD=./mawk\n$CMD -W version > log\n")
    seeds = upstream_seeds(tree, "mawk", script_flag="-f")
    found = {seed.source: seed for seed in seeds if "wc.awk" in seed.argv or "version" in seed.argv}
    assert found["upstream:test/mawktest"].argv == ["-f", "wc.awk", "data.dat"]
    assert found["upstream:test/mawktest"].files["data.dat"] == b"a b\nc\n"
    assert found["upstream:run-tests.sh"].argv == ["-W", "version"]


def test_test_scripts_in_a_directory_per_tool_below_the_test_directory_are_read(tmp_path: Path) -> None:
    # bedtools keeps test/merge/test-merge.sh next to its a.bed; reading only test/ itself found no seed at all
    tool_dir = tmp_path / "bedtools-2.30" / "test" / "merge"
    tool_dir.mkdir(parents=True)
    (tool_dir / "a.bed").write_text("chr1\t10\t20\n")
    (tool_dir / "test-merge.sh").write_text("BT=${BT-../../bin/bedtools}\n$BT merge -i a.bed > obs\n")
    seeds = upstream_seeds(tmp_path / "bedtools-2.30", "bedtools")
    scripted = [seed for seed in seeds if seed.source == "upstream:test/merge/test-merge.sh"]
    assert [seed.argv for seed in scripted] == [["merge", "-i", "a.bed"]]
    assert scripted[0].files == {"a.bed": b"chr1\t10\t20\n"}


@pytest.mark.slow
def test_the_installed_bc_source_is_fetched_once_and_its_tests_found(tmp_path: Path) -> None:
    tree = fetch_source("bc", cache=tmp_path)
    assert tree.path is not None, tree.error
    again = fetch_source("bc", cache=tmp_path)
    assert again.path == tree.path  # the cache is reused
    seeds = upstream_seeds(tree.path, "bc")
    sources = {seed.source for seed in seeds}
    assert {"upstream:Test/fact.b", "upstream:Examples/pi.b"} <= sources
    assert fetch_source("no-such-package-xyz", cache=tmp_path).error is not None
