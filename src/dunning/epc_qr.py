"""The EPC QR code ("GiroCode") of a transfer: segno's symbol and SVG, bit for bit, in a thirtieth of segno's time.

segno builds the payload; its one byte-mode segment, terminator and padding are written as one integer. The error
correction codewords come from a table per block size (Reed-Solomon is linear: each data bit set adds its own
codewords); the modules are placed, and all eight data masks applied and scored, with numpy in one pass: the mask is
chosen as ISO/IEC 18004 demands (7.8.3: the pattern with the lowest penalty), scored as segno scores it, over every
row and column laid end to end. The SVG path is written from a table of numbers as text. Tests check symbol, penalty,
error correction and SVG against segno's own; drawing one is the cost of a manage page's first visit.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from xml.sax.saxutils import escape

import numpy as np
from segno import consts, encoder, helpers

_ERROR = consts.ERROR_LEVEL_M  # the EPC guidelines require level M
_BORDER = 4  # the quiet zone, in modules


@dataclass(frozen=True)
class Symbol:
    """A QR code: its modules (1 dark) without the quiet zone, its version and its data mask."""

    matrix: np.ndarray
    version: int
    mask: int


def make(name: str, iban: str, amount: Decimal, reference: str, bic: str | None) -> Symbol:
    """The EPC QR code of the transfer (segno's payload and checks, without error-level boost, as segno's own)."""
    version, bits = _data_bits(helpers._make_epc_qr_data(name, iban, amount, reference=reference, bic=bic))
    size = encoder.calc_matrix_size(version)
    plain = _function_patterns(size).copy()  # the format and version areas stay empty while the mask is chosen
    message = _codeword_bits(bits, version)
    plain.ravel()[_placement(size)[:len(message)]] = message  # the remainder bits (ISO/IEC 18004 7.6) stay 0
    candidates = np.bitwise_xor(plain, _masks(size))
    best = int(np.argmin(penalties(candidates)))  # the first of equal scores, as segno takes it
    matrix = candidates[best]
    where, values = _format_and_version(version, best)
    matrix[where] = values
    return Symbol(matrix, version, best)


def _data_bits(data: bytes) -> tuple[int, np.ndarray]:
    """The smallest version of level M that holds `data` in one byte-mode segment (an EPC payload is never numeric or
    alphanumeric: it has line breaks), and that segment with its terminator, padding bits and pad codewords as segno
    writes them (ISO/IEC 18004 7.4), as bits. segno pads a stream already on a codeword boundary with a zero byte."""
    for version in range(1, 41):
        count_bits = consts.CHAR_COUNT_INDICATOR_LENGTH[consts.MODE_BYTE][encoder.version_range(version)]
        length, capacity = 4 + count_bits + 8 * len(data), consts.SYMBOL_CAPACITY[version][_ERROR]
        if length <= capacity:
            break
    else:
        raise ValueError(f"an EPC payload of {len(data)} bytes fits no QR code")
    terminator = min(capacity - length, 4)
    padding = 8 - (length + terminator) % 8
    length += terminator + padding
    header = consts.MODE_BYTE << count_bits | len(data)
    stream = ((header << 8 * len(data) | int.from_bytes(data, "big")) << terminator + padding).to_bytes(length // 8, "big")
    pads = max(capacity // 8 - length // 8, 0)
    stream += _PAD_CODEWORDS * (pads // 2) + _PAD_CODEWORDS[:pads % 2]
    return version, np.unpackbits(np.frombuffer(stream, dtype=np.uint8)).view(bool)


_PAD_CODEWORDS = bytes([0b11101100, 0b00010001])


def svg(symbol: Symbol, title: str) -> str:
    """The symbol as inline SVG with a viewBox and no fixed size, as segno's `svg_inline(scale=1, omitsize=True)`
    writes it: one path whose strokes are the rows' runs of dark modules, each move relative to the last."""
    size = len(symbol.matrix) + 2 * _BORDER
    bounded = np.zeros((len(symbol.matrix), len(symbol.matrix) + 2), dtype=np.int8)
    bounded[:, 1:-1] = symbol.matrix
    rows, columns = np.nonzero(np.diff(bounded, axis=1))  # row-major: each run's start, then its end
    row, start, end = rows[::2], columns[::2] + _BORDER, columns[1::2] + _BORDER
    first = f"M{start[0]} {row[0] + _BORDER}.5h{end[0] - start[0]}"
    steps = np.empty((len(start) - 1, 6), dtype=np.uint32)  # each further stroke: m <dx> " " <dy> h <width>
    steps[:, 0], steps[:, 2], steps[:, 4] = _TEXT["m"], _TEXT[" "], _TEXT["h"]
    steps[:, 1] = _NUMBERS[start[1:] - end[:-1] + _NUMBER_OFFSET]
    steps[:, 3] = _NUMBERS[row[1:] - row[:-1] + _NUMBER_OFFSET]
    steps[:, 5] = _NUMBERS[end[1:] - start[1:] + _NUMBER_OFFSET]
    text = steps.view(np.uint8)
    path = first + text[text != 0].tobytes().decode("ascii")
    return (f'<svg viewBox="0 0 {size} {size}" class="segno"><title>{escape(title)}</title>'
            f'<path class="qrline" stroke="#000" d="{path}"/></svg>')


