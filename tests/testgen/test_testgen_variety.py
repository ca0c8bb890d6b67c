"""Kinds of input the generator makes beyond options: the package's data files (every file, by kind, and
damaged copies), byte inputs in the encodings the docs name, and text covering every pair of characters.

The figures come from the real figlet: its frozen docs (the demo task) and its installed data files."""

from __future__ import annotations

import io
import itertools
import random
import subprocess
import zipfile
from pathlib import Path

import pytest

from twinbench.demo import DEMO_TASK
from twinbench.formats import load_task
from twinbench.testgen.datafiles import (
    MULTIBYTE,
    by_kind,
    entry_tags,
    kinds_for_option,
    make_variant,
    with_c_escapes,
    with_entry_tags,
)
from twinbench.testgen.inputs import (
    UTF8_SPREAD,
    detect_kinds,
    encoded_samples,
    encodings_named,
    iso2022_samples,
    pair_chunks,
    utf8_code_points,
    utf8_sweeps,
)
from twinbench.testgen.pipeline import load_cli_model, read_generation_inputs
from twinbench.testgen.record import CaseSpec
from twinbench.testgen.synthesize import DATA_FILES, ENCODINGS, Synthesizer

FIGLET = Path("/usr/bin/figlet")
needs_figlet = pytest.mark.skipif(not FIGLET.exists(), reason="figlet is not installed")
FONT = b"flf2a$ 2 1 8 -1 1\ncomment\n" + b"".join(b"%c@\n%c@@\n" % (c, c) for c in range(32, 127))


def figlet_synthesizer(seed: int = 3) -> Synthesizer:
    task_dir = load_task(DEMO_TASK)
    inputs = read_generation_inputs(task_dir, load_cli_model(task_dir), upstream_tests=False)
    return Synthesizer(
        inputs.model,
        random.Random(seed),
        detect_kinds(inputs.docs_text),
        inputs.vocabulary,
        inputs.data_files,
        docs_text=inputs.docs_text,
    )


def run_figlet(spec: CaseSpec, work: Path) -> subprocess.CompletedProcess[bytes]:
    for name, content in spec.files.items():
        (work / name).write_bytes(content)
    return subprocess.run(
        [str(FIGLET), *spec.argv], cwd=work, input=spec.stdin, capture_output=True, timeout=10, check=False
    )


def test_data_file_variants_change_what_a_reader_of_them_sees() -> None:
    rng = random.Random(0)
    assert make_variant("crlf", b"a\nb\r\nc\n", "x.flf", rng) == b"a\r\nb\r\nc\r\n"
    assert make_variant("truncated", FONT, "x.flf", rng).count(b"\n") < FONT.count(b"\n")
    long = make_variant("long_line", FONT, "x.flf", rng)
    assert max(len(line) for line in long.split(b"\n")) >= 60 * 2
    edited = make_variant("header_edit", FONT, "x.flf", rng)
    assert edited.split(b"\n")[0] != FONT.split(b"\n")[0] and edited.split(b"\n")[1:] == FONT.split(b"\n")[1:]
    archive = zipfile.ZipFile(io.BytesIO(make_variant("zip", FONT, "dir/x.flf", rng)))
    assert archive.read("x.flf") == FONT
    damaged = zipfile.ZipFile(io.BytesIO(make_variant("zip_bad_crc", FONT, "x.flf", rng)))
    with pytest.raises(zipfile.BadZipFile):
        damaged.read("x.flf")
    # the deflate block type (RFC 1951 BTYPE, bits 1-2 of the member's first byte): dynamic, fixed, stored
    header = 30 + len("x.flf")
    for how, block_type in (("zip", 2), ("zip_fixed", 1), ("zip_stored", 0)):
        archive_bytes = make_variant(how, FONT, "x.flf", rng)
        assert (archive_bytes[header] >> 1) & 3 == block_type, how
        assert zipfile.ZipFile(io.BytesIO(archive_bytes)).read("x.flf") == FONT


def test_the_docs_tie_figlets_control_file_option_to_its_flc_files() -> None:
    task_dir = load_task(DEMO_TASK)
    model = load_cli_model(task_dir)
    docs = read_generation_inputs(task_dir, model, upstream_tests=False).docs_text
    control = next(option for option in model.options if option.flags == ["-C"])
    assert kinds_for_option(control, docs, [".flc", ".flf", ".tlf"])[0] == ".flc"
    assert set(by_kind([("/a/x.flc", b""), ("/a/y.flf", b""), ("/a/z.flc", b"")])) == {".flc", ".flf"}


