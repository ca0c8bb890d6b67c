"""Task sizes: from a coverage build's linked sources, or from the Debian source package with the same classifier."""

from __future__ import annotations

from pathlib import Path

from twinbench.collection.size import coverage_build_size, measure_size, source_package_size, source_tree_size
from twinbench.reference.coverage import BUILD_JSON, CoverageBuild
from twinbench.reference.coverage.accounting import source_tree_roles
from twinbench.reference.upstream_tests import SOURCE_CACHE

MAIN_C = '#include "main.h"\nint main(void)\n{\n    return helper();\n}\n'  # 5 code lines
MAIN_H = "/* the program's own header */\nint helper(void);\n"  # 1 code line
GENERATED_H = "/* A Bison parser, made by GNU Bison 3.8.2. */\nint yyparse(void);\nint yylex(void);\n"


def write(root: Path, rel: str, text: str) -> None:
    """Write a file of a fake source tree."""
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_a_source_tree_is_classified_by_the_coverage_accounting_leaving_out_packaging_and_harnesses(
    tmp_path: Path,
) -> None:
    write(tmp_path, "src/main.c", MAIN_C)
    write(tmp_path, "src/main.h", MAIN_H)
    write(tmp_path, "src/parse.y", "%%\nline: 'x' ;\n%%\n")
    write(tmp_path, "src/parse.c", GENERATED_H)
    write(tmp_path, "lib/getopt.c", "/* This file is part of the GNU C Library. */\nint getopt;\n")
    write(tmp_path, "gnulib-tests/test-foo.c", "int t;\n")
    write(tmp_path, "gnulib-tests/macros.h", "#define X 1\n")
    write(tmp_path, "contrib/tool/tool.c", "int tool;\n")
    write(tmp_path, "examples/simple.c", "int example;\n")
    write(tmp_path, "ossfuzz/fuzzer.c", "int fuzz;\n")
    write(tmp_path, "tests/unit.c", "int unit;\n")
    write(tmp_path, "debian/patches/fix.c", "int patch;\n")  # packaging, never the program
    write(tmp_path, ".pc/fix/src/main.c", MAIN_C)  # quilt's copy of a patched file
    write(tmp_path, "tools/gen.py", "print(1)\n")  # another language
    roles = source_tree_roles(tmp_path, "C")
    assert roles == {
        "src/main.c": "own",
        "src/main.h": "own",
        "src/parse.c": "generated",
        "lib/getopt.c": "vendored",
        "gnulib-tests/test-foo.c": "test",
        "gnulib-tests/macros.h": "vendored",
        "contrib/tool/tool.c": "vendored",
        "examples/simple.c": "test",
        "ossfuzz/fuzzer.c": "test",
        "tests/unit.c": "test",
    }
    size = source_tree_size(tmp_path, "C", "a toy tree")
    assert (size.lines_of_code, size.method, size.size_class) == (6, "source-package", "small")
    assert size.files_by_role == {"generated": 1, "own": 2, "test": 4, "vendored": 3}


def test_go_and_rust_trees_count_their_own_files_only(tmp_path: Path) -> None:
    write(tmp_path, "main.go", "package main\n\nfunc main() {}\n")
    write(tmp_path, "main_test.go", "package main\n")
    write(tmp_path, "vendor/github.com/x/y/y.go", "package y\n")
    write(tmp_path, "src/main.rs", "fn main() {}\n")
    assert source_tree_roles(tmp_path, "Go") == {
        "main.go": "own",
        "main_test.go": "test",
        "vendor/github.com/x/y/y.go": "vendored",
    }
    assert source_tree_roles(tmp_path, "Rust") == {"src/main.rs": "own"}


def test_a_coverage_build_size_leaves_out_headers_the_build_generated(tmp_path: Path) -> None:
    """jq's build writes parser.h beside its linked sources: a generated header is not the program's own."""
    tree = tmp_path / "toy-1"
    write(tree, "src/main.c", MAIN_C)
    write(tree, "src/main.h", MAIN_H)
    write(tree, "src/parser.h", GENERATED_H)
    write(tree, "src/config.h", "#define VERSION 1\n")
    write(tree, "src/config.h.in", "#undef VERSION\n")  # config.h was made from it
    build = CoverageBuild(
        package="toy",
        version="1-1",
        source_dir=tree,
        binary=tree / "toy",
        object_dir_prefix=str(tree),
        strip_components=0,
        gcda_files=[],
        source_files=["src/main.c"],
    )
    (tmp_path / BUILD_JSON).write_text(build.model_dump_json())
    size = coverage_build_size(tmp_path)
    assert (size.lines_of_code, size.method, size.source) == (6, "coverage-build", "coverage build of toy 1-1")
    assert size.files_by_role == {"own": 2}


def test_figlet_is_sized_from_its_debian_source_package() -> None:
    """The real figlet source package (about 200 KB, fetched once into the shared source cache)."""
    measured = source_package_size("figlet", "C", SOURCE_CACHE)
    assert measured.size is not None, measured.problem
    size = measured.size
    assert size.method == "source-package" and size.source.startswith("source package figlet 2.2.5-")
    assert size.files_by_role == {"own": 11}  # figlet.c, chkfont.c, getopt.c, the zip reader and utf8
    assert 2_500 < size.lines_of_code < 5_000 and size.size_class == "small"


def test_a_size_that_cannot_be_measured_says_why() -> None:
    missing = measure_size("no-such-package-twinbench", "C", None, SOURCE_CACHE)
    assert missing.size is None and "no-such-package-twinbench is not an installed Debian package" in missing.problem
    unknown = measure_size("figlet", "Cobol", None, SOURCE_CACHE)
    assert unknown.size is None and unknown.problem == "no source files are known for Cobol"
    broken = measure_size("figlet", "C", Path("/nonexistent/coverage"), SOURCE_CACHE)
    assert broken.size is None and "coverage-build.json: cannot read" in broken.problem
