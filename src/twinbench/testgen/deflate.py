"""Deflate streams (RFC 1951) written bit by bit, in the shapes no compressor writes on purpose.

zlib picks how a dynamic block's code lengths are run-length coded, and it trims the distance lengths, so an
inflater's checks on those runs (a repeat or a zero run that ends exactly at the last length, a run that
crosses from the literal lengths into the distance lengths, a repeat with no length before it, a run one past
the end) and on the symbols a fixed block cannot hold (literal 286, distance 30) run only on streams made for
them. Each stream here encodes the content as literals (no matches), so it inflates to the content whenever
its header is valid.
"""

from __future__ import annotations

import heapq
import itertools
from collections import Counter

END_OF_BLOCK = 256
MAX_CODE_BITS = 15
MAX_LENGTH_CODE_BITS = 7
# the order in which a dynamic block's header gives the code-length code's lengths (RFC 1951, 3.2.7)
LENGTH_CODE_ORDER = (16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15)
REPEAT, ZEROS, LONG_ZEROS = 16, 17, 18
REPEATED_FIRST = (0, 1, 2)  # the literals whose lengths a leading 16 (three repeats of nothing) stands for
# each dynamic header shape: the distance code lengths (a literal-only stream never uses the distance tree, so
# it can take any complete shape), and the code-length symbols that end the header
DynamicShape = tuple[tuple[int, ...], tuple[tuple[int, int, int], ...]]
HEADER_SHAPES: dict[str, DynamicShape] = {
    # 2, then 16 repeating it three times: ends exactly at the last length
    "repeat_at_end": ((2, 2, 2, 2), ((2, 0, 0), (REPEAT, 0, 2))),
    # 17 with three zeros, 18 with eleven, ending exactly
    "zeros_at_end": ((1, 1, 0, 0, 0), ((1, 0, 0), (1, 0, 0), (ZEROS, 0, 3))),
    "long_zeros_at_end": ((1, 1, *[0] * 11), ((1, 0, 0), (1, 0, 0), (LONG_ZEROS, 0, 7))),
    # three unused length codes (257-259) and two distance codes in one 17 run across the boundary
    "zeros_across": ((0, 0, 1, 1), ((ZEROS, 2, 3), (1, 0, 0), (1, 0, 0))),
    # a 17 of three zeros where two are left: one length too many
    "run_past_end": ((1, 1, 0, 0), ((1, 0, 0), (1, 0, 0), (ZEROS, 0, 3))),
    # 16 before any length: the lengths it repeats are zeros in some inflaters, an error in others
    "repeat_first": ((1, 1), ((1, 0, 0), (1, 0, 0))),
}
FIXED_SHAPES = ("fixed_literal_286", "fixed_distance_30")


class BitWriter:
    """Bits in deflate's order: values least significant bit first, Huffman codes most significant first.
    Whole bytes leave the accumulator as soon as they are full, so a long stream costs linear time."""

    def __init__(self) -> None:
        self.out = bytearray()
        self.pending = 0  # bits not yet a whole byte, the first written lowest
        self.pending_count = 0

    def value(self, number: int, count: int) -> None:
        self.pending |= (number & ((1 << count) - 1)) << self.pending_count
        self.pending_count += count
        while self.pending_count >= 8:
            self.out.append(self.pending & 0xFF)
            self.pending >>= 8
            self.pending_count -= 8

    def code(self, code: int, length: int) -> None:
        self.value(reversed_bits(code, length), length)

    def bytes(self) -> bytes:
        tail = bytes([self.pending & 0xFF]) if self.pending_count else b""
        return bytes(self.out) + tail


def reversed_bits(code: int, length: int) -> int:
    """`code`'s `length` bits in reverse order: a Huffman code as BitWriter.value writes it."""
    return int(format(code, f"0{length}b")[::-1], 2) if length else 0