def test_encodings_are_the_ones_the_text_names() -> None:
    named = encodings_named("Input may be ISO 2022, HZ or UTF-8; the hz field and Hz are not HZ-named")
    assert named[:3] == ["iso2022", "hz", "utf8"]
    assert encodings_named("a frequency of 50 hz") == []
    assert encoded_samples("plain text") == []


def test_pair_text_has_every_ordered_pair_of_printable_characters() -> None:
    pairs = {pair for line in pair_chunks(24) for pair in itertools.pairwise(line)}
    assert len(pairs) == 94 * 94 and ("(", ")") in pairs and ("~", "[") in pairs


@needs_figlet
def test_figlet_seeds_reach_hz_mode_through_its_own_control_file(tmp_path: Path) -> None:
    """hz.flc says it sets HZ mode; the seed that feeds it HZ text makes figlet decode it (its output then
    differs from the same bytes with no control file), and every .flc of the package is tried with -C."""
    synth = figlet_synthesizer()
    seeds = list(synth.seeds())
    hz_seed = next(
        spec
        for spec in seeds
        if spec.origin.startswith(f"{ENCODINGS}:hz")
        and spec.argv[:1] == ["-C"]
        and b"~{" in spec.stdin
        and b"HZ" in spec.files[next(iter(spec.files))]
    )
    plain = hz_seed.model_copy(update={"argv": [], "files": {}})
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with_control = run_figlet(hz_seed, tmp_path / "a")
    assert with_control.returncode == 0
    assert with_control.stdout != run_figlet(plain, tmp_path / "b").stdout
    flc_files = {name for name, _ in synth.data_kinds[".flc"]}
    tried = {
        content
        for spec in seeds
        if spec.origin.startswith(f"{DATA_FILES}:") and spec.argv[:1] == ["-C"]
        for content in spec.files.values()
    }
    assert {content for name, content in synth.data_files if name in flc_files} <= tried


@needs_figlet
def test_a_font_with_an_edited_header_changes_figlets_output(tmp_path: Path) -> None:
    """The edit (here the layout field, 0 -> 127) reaches the font reader; a CRLF copy reads the same."""
    font = Path("/usr/share/figlet/standard.flf").read_bytes()
    outputs = []
    for how in ("as_is", "header_edit", "crlf"):
        (tmp_path / how).mkdir()
        content = make_variant(how, font, "standard.flf", random.Random(0))
        spec = CaseSpec(id="t", argv=["-f", "data.flf", "(x)"], files={"data.flf": content})
        outputs.append(run_figlet(spec, tmp_path / how).stdout)
    assert outputs[0] != outputs[1] and outputs[0] == outputs[2]


def test_iso2022_samples_cover_every_register_and_shift() -> None:
    """Each designation (G0-G3; 94, 96 and 94x94 sets) with each final byte and each shift that invokes it."""
    samples = iso2022_samples()
    assert len(samples) == 108 and len(set(samples)) == 108
    assert b"\x1b-A\x0e" in b"".join(samples) and b"\x1b$+B\x1b|" in b"".join(samples)
    assert all(sample.endswith(b"\x0f\x1b(B.\n") for sample in samples)


@needs_figlet
def test_multibyte_font_lines_reach_figlets_utf8_reader(tmp_path: Path) -> None:
    """TLF fonts are UTF-8: the multibyte variant puts characters of every length (and broken ones) into glyph
    lines, and figlet's output changes with them."""
    font = Path("/usr/share/figlet/future.tlf").read_bytes()
    outputs = []
    for how in ("as_is", "multibyte"):
        (tmp_path / how).mkdir()
        content = make_variant(how, font, "future.tlf", random.Random(4))
        every_character = "".join(chr(code) for code in range(33, 127))
        spec = CaseSpec(id="t", argv=["-w", "10000", "-f", "data.tlf", every_character], files={"data.tlf": content})
        outputs.append(run_figlet(spec, tmp_path / how).stdout)
    assert outputs[0] != outputs[1]


