"""Honest accounting of coverage: roles of files, grammar files through #line, headline over own sources."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

from twinbench.reference.coverage.accounting import classify_source, classify_tree_path, coverage_report
from twinbench.reference.coverage.gcov import gcov_lines

GRAMMAR = "%%\nline: 'x' ;\n%%\n"


def write(root: Path, rel: str, text: str) -> None:
    """Write a file of a fake source tree."""
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_roles_of_a_tree_with_grammar_gnulib_glibc_copies_and_tests(tmp_path: Path) -> None:
    write(tmp_path, "src/parse.y", GRAMMAR)
    write(tmp_path, "src/parse.c", "/* A Bison parser, made by GNU Bison 3.8. */\nint x;\n")
    write(tmp_path, "src/scan.l", "%%\n")
    write(tmp_path, "src/scan.c", "int y;\n")  # generated from scan.l even without a marker
    write(tmp_path, "src/main.c", "int main(void) { return 0; }\n")
    write(tmp_path, "lib/number.c", "/* the program's own arithmetic */\n")
    write(tmp_path, "lib/xalloc.c", "void *xmalloc(void);\n")
    write(tmp_path, "lib/getopt.c", "/* This file is part of the GNU C Library. */\n")
    write(tmp_path, "m4/gnulib-comp.m4", "AC_DEFUN([gl_FILE_LIST], [\n  lib/xalloc.c\n  lib/xalloc.h\n])\n")
    write(tmp_path, "third_party/zlib/inflate.c", "int z;\n")
    write(tmp_path, "tests/helper.c", "int t;\n")
    roles = {
        rel: classify_source(tmp_path, rel)
        for rel in (
            "src/parse.y",
            "src/parse.c",
            "src/scan.l",
            "src/scan.c",
            "src/main.c",
            "lib/number.c",
            "lib/xalloc.c",
            "lib/getopt.c",
            "third_party/zlib/inflate.c",
            "tests/helper.c",
            "src/gone.c",
        )
    }
    assert roles == {
        "src/parse.y": "own",
        "src/parse.c": "generated",
        "src/scan.l": "own",
        "src/scan.c": "generated",
        "src/main.c": "own",
        "lib/number.c": "own",
        "lib/xalloc.c": "vendored",
        "lib/getopt.c": "vendored",
        "third_party/zlib/inflate.c": "vendored",
        "tests/helper.c": "test",
        "src/gone.c": "generated",  # named by the compiler but absent from the tree: made during the build
    }


def test_rust_and_go_tree_paths() -> None:
    assert classify_tree_path("src/main.rs") == "own"
    assert classify_tree_path("vendor/github.com/x/y/y.go") == "vendored"
    assert classify_tree_path("main_test.go") == "test"


def test_headline_counts_only_own_sources_and_every_file_is_listed() -> None:
    report = coverage_report(
        {
            "main.c": ("own", {1: 1, 2: 0}),
            "bc.y": ("own", {10: 3, 11: 0, 12: 0, 13: 1}),
            "bc.c": ("generated", {1: 1, 2: 1}),
            "lib/xalloc.c": ("vendored", {1: 0}),
            "aho-corasick-0.7.19/src/lib.rs": ("dependency", {1: 5}),
        }
    )
    assert (report.lines_total, report.lines_covered, report.percent) == (6, 3, 50.0)
    assert [f.file for f in report.files] == sorted(
        ["main.c", "bc.y", "bc.c", "lib/xalloc.c", "aho-corasick-0.7.19/src/lib.rs"]
    )
    assert report.by_role["generated"].lines_covered == 2 and report.by_role["vendored"].percent == 0.0
    assert report.by_role["dependency"].files == 1
    assert report.model_dump()["files"][0]["role"] in {"own", "generated", "vendored", "dependency"}


def test_grammar_lines_count_through_line_directives_written_on_another_machine(tmp_path: Path) -> None:
    # Upstream tarballs ship bison output whose #line names the maintainer's build dir (bc: "../../bc/bc.y").
    tree = tmp_path / "pkg"
    write(tree, "src/gram.y", GRAMMAR + "\n" * 20)
    write(
        tree,
        "src/gram.c",
        textwrap.dedent(
            """\
            /* A Bison parser, made by GNU Bison 3.0.2.  */
            #include <stdio.h>
            #line 5 "../../src/gram.y"
            int rule(int x) {
              if (x > 1)
                return x * 2;
              return 0;
            }
            #line 10 "gram.c"
            int main(int argc, char **argv) { (void)argv; printf("%d\\n", rule(argc)); return 0; }
            """
        ),
    )
    src = tree / "src"
    subprocess.run(["gcc", "--coverage", "-O0", "-o", "gram", "gram.c"], cwd=src, check=True)
    subprocess.run([str(src / "gram")], cwd=src, check=True, capture_output=True)
    files = {rel: lines for _cwd, rel, lines in gcov_lines([str(src / "gram.gcno")], tree)}
    assert "src/gram.y" in files, files.keys()
    assert files["src/gram.y"].get(6) == 1 and files["src/gram.y"].get(7) == 0  # `if` ran, `return x * 2` did not
    assert classify_source(tree, "src/gram.y") == "own" and classify_source(tree, "src/gram.c") == "generated"