def huffman_lengths(frequencies: dict[int, int], limit: int) -> dict[int, int]:
    """Code lengths of a complete Huffman code for the symbols, none longer than `limit`: frequencies are
    halved until the tree is shallow enough (equal weights at the latest). One symbol gets a partner of
    weight 1, since a symbol alone has no complete code."""
    weights = dict(frequencies)
    if len(weights) == 1:
        weights[next(number for number in itertools.count() if number not in weights)] = 1
    if len(weights) > 1 << limit:
        raise ValueError(f"{len(weights)} symbols do not fit in codes of at most {limit} bits")
    while True:
        # (weight, tie-breaker, the symbols under the node)
        heap: list[tuple[int, int, tuple[int, ...]]] = [
            (weight, symbol, (symbol,)) for symbol, weight in sorted(weights.items())
        ]
        heapq.heapify(heap)
        depth = dict.fromkeys(weights, 0)
        while len(heap) > 1:
            first, second = heapq.heappop(heap), heapq.heappop(heap)
            for symbol in first[2] + second[2]:
                depth[symbol] += 1
            heapq.heappush(heap, (first[0] + second[0], min(first[1], second[1]), first[2] + second[2]))
        if max(depth.values()) <= limit:
            return depth
        weights = {symbol: (weight + 1) // 2 for symbol, weight in weights.items()}


def canonical_codes(lengths: dict[int, int]) -> dict[int, tuple[int, int]]:
    """Each symbol's canonical code and its length (RFC 1951, 3.2.2)."""
    codes: dict[int, tuple[int, int]] = {}
    code = 0
    previous = 0
    for symbol, length in sorted(lengths.items(), key=lambda item: (item[1], item[0])):
        if length == 0:
            continue
        code <<= length - previous
        codes[symbol] = (code, length)
        code += 1
        previous = length
    return codes


def dynamic_stream(content: bytes, shape: str) -> bytes:
    """`content` as one final dynamic block of literals whose code lengths end (or start) in `shape`."""
    distances, tail = HEADER_SHAPES[shape]
    literal = huffman_lengths(_literal_frequencies(content), MAX_CODE_BITS)
    lengths = [literal.get(symbol, 0) for symbol in range(END_OF_BLOCK + 1)]
    symbols: list[tuple[int, int, int]] = []
    if shape == "repeat_first":
        symbols.append((REPEAT, 0, 2))
        symbols.extend(_zero_runs(lengths[3:]))
    else:
        symbols.extend(_zero_runs(lengths))
    literal_count = len(lengths)
    if shape == "zeros_across":
        literal_count += 3
    symbols.extend(tail)
    writer = BitWriter()
    writer.value(1, 1)  # the final block
    writer.value(2, 2)  # dynamic Huffman codes
    writer.value(literal_count - 257, 5)
    writer.value(len(distances) - 1, 5)
    length_code = huffman_lengths(Counter(symbol for symbol, _, _ in symbols), MAX_LENGTH_CODE_BITS)
    order = [length_code.get(symbol, 0) for symbol in LENGTH_CODE_ORDER]
    while len(order) > 4 and order[-1] == 0:
        order.pop()
    writer.value(len(order) - 4, 4)
    for length in order:
        writer.value(length, 3)
    length_codes = canonical_codes(length_code)
    for symbol, extra, extra_bits in symbols:
        writer.code(*length_codes[symbol])
        writer.value(extra, extra_bits)
    # reversed once per symbol, not once per byte of content
    literal_codes = {
        symbol: (reversed_bits(code, length), length) for symbol, (code, length) in canonical_codes(literal).items()
    }
    for byte in content:
        writer.value(*literal_codes[byte])
    writer.value(*literal_codes[END_OF_BLOCK])
    return writer.bytes()


def fixed_stream(content: bytes, shape: str) -> bytes:
    """`content` as literals of a final fixed-code block, then a symbol the fixed codes cannot mean: literal/length
    286, or a length followed by distance 30. An inflater must refuse it after the literals."""
    writer = BitWriter()
    writer.value(1, 1)
    writer.value(1, 2)  # fixed Huffman codes
    for byte in content:
        writer.code(*_fixed_literal(byte))
    if shape == "fixed_literal_286":
        writer.code(*_fixed_literal(286))
    else:
        writer.code(*_fixed_literal(257))  # a match of length 3
        writer.code(30, 5)
    writer.code(*_fixed_literal(END_OF_BLOCK))
    return writer.bytes()


def crafted_stream(content: bytes, shape: str) -> bytes:
    """The stream of one shape (HEADER_SHAPES or FIXED_SHAPES) for `content`. A leading repeat stands for the
    lengths of bytes 0 to 2, which must then be unused: content holding them gets a repeat at the end."""
    if shape == "repeat_first" and any(byte in content for byte in REPEATED_FIRST):
        shape = "repeat_at_end"
    return fixed_stream(content, shape) if shape in FIXED_SHAPES else dynamic_stream(content, shape)


def _fixed_literal(symbol: int) -> tuple[int, int]:
    if symbol < 144:
        return 0x30 + symbol, 8
    if symbol < 256:
        return 0x190 + symbol - 144, 9
    if symbol < 280:
        return symbol - 256, 7
    return 0xC0 + symbol - 280, 8


def _literal_frequencies(content: bytes) -> dict[int, int]:
    frequencies = Counter(content)
    frequencies[END_OF_BLOCK] = 1
    return frequencies


def _zero_runs(lengths: list[int]) -> list[tuple[int, int, int]]:
    """Lengths as themselves, with runs of zeros as 17 (3 to 10) and 18 (11 to 138), as compressors code them."""
    symbols: list[tuple[int, int, int]] = []
    for length, group in itertools.groupby(lengths):
        count = len(list(group))
        while length == 0 and count >= 3:
            run = min(count, 138)
            if run >= 11:
                symbols.append((LONG_ZEROS, run - 11, 7))
            else:
                run = min(run, 10)
                symbols.append((ZEROS, run - 3, 3))
            count -= run
        symbols.extend((length, 0, 0) for _ in range(count))
    return symbols