def test_utf8_sweeps_hold_every_lead_byte_with_every_following_byte() -> None:
    """Per length, one line per lead byte with all 64 values of the byte after it: a wrong sign or shift in a
    decoder's arithmetic lands some code point on a printable character (E1 BF 81 read as 0x1000 - 0xFC0 + 1
    is 'A')."""
    two, three, four, five, six = utf8_sweeps()
    assert [s.count(b"\n") for s in (two, three, four, five, six)] == [32, 16, 8, 4, 2]
    assert b"\xe1\xbf\x81" in three and b"\xc2\x80" in two and b"\xf4\xbf\x80\x81" in four
    assert all(len(line) == 64 * 3 for line in three.split(b"\n")[:-1])
    # the ends of the range an old-style decoder accepts: C0 and C1 (overlong), F5 to FD (5 and 6 bytes)
    assert two.startswith(b"\xc0\x80") and b"\xf7\xbf\x80\x81" in four and six.startswith(b"\xfc\x80")
    assert b"\xfd\xbf\x80\x80\x80\x81" in six


@needs_figlet
def test_iso2022_finals_reach_a_control_files_mapping(tmp_path: Path) -> None:
    """jis0201.flc maps the sets whose final bytes are J and I: text designated with those finals prints
    something else than with A, so the final byte a decoder keeps is checked."""
    control = Path("/usr/share/figlet/jis0201.flc").read_bytes()
    outputs = {}
    for sample in iso2022_samples():
        if sample.startswith(b"\x1b)") and sample[3:4] == b"\x0e":
            (tmp_path / str(len(outputs))).mkdir()
            spec = CaseSpec(id="t", argv=["-C", "data.flc"], stdin=sample, files={"data.flc": control})
            outputs[sample[2:3]] = run_figlet(spec, tmp_path / str(len(outputs))).stdout
    assert set(outputs) == {b"A", b"B", b"J", b"I"}
    assert outputs[b"J"] != outputs[b"A"] and outputs[b"I"] != outputs[b"J"]


def test_numeric_values_include_the_integer_limits() -> None:
    """Counts and widths reach the 32- and 64-bit edges now and then, not only small numbers."""
    from twinbench.testgen.inputs import INTEGER_LIMITS, value_for_hint

    rng = random.Random(3)
    values = {value_for_hint("outputwidth", rng, []) for _ in range(400)}
    assert {"2147483647", "4294967296"} <= values and "80" in values
    assert len(values & set(INTEGER_LIMITS)) >= 6


@needs_figlet
def test_a_width_at_the_32_bit_limit_is_a_stable_out_of_memory_case(tmp_path: Path, bwrap: object) -> None:
    """figlet -w 2147483647 asks for 8 GB: the sandbox's memory limit makes that a deterministic exit 1, and
    it stays so with the limits doubled (recording's host probe), so the case is kept."""
    from tests.helpers_task import small_figlet_task
    from twinbench.testgen import record_reference

    task = load_task(small_figlet_task(tmp_path / "task", count=1)).task
    spec = CaseSpec(id="t0", argv=["-w", "2147483647", "hi"])
    suite, report = record_reference(task, [spec], bwrap, host_probe=True)  # type: ignore[arg-type]
    assert [case.id for case in suite.cases] == ["t0"], report.dropped
    assert suite.cases[0].expect.exit_code == 1 and b"Out of memory" in suite.cases[0].expect.stderr


def test_header_cuts_leave_out_each_trailing_field_in_turn() -> None:
    from twinbench.testgen.datafiles import header_cuts

    font = b"flf2a$ 6 5 16 15 11 0 24463\nrow one\nrow two"
    cuts = header_cuts(font)
    assert [cut.split(b"\n")[0] for cut in cuts][-2:] == [b"flf2a$ 6 5 16 15 11", b"flf2a$ 6 5 16 15 11 0"]
    assert len(cuts) == 7 and all(cut.endswith(b"\nrow one\nrow two") for cut in cuts)


@needs_figlet
def test_numbers_respelled_in_a_control_file_keep_their_values_for_figlet(tmp_path: Path) -> None:
    """Octal and upper-case hex spellings of a control file's codes are the same codes to figlet's reader
    (a reader that misparses one form changes the output), and the header line is left alone."""
    control = b"flc2a\n65 0x61\n0x42 98\nt \\67 \\0x63\n"
    respelled = make_variant("number_forms", control, "x.flc", random.Random(2))
    assert respelled.startswith(b"flc2a\n") and respelled != control
    assert b"0X" in respelled or b"0x" in respelled
    outputs = []
    for index, content in enumerate((control, respelled)):
        (tmp_path / str(index)).mkdir()
        spec = CaseSpec(id="t", argv=["-C", "data.flc", "ABC"], files={"data.flc": content})
        outputs.append(run_figlet(spec, tmp_path / str(index)).stdout)
    assert outputs[0] == outputs[1] and outputs[0] != run_figlet(CaseSpec(id="t", argv=["ABC"]), tmp_path).stdout


