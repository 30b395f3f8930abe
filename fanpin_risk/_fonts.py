"""Fonts for Chinese plot labels: the one list of CJK fonts, shared by every stage that draws.

Chinese glyphs only render when matplotlib uses a font that has them. Debian and
Ubuntu ship them in ``fonts-noto-cjk`` (Noto Sans CJK SC); ``fonts-wqy-zenhei``
works too; on a machine with neither, the Noto Sans CJK SC file of the
``mplfonts`` dependency is used. :func:`cjk_rc` gives the rc settings for
``matplotlib.rc_context``.
"""

from __future__ import annotations

#: Fonts tried in order; DejaVu Sans is matplotlib's own fallback (no CJK glyphs).
CJK_FONTS = ["Noto Sans CJK SC", "Noto Sans CJK JP", "WenQuanYi Zen Hei", "DejaVu Sans"]


#: The CJK font that ships with the package's dependencies (mplfonts), used when the system has none.
BUNDLED_FONT = ("mplfonts", "NotoSansCJKsc-Regular.otf")

_found: dict[str, str | None] = {}


def find_cjk_font() -> str | None:
    """Name of the CJK font matplotlib will use: the first of :data:`CJK_FONTS` installed, else the bundled one.

    The system's fonts are searched first (rebuilding matplotlib's font cache once
    when it predates a font installation); when none has CJK glyphs, the Noto
    Sans CJK SC file that the ``mplfonts`` dependency ships is registered with
    matplotlib's font manager (an addition: nothing else changes). None only when
    neither exists. The answer is cached for the process.

    Examples
    --------
    >>> find_cjk_font() in ("Noto Sans CJK SC", "Noto Sans CJK JP", "WenQuanYi Zen Hei")
    True
    """
    if "name" not in _found:
        _found["name"] = _installed_cjk_font() or _bundled_cjk_font()
    return _found["name"]


def _installed_cjk_font() -> str | None:
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


def _bundled_cjk_font() -> str | None:
    import os

    from matplotlib import font_manager

    try:
        from mplfonts.conf import FONT_DIR
    except ImportError:  # pragma: no cover - mplfonts is a dependency
        return None
    path = os.path.join(FONT_DIR, BUNDLED_FONT[1])
    if not os.path.isfile(path):  # pragma: no cover - another mplfonts layout
        return None
    font_manager.fontManager.addfont(path)
    return font_manager.FontProperties(fname=path).get_name()


def warn_once_without_cjk_font(stacklevel: int = 3) -> bool:
    """Warn (once per process) when no CJK font exists at all; True when one does."""
    if find_cjk_font() is not None:
        return True
    if not _found.get("warned"):
        import warnings

        warnings.warn("no CJK font found (install fonts-noto-cjk, or reinstall fanpin_risk to get mplfonts); "
                      "Chinese labels will show as boxes", stacklevel=stacklevel)
        _found["warned"] = "yes"
    return False


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
    if warn:
        warn_once_without_cjk_font()
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
