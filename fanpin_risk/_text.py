"""Text columns compared through integer codes: shared by features and scoring.

Scoring a province means comparing and copying text columns of millions of
rows; going through Arrow dictionary codes avoids a Python string per row.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["encode_text", "CodedText"]


def encode_text(s: pd.Series) -> tuple[np.ndarray, dict[str, int]]:
    """Text column → integer codes (−1 = missing) and its vocabulary, encoded once per panel."""
    if str(s.dtype) != "str":
        s = s.astype("str")  # numbers or objects compare as their text, as before
    try:
        import pyarrow as pa
        import pyarrow.compute as pc

        arr = s.array.__arrow_array__()
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()  # one dictionary for the whole column
        d = pc.dictionary_encode(arr)
        codes = d.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
        return codes, {v: i for i, v in enumerate(d.dictionary.to_pylist())}
    except (AttributeError, ImportError, TypeError, ValueError):  # text not stored in Arrow
        codes, uniq = pd.factorize(s)
        return np.asarray(codes, dtype=np.int64), {str(v): i for i, v in enumerate(uniq)}


class CodedText:
    """A text column at some rows, compared through its codes (no Python string per row).

    Missing values count as the empty string, as ``astype(str)`` with missing → ""
    did.
    """

    def __init__(self, enc: tuple[np.ndarray, dict[str, int]] | None, pos: np.ndarray):
        self.n = len(pos)
        self.codes = None if enc is None else enc[0][pos]
        self.vocab = {} if enc is None else enc[1]

    def eq(self, value: str) -> np.ndarray:
        if self.codes is None:
            return np.full(self.n, value == "")
        hit = self.codes == self.vocab.get(value, -2)
        return hit | (self.codes < 0) if value == "" else hit

    def nonempty(self) -> np.ndarray:
        if self.codes is None:
            return np.zeros(self.n, dtype=bool)
        return (self.codes >= 0) & (self.codes != self.vocab.get("", -2))
