"""The EPC QR code ("GiroCode") of a transfer: segno's symbol, bit for bit, in a fifth of segno's time.

segno builds the payload and its data codewords. The error correction codewords come from a table per block size
(Reed-Solomon is linear: each data bit set adds its own codewords); the modules are placed, and all eight data masks
applied and scored, with numpy in one pass: the mask is chosen as ISO/IEC 18004 demands (7.8.3: the pattern with
the lowest penalty), scored as segno scores it. The SVG is written as segno writes it. Tests check symbol, error
correction and SVG against segno's own; drawing one is the cost of a manage page's first visit.
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
    data = helpers._make_epc_qr_data(name, iban, amount, reference=reference, bic=bic)
    segments = encoder.prepare_data(data, None, None)
    version = encoder.find_version(segments, _ERROR, eci=False, micro=False)
    size = encoder.calc_matrix_size(version)
    plain = _function_patterns(size).copy()  # the format and version areas stay empty while the mask is chosen
    rows, columns = _placement(size)
    bits = _codeword_bits(segments, version)
    plain[rows, columns] = np.pad(bits, (0, len(rows) - len(bits)))  # the remainder bits (ISO/IEC 18004 7.6) are 0
    candidates = np.bitwise_xor(plain, _masks(size))
    best = int(np.argmin(penalties(candidates)))  # the first of equal scores, as segno takes it
    matrix = candidates[best]
    where, values = _format_and_version(version, best)
    matrix[where] = values
    return Symbol(matrix, version, best)


def svg(symbol: Symbol, title: str) -> str:
    """The symbol as inline SVG with a viewBox and no fixed size, as segno's `svg_inline(scale=1, omitsize=True)`
    writes it: one path whose strokes are the rows' runs of dark modules, each move relative to the last."""
    size = len(symbol.matrix) + 2 * _BORDER
    bounded = np.zeros((len(symbol.matrix), len(symbol.matrix) + 2), dtype=np.int8)
    bounded[:, 1:-1] = symbol.matrix
    edges = np.diff(bounded, axis=1)
    row, start = np.nonzero(edges == 1)
    _, end = np.nonzero(edges == -1)  # row-major order: the n-th end closes the n-th start
    x = (start + _BORDER).tolist()
    ends = (end + _BORDER).tolist()
    y = row.tolist()
    steps = [f"M{x[0]} {y[0] + _BORDER}.5h{ends[0] - x[0]}"]
    steps += [f"m{x[k] - ends[k - 1]} {y[k] - y[k - 1]}h{ends[k] - x[k]}" for k in range(1, len(x))]
    return (f'<svg viewBox="0 0 {size} {size}" class="segno"><title>{escape(title)}</title>'
            f'<path class="qrline" stroke="#000" d="{"".join(steps)}"/></svg>')


def penalties(candidates: np.ndarray) -> np.ndarray:
    """ISO/IEC 18004 7.8.3.1 for each matrix of a stack: runs of five or more (N1), 2x2 blocks (N2), finder-like
    patterns (N3), the share of dark modules (N4), counted as segno counts them."""
    count, size = len(candidates), candidates.shape[1]
    lines = np.concatenate([candidates, candidates.transpose(0, 2, 1)]).reshape(-1, size)  # rows, then columns
    owner = np.tile(np.repeat(np.arange(count), size), 2)  # the matrix each line belongs to
    bounded = np.full((len(lines), size + 2), 2, dtype=np.uint8)
    bounded[:, 1:-1] = lines
    flat = bounded.ravel()
    changes = np.flatnonzero(flat[1:] != flat[:-1])
    runs = np.diff(changes)
    long = runs >= 5
    n1 = np.bincount(owner[(changes[:-1][long] + 1) // (size + 2)], weights=runs[long] - 2, minlength=count)
    top = candidates[:, :-1, :-1]
    blocks = (top == candidates[:, 1:, :-1]) & (top == candidates[:, :-1, 1:]) & (top == candidates[:, 1:, 1:])
    n2 = 3 * blocks.sum(axis=(1, 2))
    n3 = 40 * np.bincount(owner, weights=_finder_like(lines).sum(axis=1), minlength=count)
    dark = candidates.sum(axis=(1, 2)).tolist()
    n4 = [10 * int(abs(float(d) / (size ** 2) * 100 - 50) / 5) for d in dark]
    return n1.astype(np.int64) + n2 + n3.astype(np.int64) + np.array(n4)


def _finder_like(lines: np.ndarray) -> np.ndarray:
    """Where each line counts a finder-like pattern, as segno's search counts them: preceded or followed by four
    light modules (fewer at the edges) or at either end; after one counted, the search goes on behind it."""
    size = lines.shape[1]
    dark = lines.view(bool)
    found = dark[:, :-6] & ~dark[:, 1:-5] & dark[:, 2:-4] & dark[:, 3:-3] & dark[:, 4:-2] & ~dark[:, 5:-1] & dark[:, 6:]
    line, at = np.divmod(np.flatnonzero(found), size - 6)
    before, after = at[:, None] + np.arange(-4, 0), at[:, None] + np.arange(7, 11)
    dark_before = (dark[line[:, None], np.maximum(before, 0)] & (before >= 0)).any(axis=1)
    dark_after = (dark[line[:, None], np.minimum(after, size - 1)] & (after < size)).any(axis=1)
    qualified = np.zeros_like(found)
    qualified[line, at] = ~dark_before | ~dark_after | (at == 0) | (at == size - 7)
    counted = qualified
    while True:  # a pattern overlaps another only 4 or 6 modules on; the one counted first hides it
        hidden = np.zeros_like(counted)
        hidden[:, 4:] |= counted[:, :-4]
        hidden[:, 6:] |= counted[:, :-6]
        settled = qualified & ~hidden
        if np.array_equal(settled, counted):
            return counted
        counted = settled


def _codeword_bits(segments, version: int) -> np.ndarray:
    """The final message as segno builds it: its data codewords, each block's error correction codewords (Reed-Solomon,
    which is linear over bits: the XOR of the codewords of each data bit set, `_error_correction`), interleaved."""
    buffer = encoder.Buffer()
    for segment in segments:
        encoder.write_segment(buffer, segment, None, encoder.version_range(version), False)
    capacity = consts.SYMBOL_CAPACITY[version][_ERROR]
    encoder.write_terminator(buffer, capacity, None, len(buffer))
    encoder.write_padding_bits(buffer, version, len(buffer))
    encoder.write_pad_codewords(buffer, version, capacity, len(buffer))
    bits = np.frombuffer(buffer.getbits(), dtype=np.uint8).view(bool)
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
def _placement(size: int) -> tuple[np.ndarray, np.ndarray]:
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
    return np.array(rows), np.array(columns)


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
