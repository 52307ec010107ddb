"""The Dutch statutory collection costs (Besluit vergoeding voor buitengerechtelijke incassokosten, art. 2), in euro
cents, on the principal: 15 % of the first 2,500 EUR (at least 40 EUR), 10 % of the next 2,500, 5 % of the next 5,000,
1 % of the next 190,000, 0.5 % of the rest, at most 6,775 EUR. Without VAT."""
from __future__ import annotations

import numpy as np

_BANDS = ((250_000, 15), (250_000, 10), (500_000, 5), (19_000_000, 1))  # cents, percent
_REST_PER_MILLE = 5
MINIMUM, MAXIMUM = 4_000, 677_500


def collection_costs(principal: np.ndarray) -> np.ndarray:
    """The costs for each principal (cents, int64), each band exact to the cent, rounded half up once."""
    left = np.clip(principal.astype("int64"), 0, 10**10)  # the maximum is reached long before: no overflow
    milli = np.zeros(len(left), dtype="int64")  # thousandths of a cent: bands are whole percents or per mille
    for width, percent in _BANDS:
        part = np.minimum(left, width)
        milli += part * percent * 10
        left = left - part
    milli += left * _REST_PER_MILLE
    cents = (milli + 500) // 1000
    return np.where(principal > 0, np.clip(cents, MINIMUM, MAXIMUM), 0)