def _cells(texts: list[str]) -> np.ndarray:
    """Short ASCII texts as 4-byte cells padded with NUL bytes (which the path leaves out)."""
    return np.frombuffer(b"".join(text.encode("ascii").ljust(4, b"\0") for text in texts), dtype=np.uint32)


_NUMBER_OFFSET = 999
_NUMBERS = _cells([str(n) for n in range(-_NUMBER_OFFSET, _NUMBER_OFFSET + 1)])  # a symbol is at most 185 modules wide
_TEXT = dict(zip("m h", _cells(list("m h"))))


def penalties(candidates: np.ndarray) -> np.ndarray:
    """ISO/IEC 18004 7.8.3.1 for each matrix of a stack: runs of five or more (N1), 2x2 blocks (N2), finder-like
    patterns (N3), the share of dark modules (N4), counted as segno counts them.

    Every row and column is laid end to end between margins (`_margins`), so that each feature is one whole-array
    comparison of the modules with those some places on, and each module where a feature starts scores its points."""
    count, size = len(candidates), candidates.shape[1]
    width = size + 2 * _MARGIN
    grid = _margins(count, size).copy()
    grid[0, :, :, _MARGIN:-_MARGIN] = candidates
    grid[1, :, :, _MARGIN:-_MARGIN] = candidates.transpose(0, 2, 1)
    flat = grid.ravel()
    n = len(flat)
    score = np.zeros(n, dtype=np.uint8)  # at most 1 + 2 + 3 + 40 points start at one module
    same = flat[1:] == flat[:-1]  # a module and the next one alike (never a margin)
    five = same[:-3] & same[1:-2] & same[2:-1] & same[3:]  # five alike from here
    score[:-4] += five  # a run of k >= 5 scores k - 2: k - 4 fives, and 2 more for its first
    score[1:-4] += (five[1:] & ~five[:-1]).view(np.uint8) * np.uint8(2)
    below = flat[:-width] == flat[width:]  # a module and the one in the next line alike
    blocks = same[:n - width - 1] & same[width:] & below[:-1] & _block_corners(count, size)
    score[:n - width - 1] += blocks.view(np.uint8) * np.uint8(3)
    dark = flat == 1
    light = ~dark
    found = dark[:-6] & light[1:-5] & dark[2:-4] & dark[3:-3] & dark[4:-2] & light[5:-1] & dark[6:]  # 1011101
    dark_four = dark[:-3] | dark[1:-2] | dark[2:-1] | dark[3:]  # any dark among four from here
    qualified = found[_MARGIN:n - 10] & ~(dark_four[:n - 14] & dark_four[11:])  # four light before or after
    score[_MARGIN:n - 10] += _counted_once(qualified).view(np.uint8) * np.uint8(40)
    dark_share = candidates.reshape(count, -1).sum(axis=1, dtype=np.uint32).tolist()
    n4 = [10 * int(abs(float(d) / (size ** 2) * 100 - 50) / 5) for d in dark_share]
    points = score.reshape(2 * count, -1).sum(axis=1, dtype=np.uint32).astype(np.int64)
    return points[:count] + points[count:] + np.array(n4)