def test_named_characters_are_the_printable_codes_a_data_file_names() -> None:
    from twinbench.testgen.datafiles import named_characters

    control = b"flc2a\n0x5B\t0x00C4\t# LEFT BRACKET\nt \\0134 \\0326\n7 0x41\n0x99 0x1234\n"
    assert named_characters(control) == b"[\xc4\\\xd6A"


@needs_figlet
def test_text_of_a_control_files_named_characters_shows_its_mapping(tmp_path: Path) -> None:
    """646-de.flc maps `[` to `Ä`: text of the characters it names prints otherwise with it than without."""
    from twinbench.testgen.datafiles import named_characters

    control = Path("/usr/share/figlet/646-de.flc").read_bytes()
    text = named_characters(control)
    assert b"[" in text
    outputs = []
    for index, argv in enumerate((["-C", "data.flc"], [])):
        (tmp_path / str(index)).mkdir()
        spec = CaseSpec(id="t", argv=argv, stdin=text + b"\n", files={"data.flc": control})
        outputs.append(run_figlet(spec, tmp_path / str(index)).stdout)
    assert outputs[0] != outputs[1]


@needs_figlet
def test_a_multibyte_character_in_every_other_font_line_shows_in_whatever_text_prints(tmp_path: Path) -> None:
    """One form per character of every UTF-8 length (and broken ones), put into every other line of a font:
    whichever words the text holds, figlet prints each 4-, 5- and 6-byte character through its encoder
    (utf8.c), the ones whose top bit groups are set too."""
    seeds = [spec for spec in figlet_synthesizer().seeds() if spec.origin.startswith(f"{DATA_FILES}:multibyte in")]
    fonts = [spec for spec in seeds if spec.argv[:2] == ["-f", "data.flf"]]
    assert all(len(spec.argv) > 2 or spec.stdin for spec in seeds)
    assert len({spec.origin for spec in seeds}) == len(MULTIBYTE)
    printed: dict[bytes, bytes] = {}
    for index, character in enumerate(MULTIBYTE):
        spec = next(spec for spec in fonts if spec.origin == f"{DATA_FILES}:multibyte in every other line#{index}")
        (tmp_path / str(index)).mkdir()
        printed[character] = run_figlet(spec, tmp_path / str(index)).stdout
    four, five, six = "𝄞".encode(), b"\xf9\x9a\xab\x9c\x8d", b"\xfd\x9a\xab\x9c\x8d\xbe"
    for character in (four, "\U0010fffd".encode(), b"\xf8\x88\x80\x80\x80", five, b"\xfc\x84\x80\x80\x80\x80", six):
        assert character in printed[character]


@needs_figlet
def test_a_font_keyed_by_the_decoded_code_points_shows_every_byte_of_a_sequence(tmp_path: Path) -> None:
    """The keyed seeds set a font's code tags to the code points their UTF-8 text decodes to, and switch figlet
    to UTF-8 with utf8.flc: each character then prints a glyph, and a decoder that got any 6-bit group of the
    6-byte sequence wrong (here: its fourth byte changed) prints nothing for it."""
    seeds = [spec for spec in figlet_synthesizer().seeds() if spec.origin == f"{ENCODINGS}:utf8 keyed#0@utf8.flc"]
    assert seeds and seeds[0].stdin == UTF8_SPREAD
    (tmp_path / "right").mkdir()
    (tmp_path / "wrong").mkdir()
    right = run_figlet(seeds[0], tmp_path / "right")
    wrong_bytes = UTF8_SPREAD.replace(b"\xfd\x9a\xab\x9c", b"\xfd\x9a\xab\x9d")
    wrong = run_figlet(seeds[0].model_copy(update={"stdin": wrong_bytes}), tmp_path / "wrong")
    assert right.returncode == 0 and right.stdout.count(b"&") == 9 and wrong.stdout.count(b"&") == 8


def test_utf8_code_points_follow_the_original_definition() -> None:
    assert utf8_code_points(UTF8_SPREAD) == [0x169, 0x56AB, 0xDAADC, 0x16AB70D, 0x5AADC37E]
    # overlong forms and surrogates as written; ASCII, stray continuation bytes and cut-off sequences left out
    assert utf8_code_points(b"a\xc0\xaf\x80\xed\xa0\x80\xe2\x82 \xc0\xaf") == [0x2F, 0xD800]


