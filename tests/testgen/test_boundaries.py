"""Inputs at a program's boundaries: numbers its source compares with, line ends, code points across every
bit a UTF-8 form carries, deflate streams of every shape and damaged ones, data files paired with switches."""

from __future__ import annotations

import io
import random
import subprocess
import zipfile
import zlib
from pathlib import Path

import pytest

from twinbench.protocols import Sandbox
from twinbench.testgen.constants import near, numbers_in, source_numbers
from twinbench.testgen.datafiles import MULTIBYTE, make_variant
from twinbench.testgen.inputs import value_for_hint
from twinbench.testgen.record import CaseSpec

FIGLET = Path("/usr/bin/figlet")
STANDARD = Path("/usr/share/figlet/standard.flf")
needs_figlet = pytest.mark.skipif(not FIGLET.exists() or not STANDARD.exists(), reason="figlet is not installed")
FONT = b"flf2a$ 2 1 8 -1 1\ncomment\n" + b"".join(b"%c@\n%c@@\n" % (c, c) for c in range(32, 127))


def figlet(argv: list[str], files: dict[str, bytes], work: Path) -> subprocess.CompletedProcess[bytes]:
    work.mkdir(exist_ok=True)
    for name, content in files.items():
        (work / name).write_bytes(content)
    return subprocess.run([str(FIGLET), *argv], cwd=work, capture_output=True, timeout=10, check=False)


def test_compared_defined_and_case_numbers_are_found_and_shift_amounts_are_not() -> None:
    code = """
    #define MAXLEN 255   /* widest character */
    #define NAME "x"
    if (maxlen > MAXLEN) return;   // 4096 in a comment is not code
    if (0x7f <= c) c = c << 16;
    switch (c) { case 27: break; }
    while (n != 1000L) n >>= 3;
    """
    assert sorted(numbers_in(code)) == [27, 127, 255, 1000]


