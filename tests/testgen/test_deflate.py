"""Deflate streams written bit by bit: the valid shapes inflate (with zlib, and through figlet's own inflater)
to the content, and the invalid ones are refused where the shape says."""

from __future__ import annotations

import io
import random
import subprocess
import zipfile
import zlib
from pathlib import Path

import pytest

from twinbench.testgen.datafiles import CRAFTED_ZIPS, MAX_CRAFTED_ZIP_BYTES, make_variant
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
    # a leading repeat stands for the lengths of bytes 0 to 2: content holding them ends in a repeat instead
    if shape in INVALID and not (shape == "repeat_first" and any(byte in content for byte in (0, 1, 2))):
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
    assert huffman_lengths({0: 3}, 7) == {0: 1, 1: 1}
    # weights of 1 and 2 only: halving must still end (at equal weights), within the limit
    lengths = huffman_lengths({symbol: 1 + symbol % 2 for symbol in range(100)}, 7)
    assert max(lengths.values()) <= 7 and sum(2.0**-length for length in lengths.values()) == 1.0
    with pytest.raises(ValueError, match="do not fit"):
        huffman_lengths(dict.fromkeys(range(200), 1), 7)
    assert canonical_codes({0: 2, 1: 1, 2: 3, 3: 3}) == {1: (0, 1), 0: (2, 2), 2: (6, 3), 3: (7, 3)}


@pytest.mark.skipif(not Path("/usr/bin/figlet").exists(), reason="figlet is not installed")
def test_figlet_reads_the_valid_zipped_fonts_and_refuses_the_invalid_ones(tmp_path: Path) -> None:
    expected = subprocess.run(["figlet", "-f", str(FONT), "Hi"], capture_output=True, check=True).stdout
    # a byte 1 in a comment: a leading repeat would stand for its length (the stream ends in a repeat instead)
    font = FONT.read_bytes().replace(b"\n", b" \x01\n", 2)
    for how in CRAFTED_ZIPS:
        (tmp_path / "data.flf").write_bytes(make_variant(how, font, FONT.name, random.Random(0)))
        run = subprocess.run(["figlet", "-f", "./data.flf", "Hi"], capture_output=True, cwd=tmp_path, check=False)
        valid = how.removeprefix("zip_") not in INVALID or how == "zip_repeat_first"  # figlet repeats zeros
        assert (run.returncode == 0 and run.stdout == expected) == valid, how


def test_a_large_file_is_zipped_as_its_head() -> None:
    """The stream is written in Python: a data file of megabytes is zipped as its first 256 KB, a valid zip of
    that head, so one variant never costs seconds."""
    content = bytes(range(256)) * 8192  # 2 MB
    archive = zipfile.ZipFile(io.BytesIO(make_variant("zip_repeat_at_end", content, "big.dat", random.Random(0))))
    assert archive.read("big.dat") == content[:MAX_CRAFTED_ZIP_BYTES]