_MARGIN = 4  # modules outside either end of a line: a finder-like pattern looks four modules out, all light there


@lru_cache(maxsize=64)
def _margins(count: int, size: int) -> np.ndarray:
    """The lines of `count` matrices (their rows, then their columns) between margins of 2 and 3 in turn: alike to no
    module and to no neighbour, so no run, block or pattern reaches into one, and none is dark."""
    grid = np.empty((2, count, size, size + 2 * _MARGIN), dtype=np.uint8)
    grid[...] = np.tile([2, 3], size + _MARGIN)[:size + 2 * _MARGIN]
    return grid


@lru_cache(maxsize=64)
def _block_corners(count: int, size: int) -> np.ndarray:
    """Where a 2x2 block's top left module can be in the laid-out lines: in a row but the last, not its last module."""
    corners = np.zeros((2, count, size, size + 2 * _MARGIN), dtype=bool)
    corners[0, :, :-1, _MARGIN:_MARGIN + size - 1] = True
    width = size + 2 * _MARGIN
    return corners.ravel()[:corners.size - width - 1]


def _counted_once(qualified: np.ndarray) -> np.ndarray:
    """The finder-like patterns segno's search counts: after one counted, it goes on behind it, so a pattern that
    overlaps a counted one 4 or 6 modules on is hidden by it."""
    counted = qualified
    while True:
        hidden = np.zeros_like(counted)
        hidden[4:] |= counted[:-4]
        hidden[6:] |= counted[:-6]
        settled = qualified & ~hidden
        if np.array_equal(settled, counted):
            return counted
        counted = settled


def _codeword_bits(bits: np.ndarray, version: int) -> np.ndarray:
    """The final message as segno builds it from the data codewords' `bits`: the data codewords, each block's error
    correction codewords (Reed-Solomon, which is linear over bits: the XOR of the codewords of each data bit set,
    `_error_correction`), interleaved."""
    corrections, start = [], 0
    for info in consts.ECC[version][_ERROR]:
        rows = _error_correction(info.num_data, info.num_total - info.num_data)
        for _ in range(info.num_blocks):
            corrections.append(np.bitwise_xor.reduce(rows[bits[start:start + 8 * info.num_data]], axis=0))
            start += 8 * info.num_data
    data_order, correction_order = _interleaving(version)
    message = np.concatenate([np.packbits(bits)[data_order], np.concatenate(corrections)[correction_order]])
    return np.unpackbits(message)


@lru_cache(maxsize=64)
def _error_correction(data: int, correction: int) -> np.ndarray:
    """The error correction codewords of a block of `data` codewords holding one bit, for each bit: the bit's value
    times x^(position + correction) modulo segno's generator polynomial, in GF(256)."""
    exp, log = np.array(consts.GALIOS_EXP), np.array(consts.GALIOS_LOG)
    generator = np.array(consts.GEN_POLY[correction])  # logs of the coefficients after the leading 1
    powers = np.zeros((data, correction), dtype=np.int64)  # row j: x^(j + correction) mod generator
    powers[0] = exp[generator]
    for j in range(1, data):
        top = powers[j - 1, 0]
        powers[j, :-1] = powers[j - 1, 1:]
        if top:
            powers[j] ^= exp[log[top] + generator]
    by_position = powers[::-1]  # the first codeword carries the highest power
    rows = np.zeros((data, 8, correction), dtype=np.uint8)
    for bit in range(8):
        value = log[1 << (7 - bit)]
        rows[:, bit] = np.where(by_position > 0, exp[(log[by_position] + value) % 255], 0)
    return rows.reshape(8 * data, correction)