def test_source_numbers_rank_the_most_compared_first(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.c").write_text("if (x > 99) a(); if (y >= 99) b(); if (z == 7) c();")
    (tmp_path / "src" / "b.h").write_text("#define LIMIT 4000\nif (w < 99) d();")
    (tmp_path / "notes.txt").write_text("if (x > 5)")  # not a source file
    assert source_numbers(tmp_path) == [99, 7, 4000]
    assert source_numbers(tmp_path, limit=1) == [99]
    assert source_numbers(None) == [] and source_numbers(tmp_path / "missing") == []
    assert near([255]) == [254, 255, 256]


def test_numeric_option_values_try_the_sources_numbers_and_their_neighbours() -> None:
    rng = random.Random(5)
    values = {value_for_hint("outputwidth", rng, [], numbers=near([255])) for _ in range(400)}
    assert {"254", "255", "256"} <= values
    plain = {value_for_hint("outputwidth", random.Random(5), []) for _ in range(400)}
    assert not {"254", "255", "256"} & plain


def test_a_header_edit_tries_the_sources_numbers() -> None:
    edited = {make_variant("header_edit", FONT, "x.flf", random.Random(seed), [254, 255, 256]) for seed in range(60)}
    headers = {content.split(b"\n")[0] for content in edited}
    assert any(b" 255 " in header or header.endswith(b" 255") for header in headers)


@needs_figlet
def test_a_font_exactly_as_wide_as_figlets_limit_is_read_and_one_wider_is_refused(tmp_path: Path) -> None:
    """figlet.c refuses a font whose width field is > 255 (MAXLEN): only 255 and 256 tell `>` from `>=`."""
    font = STANDARD.read_bytes()
    fields = font.split(b"\n", 1)[0].split(b" ")
    answers = []
    for width in (b"255", b"256"):
        header = b" ".join([*fields[:3], width, *fields[4:]])  # flf2a$ height baseline maxlen ...
        edited = header + b"\n" + font.split(b"\n", 1)[1]
        answers.append(figlet(["-f", "data.flf", "hi"], {"data.flf": edited}, tmp_path / width.decode()))
    assert answers[0].returncode == 0 and answers[0].stdout
    assert answers[1].returncode == 1 and b"too wide" in answers[1].stderr


def test_cr_line_ends_replace_every_line_end() -> None:
    assert make_variant("cr", b"a\nb\r\nc\n", "x", random.Random(0)) == b"a\rb\rc\r"


@needs_figlet
def test_figlet_reads_a_font_with_cr_line_ends_as_the_original(tmp_path: Path) -> None:
    font = STANDARD.read_bytes()
    original = figlet(["-f", "data.flf", "Hi!"], {"data.flf": font}, tmp_path / "lf")
    crs = figlet(
        ["-f", "data.flf", "Hi!"], {"data.flf": make_variant("cr", font, "x", random.Random(0))}, tmp_path / "cr"
    )
    assert original.returncode == crs.returncode == 0 and original.stdout == crs.stdout


def test_truncation_cuts_inside_the_header_too() -> None:
    cuts = {make_variant("truncated", FONT, "x.flf", random.Random(seed)) for seed in range(40)}
    assert any(len(cut) < len(FONT.split(b"\n")[0]) for cut in cuts)
    assert all(FONT.startswith(cut) for cut in cuts)


def test_multibyte_code_points_cover_every_plane_group_of_four_byte_utf8() -> None:
    """Bits 16-20 of a 4-byte form: planes 1, 2, 3, 14 and 16 each set other bits of the lead bytes."""
    four_byte = [item.decode() for item in MULTIBYTE if len(item) == 4 and item[0] >= 0xF0 and item[0] < 0xF8]
    planes = {ord(text) >> 16 for text in four_byte}
    assert {1, 2, 3, 14, 16} <= planes
    assert b"\xed\xa0\x80" in MULTIBYTE  # a surrogate's encoding, which a strict decoder refuses


def test_zip_levels_make_differently_shaped_streams_that_still_inflate() -> None:
    streams = set()
    for seed in range(12):
        archive = make_variant("zip_levels", FONT * 4, "x.flf", random.Random(seed))
        assert zipfile.ZipFile(io.BytesIO(archive)).read("x.flf") == FONT * 4
        streams.add(archive)
    assert len(streams) >= 6


def test_a_corrupt_zip_keeps_its_headers_and_damages_the_deflate_stream() -> None:
    damaged = 0
    for seed in range(20):
        archive = make_variant("zip_corrupt", FONT, "x.flf", random.Random(seed))
        assert archive.startswith(b"PK\x03\x04") and b"PK\x05\x06" in archive
        try:
            content = zipfile.ZipFile(io.BytesIO(archive)).read("x.flf")
        except (zipfile.BadZipFile, zlib.error):
            damaged += 1
        else:
            damaged += content != FONT
    assert damaged == 20


def test_each_data_file_is_seeded_with_each_switch() -> None:
    from tests.testgen.test_testgen_variety import figlet_synthesizer

    synth = figlet_synthesizer()
    seeds = [spec.argv for spec in synth._data_file_seeds()]
    switches = [option.flags[0] for option in synth.model.options if not option.takes_value]
    assert "-L" in switches
    assert any(argv[:1] == ["-f"] and "-L" in argv[2:3] for argv in seeds)


def test_token_edits_keep_a_command_files_commands_and_vary_their_arguments() -> None:
    """figlet's `g 1 94 I` (designate a 94-character set to G1) becomes `g 2 94 I`, `g 1 96 I`, `g R 0`...:
    the same commands with arguments the package's own files never give them."""
    from twinbench.testgen.datafiles import edit_tokens

    control = b"flc2a\n# comment 1 2 3\ng 0 94 J\ng 1 94 I\ng L 0\ng R 1\nt a-z A-Z\n"
    edited = {edit_tokens(control, random.Random(seed)) for seed in range(200)}
    lines = {line for content in edited for line in content.split(b"\n")}
    assert {b"g 2 94 I", b"g 1 96 I", b"g R 0"} <= lines
    assert all(content.split(b"\n")[1] == b"# comment 1 2 3" for content in edited)  # comments stay
    assert all(len(content.split(b"\n")) == len(control.split(b"\n")) for content in edited)
    assert any(
        b"g 1 255 I" in content for content in (edit_tokens(control, random.Random(s), [255]) for s in range(200))
    )


def test_encoded_text_also_goes_through_copies_of_its_file_with_varied_commands() -> None:
    from tests.testgen.test_testgen_variety import figlet_synthesizer

    designations = {b"g 0 94 J", b"g 1 94 I"}  # jis0201.flc's own

    def designated(content: bytes) -> set[bytes]:
        return {line for line in content.split(b"\n") if line.startswith(b"g ") and line[2:3].isdigit()}

    varied: list[set[bytes]] = []
    # which words an edit hits is random: over a few generator seeds some copy designates other registers
    for seed in range(4):
        synth = figlet_synthesizer(seed)
        originals = {content for _, content in synth.data_files}
        iso2022 = [spec for spec in synth._encoded_seeds() if b"\x1b" in spec.stdin and spec.files]
        edited = [spec for spec in iso2022 if not set(spec.files.values()) <= originals]
        varied += [designated(content) for spec in edited for content in spec.files.values() if designated(content)]
    assert varied and any(found != designations for found in varied)


def test_each_systematic_form_is_a_behavior_of_its_own() -> None:
    """A font with CR line ends runs the lines a font with a stray CR runs, so coverage keeps one of them;
    figlet's fault in dropping the byte after a lone CR shows only with the first. The origin names the form
    and exploration keeps one run per form, option and outcome."""
    from tests.testgen.test_testgen_variety import figlet_synthesizer
    from twinbench.protocols import ExecResult
    from twinbench.testgen.explore import behavior_features

    synth = figlet_synthesizer()
    seeds = list(synth.seeds())
    origins = {spec.origin for spec in seeds}
    assert {"data files:cr", "data files:token_edit", "data files:zip_corrupt", "encodings:iso2022#17"} <= origins
    assert len({origin for origin in origins if origin.startswith("encodings:iso2022#")}) == 113 + 2  # and #all
    # through the file made for the encoding (it switches figlet to UTF-8), each sample is a form of its own:
    # thirty control files that only mention UTF-8 had taken the one run kept of each
    assert {f"encodings:utf8#{index}@utf8.flc" for index in range(10)} <= origins
    assert "encodings:hz#0@hz.flc" in origins and not any("@8859" in origin for origin in origins)
    # every sample of an encoding in one stream, both ways: a register designated 94x94 and then a 94-set
    # must forget it was double-byte, which no single sample shows
    joined = [spec for spec in seeds if spec.origin in ("encodings:iso2022#all", "encodings:iso2022#all reversed")]
    assert len(joined) == 4  # through -C and -f, each way
    for spec in joined:
        assert b"\x1b$+" in spec.stdin and b"\x1b+" in spec.stdin
    cr = next(spec for spec in seeds if spec.origin == "data files:cr" and spec.argv[:1] == ["-f"])
    result = ExecResult(exit_code=0, stdout=b"x\n", stderr=b"")
    assert ("form", "data files:cr", "-f", 0) in set(behavior_features(cr, result, frozenset()))
    plain = cr.model_copy(update={"origin": "mutation"})
    assert not [f for f in behavior_features(plain, result, frozenset()) if f[0] == "form"]


@pytest.mark.skipif(not Path("/usr/bin/figlet").exists(), reason="figlet is not installed")
def test_a_switch_that_changes_only_one_data_files_output_is_a_behavior_of_its_own(bwrap: Sandbox) -> None:
    """figlet's -L prints every left-to-right font as it is and reverses ivrit.flf, the one right-to-left font:
    the lines -L runs are the same with both, so coverage keeps the first font, and a fault in how -L meets a
    font's own direction (`right2left < 0` made `< 1`) shows only with ivrit. Exploration compares each data
    file run with a switch to the same run without it, and keeps one run where the switch changed the output."""
    from tests.testgen.test_testgen_variety import figlet_synthesizer
    from twinbench.formats import ReferenceSpec, Task
    from twinbench.testgen.explore import open_explorer

    fonts = {name: Path("/usr/share/figlet", name).read_bytes() for name in ("ivrit.flf", "standard.flf")}
    chosen: list[CaseSpec] = []
    for spec in figlet_synthesizer().seeds():
        font = next((name for name, content in fonts.items() if content in spec.files.values()), None)
        if font is None or spec.argv[:1] != ["-f"]:
            continue
        if spec.origin == "data files:with -L" or (spec.origin == "data files:as_is" and "-L" not in spec.argv):
            chosen.append(spec)
    switched = [spec for spec in chosen if spec.origin == "data files:with -L"]
    assert len(switched) == 2, [spec.argv for spec in chosen]
    task = Task(id="figlet", reference=ReferenceSpec(binary="/usr/bin/figlet"))
    with open_explorer(task, bwrap, 2, None, None, []) as explorer:
        ran = explorer.trace(chosen)
    effects = {
        next(name for name, content in fonts.items() if content in c.spec.files.values()): feature
        for c in ran
        for feature in c.features
        if feature[:3] == ("form", "data files:with -L", "effect")
    }
    assert effects == {
        "ivrit.flf": ("form", "data files:with -L", "effect", "changed"),
        "standard.flf": ("form", "data files:with -L", "effect", "same"),
    }


@pytest.mark.skipif(not Path("/usr/bin/figlet").exists(), reason="figlet is not installed")
def test_both_sides_of_a_limit_the_source_compares_with_are_kept(bwrap: Sandbox) -> None:
    """figlet takes a font whose width field is 255 and refuses 256 (`maxlen > MAXLEN`). Both run lines other
    fonts run, so coverage keeps neither; a `>=` for `>` shows only at 255. Each header number of a font is
    swept over the numbers the source compares with and their neighbours, and exploration keeps the two runs
    on either side of the value where figlet's answer turns, and nothing where it does not."""
    import random

    from twinbench.demo import DEMO_TASK
    from twinbench.formats import ReferenceSpec, Task, load_task
    from twinbench.testgen.explore import open_explorer
    from twinbench.testgen.inputs import detect_kinds
    from twinbench.testgen.pipeline import load_cli_model, read_generation_inputs
    from twinbench.testgen.synthesize import Synthesizer

    task_dir = load_task(DEMO_TASK)
    inputs = read_generation_inputs(task_dir, load_cli_model(task_dir), upstream_tests=False)
    synth = Synthesizer(
        inputs.model,
        random.Random(3),
        detect_kinds(inputs.docs_text),
        inputs.vocabulary,
        inputs.data_files,
        docs_text=inputs.docs_text,
        numbers=near([255, 40]),
    )
    swept = [spec for spec in synth.seeds() if spec.origin.startswith("thresholds:-f mini.flf header number 3=")]
    # the smallest values are swept too (kept as edges of their own: see the test after this one)
    assert sorted(int(spec.origin.rpartition("=")[2]) for spec in swept) == [-1, 0, 1, 2, 39, 40, 41, 254, 255, 256]
    swept = [spec for spec in swept if int(spec.origin.rpartition("=")[2]) > 2]
    task = Task(id="figlet", reference=ReferenceSpec(binary="/usr/bin/figlet"))
    expected = [
        ("form", "threshold -f mini.flf header number 3", 255),
        ("form", "threshold -f mini.flf header number 3", 256),
    ]
    with open_explorer(task, bwrap, 2, None, None, []) as explorer:
        ran = explorer.trace(swept)
    assert sorted(feature for c in ran for feature in c.features if feature[0] == "form") == expected
    # 255 in one batch and 256 in the next: the run of 255 is kept when 256 shows the turn, once
    by_value = {int(spec.origin.rpartition("=")[2]): spec for spec in swept}
    with open_explorer(task, bwrap, 2, None, None, []) as explorer:
        explorer.run([by_value[254], by_value[255]])
        explorer.run([by_value[256]])
        kept = [(c.spec.origin, f) for c in explorer.corpus for f in c.features if f[0] == "form"]
        cases = [c.spec.id for c in [*explorer.corpus, *explorer.reserve, *explorer.archive]]
    assert sorted(feature for _, feature in kept) == expected
    assert len(cases) == len(set(cases))


@pytest.mark.skipif(not Path("/usr/bin/figlet").exists(), reason="figlet is not installed")
def test_the_smallest_values_of_a_sweep_are_kept_whatever_their_neighbours_did(bwrap: Sandbox) -> None:
    """figlet accepts -w 0, 1, 2 and 40 alike, so no acceptance turn keeps any of them; yet -w 1 means "no
    limit" and -w 2 one column (`outputwidth > 1` made `> 0` shows only at 1). The values -1 to 2 are kept
    as edges of their own; 40, between accepted neighbours, is not."""
    from twinbench.formats import ReferenceSpec, Task
    from twinbench.testgen.explore import open_explorer
    from twinbench.testgen.seeds import threshold_origin

    values = (0, 1, 2, 39, 40, 41)
    specs = [CaseSpec(id=f"w{v}", argv=["-w", str(v), "Hi"], origin=threshold_origin("-w", v)) for v in values]
    task = Task(id="figlet", reference=ReferenceSpec(binary="/usr/bin/figlet"))
    with open_explorer(task, bwrap, 2, None, None, []) as explorer:
        ran = explorer.trace(specs)
    kept = sorted(feature[2] for c in ran for feature in c.features if feature[:2] == ("form", "threshold -w"))
    assert kept == [0, 1, 2]
    outputs = [subprocess.run(["figlet", "-w", w, "Hi"], capture_output=True).stdout for w in ("1", "2")]
    assert outputs[0] != outputs[1]
