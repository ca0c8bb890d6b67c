"""Deflate streams written bit by bit: the valid shapes inflate (with zlib, and through figlet's own inflater)
to the content, and the invalid ones are refused where the shape says."""

from __future__ import annotations

import random
import subprocess
import zlib
from pathlib import Path

import pytest

from twinbench.testgen.datafiles import CRAFTED_ZIPS, make_variant
from twinbench.testgen.deflate import FIXED_SHAPES, HEADER_SHAPES, canonical_codes, crafted_stream, huffman_lengths

FONT = Path("/usr/share/figlet/small.flf")
INVALID = {
    "run_past_end": "invalid bit length repeat",
    "repeat_first": "invalid bit length repeat",
    "fixed_literal_286": "invalid literal/length code",
    "fixed_distance_30": "invalid distance code",
}


@pytest.mark.parametrize("content", [b"", b"a", b"\x00" * 5, bytes(range(256)) * 3, b"flf2a$ 1 1\n" * 40])
@pytest.mark.parametrize("shape", [*HEADER_SHAPES, *FIXED_SHAPES])
def test_each_shape_inflates_to_the_content_or_is_refused_for_its_reason(shape: str, content: bytes) -> None:
    stream = crafted_stream(content, shape)
    if shape in INVALID:
        with pytest.raises(zlib.error, match=INVALID[shape]):
            zlib.decompress(stream, -zlib.MAX_WBITS)
    else:
        assert zlib.decompress(stream, -zlib.MAX_WBITS) == content


def test_huffman_lengths_stay_within_the_limit_and_make_a_complete_code() -> None:
    # Fibonacci weights make the deepest possible tree: 20 symbols would need 19 bits unflattened
    weights = {
        symbol: weight
        for symbol, weight in enumerate(
            [1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377, 610, 987, 1597, 2584, 4181, 6765]
        )
    }
    lengths = huffman_lengths(weights, 7)
    assert max(lengths.values()) <= 7 and sum(2.0**-length for length in lengths.values()) == 1.0
    assert huffman_lengths({5: 3}, 7) == {0: 1, 5: 1}  # one symbol alone gets a partner
    assert canonical_codes({0: 2, 1: 1, 2: 3, 3: 3}) == {1: (0, 1), 0: (2, 2), 2: (6, 3), 3: (7, 3)}


@pytest.mark.skipif(not Path("/usr/bin/figlet").exists(), reason="figlet is not installed")
def test_figlet_reads_the_valid_zipped_fonts_and_refuses_the_invalid_ones(tmp_path: Path) -> None:
    expected = subprocess.run(["figlet", "-f", str(FONT), "Hi"], capture_output=True, check=True).stdout
    for how in CRAFTED_ZIPS:
        (tmp_path / "data.flf").write_bytes(make_variant(how, FONT.read_bytes(), FONT.name, random.Random(0)))
        run = subprocess.run(["figlet", "-f", "./data.flf", "Hi"], capture_output=True, cwd=tmp_path, check=False)
        valid = how.removeprefix("zip_") not in INVALID or how == "zip_repeat_first"  # figlet repeats zeros
        assert (run.returncode == 0 and run.stdout == expected) == valid, how


def test_a_large_file_is_zipped_as_its_head() -> None:
    """The stream is written in Python: a data file of megabytes is zipped as its first 256 KB, a valid zip of
    that head, so one variant never costs seconds."""
    import io
    import zipfile

    from twinbench.testgen.datafiles import MAX_CRAFTED_ZIP_BYTES

    content = bytes(range(256)) * 8192  # 2 MB
    archive = zipfile.ZipFile(io.BytesIO(make_variant("zip_repeat_at_end", content, "big.dat", random.Random(0))))
    assert archive.read("big.dat") == content[:MAX_CRAFTED_ZIP_BYTES]
