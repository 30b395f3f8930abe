"""Plotting helpers of the reports; the CJK font set-up itself is :mod:`fanpin_risk._fonts`."""

from __future__ import annotations

import base64
import io

from fanpin_risk._fonts import CJK_FONTS, cjk_font_available, find_cjk_font, setup_cjk_fonts

__all__ = ["CJK_FONTS", "find_cjk_font", "cjk_font_available", "setup_cjk_fonts", "fig_to_base64"]

def fig_to_base64(fig, *, dpi: int = 110) -> str:
    """Render a matplotlib figure to a base64 PNG string and close it."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")
