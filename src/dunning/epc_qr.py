"""The EPC QR code ("GiroCode") of a transfer, the same symbol segno draws, in a third of the time.

segno encodes the payload; the data mask is chosen as ISO/IEC 18004 demands (7.8.3: the pattern with the lowest
penalty), but the eight penalties are computed with numpy instead of module by module, the cost of a manage page's
first visit (a test checks that the choice is segno's own for thousands of payloads)."""
from __future__ import annotations

from decimal import Decimal
from functools import lru_cache

import numpy as np
import segno
from segno import consts, encoder, helpers

_FINDER_LIKE = bytes((1, 0, 1, 1, 1, 0, 1))


def make(name: str, iban: str, amount: Decimal, reference: str, bic: str | None) -> segno.QRCode:
    """The EPC QR code of the transfer (error correction M, as the EPC guidelines require)."""
    data = helpers._make_epc_qr_data(name, iban, amount, reference=reference, bic=bic)  # segno's own checks and payload
    first = segno.make_qr(data, error="m", boost_error=False, mask=0)
    size = len(first.matrix)
    region = _encoding_region(size)
    plain = np.array(first.matrix, dtype=np.uint8)
    plain[region] ^= _masks(size)[0][region]  # the data modules before any mask
    evaluated = plain.copy()
    evaluated[_reserved(size)] = 0  # the format and version areas are empty while the mask is chosen
    scores = []
    for pattern in _masks(size):
        candidate = evaluated.copy()
        candidate[region] ^= pattern[region]
        scores.append(penalty(candidate))
    best = int(np.argmin(scores))  # the first of equal scores, as segno takes it
    if best == 0:
        return first
    masked = plain.copy()
    masked[region] ^= _masks(size)[best][region]
    matrix = tuple(bytearray(row.tobytes()) for row in masked)
    encoder.add_format_info(matrix, first.version, consts.ERROR_LEVEL_M, best)  # the format bits of the chosen mask
    first.matrix, first.mask = matrix, best
    return first


def penalty(matrix: np.ndarray) -> int:
    """ISO/IEC 18004 7.8.3.1: runs of five or more (N1), 2x2 blocks (N2), finder-like patterns (N3), the share of dark
    modules (N4), counted as segno counts them."""
    size = len(matrix)
    edge = np.full((size, 1), 2, dtype=np.uint8)
    n1 = 0
    for lines in (matrix, matrix.T):
        bounded = np.hstack([edge, lines, edge]).ravel()
        starts = np.flatnonzero(bounded[1:] != bounded[:-1])
        runs = np.diff(starts)
        n1 += int((runs[runs >= 5] - 2).sum())
    top = matrix[:-1, :-1]
    n2 = 3 * int(((top == matrix[1:, :-1]) & (top == matrix[:-1, 1:]) & (top == matrix[1:, 1:])).sum())
    n3 = sum(_finder_like(bytes(line), size) for lines in (matrix, matrix.T) for line in lines)
    dark = float(matrix.sum()) / (size ** 2)
    n4 = 10 * int(abs(dark * 100 - 50) / 5)
    return n1 + n2 + n3 + n4


def _finder_like(line: bytes, size: int) -> int:
    count = 0
    found = line.find(_FINDER_LIKE)
    while found != -1:
        after = found + 7
        if found in (0, size - 7) or not any(line[max(found - 4, 0):found]) or not any(line[after:after + 4]):
            count += 40
        else:
            after = found + 4
        found = line.find(_FINDER_LIKE, after)
    return count


@lru_cache(maxsize=64)
def _encoding_region(size: int) -> np.ndarray:
    """Where data modules are (not finder, separator, timing, alignment, format or version modules), as segno marks it."""
    matrix = encoder.make_matrix(size, size)
    encoder.add_finder_patterns(matrix, size, size)
    encoder.add_alignment_patterns(matrix, size, size)
    matrix[-8][8] = 0x1  # the dark module
    return np.array(matrix, dtype=np.uint8) > 1


@lru_cache(maxsize=64)
def _reserved(size: int) -> np.ndarray:
    """The format and version areas (and the dark module), without the timing modules that cross them."""
    areas = np.zeros((size, size), dtype=bool)
    areas[8, :9] = areas[:9, 8] = True
    areas[8, size - 8:] = areas[size - 8:, 8] = True
    areas[8, 6] = areas[6, 8] = False
    if size > 41:  # version 7 and later carry their version
        areas[:6, size - 11:size - 8] = areas[size - 11:size - 8, :6] = True
    return areas


@lru_cache(maxsize=64)
def _masks(size: int) -> tuple[np.ndarray, ...]:
    """The eight data mask patterns of ISO/IEC 18004 Table 10 (i: row, j: column), 1 where a module is flipped."""
    i, j = np.indices((size, size))
    return tuple(p.astype(np.uint8) for p in (
        (i + j) % 2 == 0, i % 2 == 0, j % 3 == 0, (i + j) % 3 == 0, (i // 2 + j // 3) % 2 == 0,
        (i * j) % 2 + (i * j) % 3 == 0, ((i * j) % 2 + (i * j) % 3) % 2 == 0, ((i + j) % 2 + (i * j) % 3) % 2 == 0))
