"""Chinese renders on a machine without a system CJK font (the bundled Noto Sans CJK SC), with one warning at most."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

# Runs in a fresh interpreter: matplotlib sees no system font at all (an empty font
# search and an empty cache dir), as on a new machine without fonts-noto-cjk.
_NO_SYSTEM_FONTS = """
import json, os, sys, tempfile, warnings
os.environ["MPLCONFIGDIR"] = tempfile.mkdtemp()
os.environ["MPLBACKEND"] = "Agg"
import matplotlib.font_manager as fm
_orig = fm.findSystemFonts  # matplotlib's own fonts (given as paths) stay; the system search finds nothing
fm.findSystemFonts = lambda fontpaths=None, fontext="ttf": _orig(fontpaths, fontext) if fontpaths else []
fm.fontManager = fm.FontManager()
fm.findfont = fm.fontManager.findfont
if {hide_bundled}:
    sys.modules["mplfonts.conf"] = None  # as if mplfonts were not installed
import matplotlib
from matplotlib.figure import Figure
from fanpin_risk._fonts import cjk_rc, find_cjk_font
import fanpin_risk as fr
out = {{"system": sorted({{f.name for f in fm.fontManager.ttflist}})}}
with warnings.catch_warnings(record=True) as w:
    warnings.simplefilter("always")
    out["font"] = find_cjk_font()
    with matplotlib.rc_context(cjk_rc()):
        fig = Figure()
        fig.subplots().set_title("返贫致贫风险概率分布（户数）")
        fig.savefig(os.devnull, format="png")
        out["file"] = fm.findfont(fm.FontProperties(family=["sans-serif"]))
    out["draw_warnings"] = [str(x.message) for x in w]
with warnings.catch_warnings(record=True) as w:
    warnings.simplefilter("always")
    fr.write_html_report(fr.simulate(n_households=150, seed=2), os.path.join(tempfile.mkdtemp(), "r.html"), n_waterfall=1)
    out["report_warnings"] = [str(x.message) for x in w if "font" in str(x.message) or "Glyph" in str(x.message)]
print("RESULT" + json.dumps(out, ensure_ascii=False))
"""


def _run(hide_bundled: bool) -> dict:
    code = textwrap.dedent(_NO_SYSTEM_FONTS.format(hide_bundled=hide_bundled))
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    line = next(x for x in p.stdout.splitlines() if x.startswith("RESULT"))
    return json.loads(line[len("RESULT"):])


@pytest.mark.slow
def test_bundled_font_renders_chinese_without_system_fonts():
    out = _run(hide_bundled=False)
    assert not any("CJK" in n or "WenQuanYi" in n for n in out["system"] if n != out["font"])
    assert out["font"] == "Noto Sans CJK SC"
    assert out["file"].endswith("NotoSansCJKsc-Regular.otf") and "mplfonts" in out["file"]
    assert not [m for m in out["draw_warnings"] if "missing from font" in m], out["draw_warnings"][:3]
    assert out["report_warnings"] == []


@pytest.mark.slow
def test_without_any_cjk_font_one_warning_not_hundreds():
    out = _run(hide_bundled=True)
    assert out["font"] is None
    assert len(out["report_warnings"]) == 1 and "no CJK font" in out["report_warnings"][0]