@lru_cache(maxsize=64)
def _interleaving(version: int) -> tuple[np.ndarray, np.ndarray]:
    """The order of the data and of the error correction codewords in the final message (ISO/IEC 18004 7.6: the
    blocks' first codewords, then their second ones, and so on)."""
    infos = consts.ECC[version][_ERROR]
    lengths = [info.num_data for info in infos for _ in range(info.num_blocks)]
    starts = np.cumsum([0, *lengths[:-1]]).tolist()
    correction = infos[0].num_total - infos[0].num_data
    data = [starts[b] + c for c in range(max(lengths)) for b in range(len(lengths)) if c < lengths[b]]
    corrections = [b * correction + c for c in range(correction) for b in range(len(lengths))]
    return np.array(data), np.array(corrections)


@lru_cache(maxsize=64)
def _skeleton(size: int) -> np.ndarray:
    """segno's empty matrix: finder, separator, timing and alignment patterns (0, 1), the format and version areas
    (0), and 2 wherever a data module goes."""
    matrix = encoder.make_matrix(size, size)
    encoder.add_finder_patterns(matrix, size, size)
    encoder.add_alignment_patterns(matrix, size, size)
    return np.array(matrix, dtype=np.uint8)


@lru_cache(maxsize=64)
def _function_patterns(size: int) -> np.ndarray:
    """Finder, separator, timing and alignment patterns; zero wherever data, format or version modules go."""
    skeleton = _skeleton(size)
    return np.where(skeleton == 2, 0, skeleton).astype(np.uint8)


@lru_cache(maxsize=64)
def _encoding_region(size: int) -> np.ndarray:
    """Where data modules go: not finder, separator, timing, alignment, format or version modules (the format areas
    hold the dark module too)."""
    return _skeleton(size) == 2


@lru_cache(maxsize=64)
def _placement(size: int) -> np.ndarray:
    """The modules the final message's bits fill, in order (ISO/IEC 18004 7.7.3: two-module columns from the right,
    alternately upwards and downwards, skipping the vertical timing pattern)."""
    region = _encoding_region(size)
    rows, columns = [], []
    for right in range(size - 1, 0, -2):
        if right <= 6:
            right -= 1
        for vertical in range(size):
            for j in (right, right - 1):
                upwards = ((right & 2) == 0) ^ (j < 6)
                i = size - 1 - vertical if upwards else vertical
                if region[i, j]:
                    rows.append(i)
                    columns.append(j)
    return np.array(rows) * size + np.array(columns)  # as places in the matrix's rows laid end to end


@lru_cache(maxsize=64)
def _masks(size: int) -> np.ndarray:
    """The eight data mask patterns of ISO/IEC 18004 Table 10 (i: row, j: column), 1 where a data module is flipped."""
    i, j = np.indices((size, size))
    patterns = np.array([
        (i + j) % 2 == 0, i % 2 == 0, j % 3 == 0, (i + j) % 3 == 0, (i // 2 + j // 3) % 2 == 0,
        (i * j) % 2 + (i * j) % 3 == 0, ((i * j) % 2 + (i * j) % 3) % 2 == 0, ((i + j) % 2 + (i * j) % 3) % 2 == 0])
    return (patterns & _encoding_region(size)).astype(np.uint8)


@lru_cache(maxsize=512)
def _format_and_version(version: int, mask: int) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray]:
    """The format information of level M and `mask`, the dark module and the version information: where, and what."""
    size = encoder.calc_matrix_size(version)
    matrix = tuple(bytearray([2] * size) for _ in range(size))
    encoder.add_format_info(matrix, version, _ERROR, mask)
    encoder.add_version_info(matrix, version)
    modules = np.array(matrix, dtype=np.uint8)
    where = np.nonzero(modules != 2)
    return where, modules[where]
