"""Fonts for Chinese plot labels: the one list of CJK fonts, shared by every stage that draws.

Chinese glyphs only render when matplotlib uses a font that has them. Debian and
Ubuntu ship them in ``fonts-noto-cjk`` (Noto Sans CJK SC); ``fonts-wqy-zenhei``
works too. :func:`cjk_rc` gives the rc settings for ``plt.rc_context``.
"""

from __future__ import annotations

#: Fonts tried in order; DejaVu Sans is matplotlib's own fallback (no CJK glyphs).
CJK_FONTS = ["Noto Sans CJK SC", "Noto Sans CJK JP", "WenQuanYi Zen Hei", "DejaVu Sans"]


def find_cjk_font() -> str | None:
    """Name of the first CJK-capable font of :data:`CJK_FONTS` that matplotlib can find, else None."""
    from matplotlib import font_manager

    available = {f.name for f in font_manager.fontManager.ttflist}
    for name in CJK_FONTS[:-1]:
        if name in available:
            return name
    # The font cache may predate the font installation: rebuild once.
    try:
        fm = font_manager._load_fontmanager(try_read_cache=False)  # type: ignore[attr-defined]
        font_manager.fontManager = fm
        font_manager.findfont = fm.findfont
        font_manager.get_font_names = fm.get_font_names
    except Exception:  # pragma: no cover - private API changed
        return None
    available = {f.name for f in font_manager.fontManager.ttflist}
    return next((n for n in CJK_FONTS[:-1] if n in available), None)


def cjk_font_available() -> bool:
    """True when a font that renders Chinese is installed and visible to matplotlib."""
    return find_cjk_font() is not None


def setup_cjk_fonts(*, warn: bool = True) -> str | None:
    """Configure matplotlib for Chinese labels, globally (for your own plots; the library never calls it).

    Sets ``rcParams["font.sans-serif"]`` to :data:`CJK_FONTS` (then matplotlib's
    previous list), ``font.family`` to sans-serif and ``axes.unicode_minus`` to False.

    Parameters
    ----------
    warn : bool, default True
        Emit a warning when no CJK font is installed (Chinese text then shows as boxes).

    Returns
    -------
    str or None
        The CJK font that will be used, or None when none is installed.
    """
    import matplotlib

    found = find_cjk_font()
    matplotlib.rcParams.update(cjk_rc())  # the user asked for it: this function exists to change rcParams
    if found is None and warn:
        import warnings

        warnings.warn(
            "no CJK font found (install fonts-noto-cjk or fonts-wqy-zenhei); "
            "Chinese labels will not render", stacklevel=2,
        )
    return found


def cjk_rc() -> dict:
    """rc settings for ``matplotlib.rc_context``: :data:`CJK_FONTS` first, sans-serif, no Unicode minus (CJK fonts lack it).

    The library draws inside ``rc_context(cjk_rc())`` and never changes the
    caller's rcParams; :func:`setup_cjk_fonts` is for users who want the same
    settings globally.

    Examples
    --------
    >>> rc = cjk_rc()
    >>> rc["font.sans-serif"][0], rc["axes.unicode_minus"]
    ('Noto Sans CJK SC', False)
    """
    import matplotlib

    rest = [f for f in matplotlib.rcParams["font.sans-serif"] if f not in CJK_FONTS]
    return {"font.sans-serif": CJK_FONTS + rest, "font.family": "sans-serif", "axes.unicode_minus": False}
