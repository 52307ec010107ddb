"""Text columns as contiguous Arrow arrays, for Arrow compute kernels."""
from __future__ import annotations

import pandas as pd
import pyarrow as pa


def arrow_strings(series: pd.Series) -> pa.Array:
    """A text column as one contiguous Arrow array ("" for missing)."""
    array = pa.array(series.astype("string").fillna(""), type=pa.large_string())
    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array