def test_entry_tags_become_the_keys_in_order() -> None:
    font = b"flf2a$ 1 1 8 -1 2\n196\nA@@\n0x2200  FOR ALL\nB@@\n-5\nC@@\n"
    assert entry_tags(font) == 2
    assert (
        with_entry_tags(font, [0x41, 0x10FFFF, 7]) == b"flf2a$ 1 1 8 -1 2\n0x41\nA@@\n0x10FFFF  FOR ALL\nB@@\n-5\nC@@\n"
    )


def test_hex_codes_are_respelled_in_octal_and_decimal_too() -> None:
    """A file that names every code in hex (646-de.flc) gets octal and decimal spellings of the same values;
    a hex word too long to be a code stays as it is."""
    codes = [(code, code + 0x80) for code in range(0x40, 0x60)]
    control = b"flc2a\n" + b"".join(b"0x%02X\t0x%04X\n" % pair for pair in codes) + b"0x" + b"f" * 4000 + b"\n"
    respelled = make_variant("number_forms", control, "x.flc", random.Random(1))
    words = respelled.split()[1:]
    assert any(word.startswith(b"01") for word in words)  # octal: 0x40 is 0100
    assert any(word.isdigit() and not word.startswith(b"0") for word in words)

    def value(word: bytes) -> int:
        return int(word, 8) if word.startswith(b"0") and word[1:2].isdigit() else int(word, 0)

    assert [value(word) for word in words[:-1]] == [number for pair in codes for number in pair]
    assert words[-1] == b"0x" + b"f" * 4000


def test_a_header_symbol_becomes_one_the_body_uses() -> None:
    font = b"flf2a$ 2 1 8 -1 1\ncomment\n_|@\n_|@@\n"
    symbols = {make_variant("header_symbol", font, "x.flf", random.Random(seed))[:6] for seed in range(20)}
    assert symbols == {b"flf2a_", b"flf2a|", b"flf2a@"}
    assert (
        make_variant("header_symbol", b"no symbols here\nat all\n", "x", random.Random(0))
        == b"no symbols here\nat all\n"
    )


def test_a_text_operand_always_gets_words() -> None:
    """figlet's docs give examples of options alone (`figlet -f script`, whose one word is the option's value):
    a seed that drew such an example still has text to print, or its font or switch shows nothing."""
    synthesizer = figlet_synthesizer(seed=5)
    assert all(synthesizer._positionals() for _ in range(500))


@needs_figlet
def test_c_escapes_in_a_control_file_map_the_bytes_they_name(tmp_path: Path) -> None:
    """`t \\a \\0x41` maps a bell to A: figlet prints A and B for the bytes the escapes name, so the text of the
    c-escapes seed shows how the reader read each escape."""
    control = b"flc2a\nt ( \\0x41\nt ) \\0x42\n"
    escaped, controls = with_c_escapes(control)
    assert escaped == b"flc2a\nt \\a \\0x41\nt \\b \\0x42\n" and controls == b"\x07\x08"
    spec = CaseSpec(id="t", argv=["-C", "data.flc"], stdin=controls + b"\n", files={"data.flc": escaped})
    assert run_figlet(spec, tmp_path).stdout == subprocess.run([str(FIGLET), "AB"], capture_output=True).stdout
    seeds = [spec for spec in figlet_synthesizer().seeds() if spec.origin == f"{DATA_FILES}:c escapes"]
    assert seeds and all(spec.stdin.strip() for spec in seeds)


@needs_figlet
def test_a_control_file_with_every_number_in_one_spelling_means_the_same(tmp_path: Path) -> None:
    """646-de.flc spelled all in octal, all in decimal and all in hex maps `[` to `Ä` each time: the seeds of
    each spelling are forms of their own, so the octal one, which a misreading of `0133` shows, is always run."""
    from twinbench.testgen.datafiles import respell_numbers

    control = Path("/usr/share/figlet/646-de.flc").read_bytes()
    outputs = set()
    for index, spelling in enumerate(["", "octal", "decimal", "hex"]):
        content = respell_numbers(control, random.Random(0), spelling) if spelling else control
        assert spelling != "octal" or b"0133\t" in content
        (tmp_path / str(index)).mkdir()
        spec = CaseSpec(id="t", argv=["-C", "data.flc"], stdin=b"[\n", files={"data.flc": content})
        outputs.add(run_figlet(spec, tmp_path / str(index)).stdout)
    assert len(outputs) == 1 and outputs != {run_figlet(CaseSpec(id="t", argv=["["]), tmp_path).stdout}
    origins = {spec.origin for spec in figlet_synthesizer().seeds()}
    assert {f"{DATA_FILES}:numbers in {spelling}" for spelling in ("octal", "decimal", "hex")} <= origins
