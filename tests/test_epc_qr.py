"""The EPC QR code placed, masked and written with numpy is segno's own symbol and SVG, bit for bit, whatever the payload."""
import random
from decimal import Decimal

import numpy as np
from segno import consts, encoder, helpers

from dunning import epc_qr

IBANS = ["DE89370400440532013000", "AT611904300234573201", "NL91ABNA0417164300", "FR1420041010050500013M02606",
         "BE68539007547034"]


def payloads(count: int, seed: int = 7):
    rng = random.Random(seed)
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ abcdefghijklmnopqrstuvwxyzäöüß-"
    for _ in range(count):
        name = "".join(rng.choice(letters) for _ in range(rng.randint(3, 70))).strip() or "X"
        reference = f"RF{rng.randint(10, 99)}" + "".join(rng.choice("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")
                                                         for _ in range(rng.randint(1, 21)))
        yield name, rng.choice(IBANS), Decimal(rng.randint(1, 99999999)) / 100, reference, rng.choice([None, "COBADEFFXXX"])


def test_the_symbol_is_segnos_own_for_every_payload():
    versions = set()
    for name, iban, amount, reference, bic in payloads(600):
        ours = epc_qr.make(name, iban, amount, reference, bic)
        theirs = helpers.make_epc_qr(name=name, iban=iban, amount=amount, reference=reference, bic=bic)
        matrix = tuple(bytearray(row.tobytes()) for row in ours.matrix)
        assert (ours.mask, matrix, ours.version) == (theirs.mask, theirs.matrix, theirs.version), (name, amount, reference)
        versions.add(theirs.version)
    assert {5, 6, 7, 8} <= versions  # with and without the version information (7 and later)
    assert len({epc_qr.make(*p).mask for p in payloads(200, seed=8)}) == 8  # every mask is chosen somewhere


def test_the_svg_is_segnos_own():
    for name, iban, amount, reference, bic in payloads(300, seed=9):
        title = f"EPC QR code <{name}> & more"
        theirs = helpers.make_epc_qr(name=name, iban=iban, amount=amount, reference=reference, bic=bic)
        assert epc_qr.svg(epc_qr.make(name, iban, amount, reference, bic), title) == \
            theirs.svg_inline(scale=1, omitsize=True, title=title)


def test_the_error_correction_is_segnos_division():
    """Each data bit's error correction codewords, for every block of level M up to version 13 (the largest an EPC
    payload needs), are those segno's Reed-Solomon division gives for a block holding that bit alone."""
    blocks = {(info.num_data, info.num_total - info.num_data) for version in range(1, 14)
              for info in consts.ECC[version][consts.ERROR_LEVEL_M]}
    for data, correction in sorted(blocks):
        one = (consts.ECC[1][consts.ERROR_LEVEL_M][0]._replace(num_blocks=1, num_total=data + correction, num_data=data),)
        rows = epc_qr._error_correction(data, correction)
        for bit in range(8 * data):
            unit = [0] * (8 * data)
            unit[bit] = 1
            assert rows[bit].tobytes() == bytes(encoder.make_blocks(one, encoder.Buffer(unit))[1][0]), (data, correction, bit)


def test_the_penalties_are_segnos_score_for_any_matrix():
    """Random matrices, and ones full of finder-like patterns overlapping 4 and 6 modules on, score as segno scores
    them (ISO/IEC 18004 7.8.3.1)."""
    rng = np.random.default_rng(11)
    pattern = np.array([1, 0, 1, 1, 1, 0, 1, 1, 1, 0, 1, 0, 0, 0, 0, 1, 0, 1, 1, 1, 0, 1], dtype=np.uint8)
    for size in (25, 41, 57):
        stack = rng.integers(0, 2, (8, size, size), dtype=np.uint8)
        stack[1] = np.where(rng.random((size, size)) < 0.2, 1, 0)  # mostly light: long runs and many blocks
        for row in range(0, size, 3):
            at = rng.integers(0, size - len(pattern) + 1)
            stack[2, row, at:at + len(pattern)] = pattern
            stack[3, at:at + len(pattern), row] = pattern
        expected = [encoder.evaluate_mask(tuple(bytearray(r.tobytes()) for r in m), size, size) for m in stack]
        assert epc_qr.penalties(stack).tolist() == expected, size
