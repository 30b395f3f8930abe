"""Outputs for county and village staff: an Excel list and a self-contained HTML report.

* :func:`write_workbook` — the ranked list with Chinese headers (sheet 名单) and a
  summary sheet (汇总): counts by tier, by main risk type, by township, and the budget.
* :func:`write_html_report` — one HTML file, plots embedded as base64 PNG: score
  distribution, risk-type mix by township, the top-k list, global contribution
  summary (per feature and per risk type) and waterfall plots for the top households.
"""

from __future__ import annotations

import html
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fanpin_risk.explain import explain, format_value
from fanpin_risk.models import resolve_model
from fanpin_risk.panel import as_panel
from fanpin_risk.scoring import SCORE_COLUMNS, SCORE_COLUMNS_ZH, score, to_headers

from fanpin_risk._fonts import cjk_rc, warn_once_without_cjk_font

from ._plotting import fig_to_base64

LIST_SHEET = "名单"
SUMMARY_SHEET = "汇总"


def _en(scored: pd.DataFrame) -> pd.DataFrame:
    return to_headers(scored, "en")


def summary_tables(scored: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Summary tables of a scored list (Chinese headers)."""
    s = _en(scored)
    ok = s[s["status"] == "scored"]
    tiers = ok["risk_tier"].value_counts().reindex(["高", "中", "低"], fill_value=0)
    by_tier = pd.DataFrame({"风险等级": tiers.index, "户数": tiers.to_numpy(),
                            "平均风险概率": [ok.loc[ok["risk_tier"] == t, "risk_score"].mean() for t in tiers.index]})
    mt = ok["main_risk_type"].fillna("(未解释)").value_counts()
    inb = ok[ok["in_budget"].fillna(False).astype(bool)]
    by_type = pd.DataFrame({"主要风险类型": mt.index, "户数": mt.to_numpy(),
                            "其中纳入名单": [int((inb["main_risk_type"].fillna("(未解释)") == t).sum()) for t in mt.index]})
    g = s.assign(township_code=s["township_code"].fillna("(未知)")).groupby("township_code", sort=True)
    by_town = pd.DataFrame({
        "乡镇代码": list(g.groups),
        "户数": g.size().to_numpy(),
        "已评分": g["status"].apply(lambda x: int((x == "scored").sum())).to_numpy(),
        "高风险": g["risk_tier"].apply(lambda x: int((x == "高").sum())).to_numpy(),
        "纳入名单": g["in_budget"].apply(lambda x: int(x.fillna(False).astype(bool).sum())).to_numpy(),
        "平均风险概率": g["risk_score"].mean().round(4).to_numpy(),
    })
    st = s["status"].value_counts()
    attrs = scored.attrs or {}
    info = pd.DataFrame({"项目": ["评分年度", "户数", "已评分户数", "评分年度无记录", "无法评分", "走访预算", "按单位分配名额", "纳入名单户数", "等级划分"],
                         "值": [attrs.get("year", s["year"].dropna().max() if len(s) else ""), len(s), int(st.get("scored", 0)),
                                int(st.get("not_in_year", 0)), int(st.get("unscorable", 0)),
                                "" if attrs.get("budget") is None else attrs.get("budget"),
                                attrs.get("quota_by") or "", int(s["in_budget"].fillna(False).astype(bool).sum()),
                                "按走访预算" if attrs.get("budget") is not None else
                                f"概率 ≥ {attrs.get('tier_cutoffs', {}).get('高', 0.3)} 为高, ≥ {attrs.get('tier_cutoffs', {}).get('中', 0.1)} 为中"]})
    nxt = next_line_text(attrs.get("next_lines"))
    if nxt:
        info = pd.concat([info, pd.DataFrame({"项目": ["判断所用监测标准"], "值": [nxt]})], ignore_index=True)
    return {"概况": info, "按风险等级": by_tier, "按主要风险类型": by_type, "按乡镇": by_town}


_LINE_SOURCES = {"records": "下年记录中的标准", "published": "已公布的标准", "fitted": "训练数据中的标准",
                 "projected": "尚未公布，按往年增幅推算"}


def next_line_text(next_lines: list[dict] | None, most: int = 5) -> str:
    """The next-year lines the model judged against, in words ("" when the model judges against this year's line).

    Examples
    --------
    >>> next_line_text([{"province": "贵州", "next_year": 2026, "next_line": 7861.4, "source": "projected"}])
    '贵州 2026 年 约 7,861 元（尚未公布，按往年增幅推算）'
    """
    parts = []
    for r in (next_lines or [])[:most]:
        v = r.get("next_line")
        if v is None or not np.isfinite(v):
            continue
        approx = "约 " if r.get("source") == "projected" else ""
        parts.append(f"{r.get('province') or '（未填省份）'} {r.get('next_year')} 年 {approx}{v:,.0f} 元"
                     f"（{_LINE_SOURCES.get(r.get('source'), r.get('source'))}）")
    more = len(next_lines or []) - most
    return "；".join(parts) + (f"；另有 {more} 个省份" if more > 0 else "")


#: Name columns written beside the region codes when names are given.
_NAME_COLUMNS = {"县代码": "县名称", "乡镇代码": "乡镇名称", "村代码": "村名称"}


def with_region_names(zh: pd.DataFrame, names: dict[str, str] | None) -> pd.DataFrame:
    """Chinese-header list with 县名称/乡镇名称/村名称 beside the code columns (unknown codes left empty)."""
    if not names:
        return zh
    out = zh.copy()
    for code_col, name_col in _NAME_COLUMNS.items():
        if code_col in out.columns:
            out.insert(out.columns.get_loc(code_col) + 1, name_col, out[code_col].map(names).astype("str"))
    return out


def staff_list(scored: pd.DataFrame, names: dict[str, str] | None = None) -> pd.DataFrame:
    """The ranked list as county staff read it: Chinese headers, 是/否, probability to four decimals.

    The sheet 名单 of :func:`write_workbook` and the Chinese CSV of ``fanpin-risk score``
    are this table.

    Parameters
    ----------
    scored : DataFrame
        Output of :func:`fanpin_risk.scoring.score` (English or Chinese headers).
    names : dict, optional
        Region code → name: 县名称, 乡镇名称 and 村名称 columns beside the codes.

    Examples
    --------
    >>> import pandas as pd
    >>> s = pd.DataFrame({"household_id": ["H1"], "risk_score": [0.123456], "in_budget": [True],
    ...                   "has_labor": [False], "status": ["scored"]})
    >>> row = staff_list(s).iloc[0]
    >>> row["户编号"], float(row["返贫致贫风险概率"]), row["纳入走访名单"], row["有劳动力"]
    ('H1', 0.1235, '是', '否')
    """
    zh = to_headers(scored, "zh")
    zh = zh[[SCORE_COLUMNS_ZH[c] for c in SCORE_COLUMNS if SCORE_COLUMNS_ZH[c] in zh.columns]].copy()
    zh = with_region_names(zh, names)
    for col in ("纳入走访名单", "有劳动力"):  # as the national system writes them, not True/False
        if col in zh.columns:
            zh[col] = zh[col].map({True: "是", False: "否"}).astype(object)
    if "返贫致贫风险概率" in zh.columns:
        zh["返贫致贫风险概率"] = zh["返贫致贫风险概率"].round(4)
    return zh


def write_workbook(scored: pd.DataFrame, path: str | Path, *, names: dict[str, str] | None = None) -> Path:
    """Write the ranked list (sheet 名单, Chinese headers) and the summary (sheet 汇总) to xlsx.

    Parameters
    ----------
    scored : DataFrame
        Output of :func:`fanpin_risk.scoring.score` (English or Chinese headers).
    path : path
        ``.xlsx`` file to write (folders are created).
    names : dict, optional
        Region code → name: 县名称, 乡镇名称 and 村名称 columns beside the codes.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    zh = staff_list(scored, names)
    tables = summary_tables(scored)
    with pd.ExcelWriter(path, engine="openpyxl") as xw:
        zh.to_excel(xw, sheet_name=LIST_SHEET, index=False)
        row = 0
        for title, t in tables.items():
            pd.DataFrame({title: []}).to_excel(xw, sheet_name=SUMMARY_SHEET, startrow=row, index=False)
            t.to_excel(xw, sheet_name=SUMMARY_SHEET, startrow=row + 1, index=False)
            row += len(t) + 4
        ws = xw.sheets[LIST_SHEET]
        ws.freeze_panes = "B2"
        widths = {"户编号": 16, "主要风险因素": 60, "各风险类型贡献": 40, "建议帮扶措施": 30, "状态说明": 30}
        from openpyxl.utils import get_column_letter

        for i, col in enumerate(zh.columns, start=1):
            ws.column_dimensions[get_column_letter(i)].width = widths.get(col, 12)
            if col == "返贫致贫风险概率":  # a number a cadre reads as a percentage, still sortable
                for (cell,) in ws.iter_rows(min_row=2, min_col=i, max_col=i):
                    cell.number_format = "0.0%"
        ws.auto_filter.ref = ws.dimensions
        xw.sheets[SUMMARY_SHEET].column_dimensions["A"].width = 18
    return path


# --------------------------------------------------------------------------- HTML
def _plots_from_scored(s: pd.DataFrame) -> list[tuple[str, str]]:
    import matplotlib.pyplot as plt

    out = []
    ok = s[s["status"] == "scored"]
    fig, ax = plt.subplots(figsize=(7, 3.5))
    colors = {"高": "#c0392b", "中": "#e67e22", "低": "#7f8c8d"}
    bins = np.linspace(0, max(0.05, float(ok["risk_score"].max() or 0)), 31)
    for t in ("低", "中", "高"):
        v = ok.loc[ok["risk_tier"] == t, "risk_score"]
        if len(v):
            ax.hist(v, bins=bins, color=colors[t], label=f"{t} ({len(v)} 户)", alpha=0.85)
    ax.set_xlabel("返贫致贫风险概率")
    ax.set_ylabel("户数")
    ax.set_title("风险概率分布")
    ax.legend()
    out.append(("风险概率分布", fig_to_base64(fig)))
    shares = _attributed_shares(ok)
    if shares is not None:
        fig, ax = plt.subplots(figsize=(7, 0.35 * len(shares) + 1.4))
        ax.barh(shares.index, shares.to_numpy(), color="#41ab5d")
        ax.set_xlabel("平均每户风险中的份额（个百分点）")
        ax.set_title("重点户风险按风险类型的归因（各类型份额之和 = 风险概率）")
        out.append(("各风险类型对风险的贡献（归因后）", fig_to_base64(fig)))

    sub = ok[ok["main_risk_type"].notna()]
    focus = sub[sub["in_budget"].fillna(False).astype(bool)]
    if len(focus) == 0:
        focus = sub[sub["risk_tier"].isin(["高", "中"])]
    if len(focus):
        full = pd.crosstab(focus["township_code"].fillna("(未知)"), focus["main_risk_type"])
        ct = _top_rows(full, TOP_TOWNSHIPS)
        fig, ax = plt.subplots(figsize=(8, 0.35 * len(ct) + 1.8))
        ct.iloc[::-1].plot.barh(stacked=True, ax=ax, colormap="tab20")  # largest at the top
        ax.set_ylabel("乡镇代码")
        if len(full) > len(ct):
            others = full.drop(index=ct.index)
            ax.set_title(f"重点户主要风险类型：户数最多的 {len(ct)} 个乡镇")
            ax.set_xlabel(f"户数（另有 {len(others)} 个乡镇共 {int(others.to_numpy().sum())} 户未列出，见汇总表）")
        else:
            ax.set_title("重点户主要风险类型（按乡镇）")
            ax.set_xlabel("户数")
        ax.legend(title="主要风险类型", bbox_to_anchor=(1.01, 1), loc="upper left")
        out.append(("主要风险类型构成（按乡镇）", fig_to_base64(fig)))
    return out


def _attributed_shares(ok: pd.DataFrame) -> pd.Series | None:
    """Mean percentage points per risk type over the explained listed households (cause attribution's text)."""
    rows = ok[ok["in_budget"].fillna(False).astype(bool)] if ok["in_budget"].fillna(False).any() else ok
    txt = rows["risk_type_contributions"].dropna()
    txt = txt[txt.str.contains("个百分点", regex=False)]
    if not len(txt):
        return None
    pts = txt.str.split("；").explode().str.extract(r"^(\S+) ([\d.]+)个百分点$").dropna()
    per = pts.assign(v=pts[1].astype(float)).groupby(0)["v"].sum() / len(txt)
    return per.sort_values(ascending=True)


def _plots_from_explanation(exp, ranks: pd.Series, n_waterfall: int) -> list[tuple[str, str]]:
    import matplotlib.pyplot as plt

    out = []
    vals = np.abs(np.asarray(exp.values))
    mean_abs = pd.Series(vals.mean(axis=0), index=exp.feature_names).sort_values(ascending=True).tail(15)
    fig, ax = plt.subplots(figsize=(7, 0.32 * len(mean_abs) + 1.2))
    ax.barh(mean_abs.index, mean_abs.to_numpy(), color="#2c7fb8")
    ax.set_xlabel("平均 |贡献| (log-odds)")
    ax.set_title("各因素对风险的平均影响（前15）")
    out.append(("全局因素重要性（按特征）", fig_to_base64(fig)))

    by_type = pd.DataFrame(np.asarray(exp.values), columns=exp.risk_types).T.groupby(level=0).sum().T
    mt = by_type.abs().mean().sort_values(ascending=True)
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(mt) + 1.2))
    ax.barh(mt.index, mt.to_numpy(), color="#41ab5d")
    ax.set_xlabel("平均 |贡献| (log-odds)")
    ax.set_title("各风险类型的模型贡献（TreeSHAP 按类型加总，未归因：收入类因素计入其他）")
    out.append(("全局因素重要性（按风险类型，未归因）", fig_to_base64(fig)))

    ids = list(exp.household_ids)
    pos = {h: i for i, h in enumerate(ids)}
    top = [h for h in ranks.sort_values().index if h in pos][:n_waterfall]
    for h in top:
        fig = _waterfall(exp, pos[h], f"户 {h}（优先排序 {int(ranks[h])}）")
        out.append((f"户 {h} 的风险分解", fig_to_base64(fig)))
    return out


#: Townships shown in the township chart (the others are named in the title's count and in the summary sheet).
TOP_TOWNSHIPS = 15
#: Factors shown in a household's waterfall; the rest are summed under 其余因素.
WATERFALL_FACTORS = 9


def _top_rows(ct: pd.DataFrame, n: int) -> pd.DataFrame:
    """The ``n`` rows with the largest totals, largest first (a bar of all the others would dwarf them)."""
    return ct.loc[ct.sum(axis=1).sort_values(ascending=False, kind="stable").index[:n]]


def _waterfall(exp, i: int, title: str):
    """One household's contributions in Chinese: the largest factors with their values in units, the rest summed."""
    import matplotlib.pyplot as plt

    vals = np.asarray(exp.values[i], dtype=float)
    base = float(np.asarray(exp.base_values)[i] if np.ndim(exp.base_values) else exp.base_values)
    order = np.argsort(-np.abs(vals), kind="stable")
    shown, rest = order[:WATERFALL_FACTORS], order[WATERFALL_FACTORS:]
    fmts = getattr(exp, "value_formats", None) or ["number"] * len(vals)
    labels = [f"{exp.feature_names[j]}：{format_value(exp.data[i][j], fmts[j])}" for j in shown]
    steps = list(vals[shown])
    if len(rest):
        labels.append(f"其余因素（{len(rest)} 项）")
        steps.append(float(vals[rest].sum()))
    fig, ax = plt.subplots(figsize=(8.5, 0.42 * len(steps) + 1.8))
    left = base
    for k, (lab, v) in enumerate(zip(labels, steps)):
        y = len(steps) - 1 - k
        ax.barh(y, v, left=left, color="#c0392b" if v > 0 else "#2980b9")
        ax.text(left + v, y, f" {v:+.2f}", va="center", ha="left" if v > 0 else "right", fontsize=9)
        left += v
    ax.set_yticks(range(len(steps)), labels[::-1])
    ax.axvline(base, color="grey", lw=0.8, ls="--")
    ax.margins(x=0.12)
    ax.axvline(left, color="black", lw=0.8)
    p0, p1 = 1 / (1 + np.exp(-base)), 1 / (1 + np.exp(-left))
    ax.set_xlabel(f"对数几率（log-odds）：平均水平 {base:.2f}（约 {p0:.0%}）→ 本户 {left:.2f}（约 {p1:.0%}，校准前）")
    ax.set_title(title + "：红色推高风险，蓝色降低风险", fontsize=11)
    fig.tight_layout()
    return fig


def _draw(s: pd.DataFrame, exp, n_waterfall: int) -> list[tuple[str, str]]:
    """The report's plots, drawn with CJK fonts inside an rc context: the caller's rcParams stay as they were."""
    import matplotlib

    has_font = warn_once_without_cjk_font(stacklevel=4)
    with matplotlib.rc_context(cjk_rc()), warnings.catch_warnings():
        if not has_font:  # one warning said it; not one more per missing glyph
            warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from font")
        plots = _plots_from_scored(s)
        if exp is not None:
            ranks = s.set_index("household_id")["priority_rank"].dropna()
            plots += _plots_from_explanation(exp, ranks, n_waterfall)
    return plots


def write_html_report(records_or_scored: Any, path: str | Path, model: Any = None, *, year: int | None = None,
                      budget: int | float | None = None, quota_by: str | None = None, top_k: int = 30,
                      n_waterfall: int = 5, lines=None, title: str = "返贫致贫风险监测报告") -> Path:
    """Write a self-contained HTML report (plots as base64 PNG, no external files).

    Parameters
    ----------
    records_or_scored : DataFrame or path
        Household-year records (scored here, with contribution plots), or the
        output of :func:`fanpin_risk.scoring.score` (then only list, distribution
        and risk-type mix; the contribution plots need the records).
    path : path
        HTML file to write.
    model, year, budget, quota_by, lines
        As in :func:`fanpin_risk.scoring.score`.
    top_k : int
        Households shown in the list table.
    n_waterfall : int
        Waterfall plots for the top households.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    is_scored = isinstance(records_or_scored, pd.DataFrame) and (
        "risk_score" in records_or_scored.columns or SCORE_COLUMNS_ZH["risk_score"] in records_or_scored.columns)
    exp = None
    if is_scored:
        s = _en(records_or_scored)
        attrs = dict(records_or_scored.attrs)
    else:
        model = resolve_model(model, lines=lines)
        panel = as_panel(records_or_scored, lines=lines, unusable="keep")  # read once; score() flags unusable rows
        s = score(panel, model, year=year, budget=budget, quota_by=quota_by, reasons="all", lines=lines)
        attrs = dict(s.attrs)
        exp = explain(panel, model, year=year, lines=lines)
    plots = _draw(s, exp, n_waterfall)

    zh = staff_list(s)  # the workbook's 名单, so the report and the workbook say the same
    top = zh[zh["评分状态"] == "已评分"].head(top_k).copy()
    top["返贫致贫风险概率"] = top["返贫致贫风险概率"].map(lambda v: f"{v:.1%}")
    show = ["优先排序", "户编号", "乡镇代码", "村代码", "返贫致贫风险概率", "风险等级", "纳入走访名单",
            "主要风险类型", "主要风险因素", "建议帮扶措施", "有劳动力"]
    table = top[show].to_html(index=False, na_rep="", classes="list", escape=True, border=0)
    tables = summary_tables(s)
    y = attrs.get("year", "")
    parts = [
        "<!DOCTYPE html><html lang='zh-CN'><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title>",
        "<style>body{font-family:'Noto Sans CJK SC','Microsoft YaHei',sans-serif;margin:2em;color:#222}"
        "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px;vertical-align:top}"
        "th{background:#f0f0f0}img{max-width:100%}h2{border-bottom:2px solid #c0392b;padding-bottom:3px}"
        ".note{color:#666;font-size:12px}</style></head><body>",
        f"<h1>{html.escape(title)}（{html.escape(str(y))} 年数据）</h1>",
        "<p class='note'>风险概率为模型对下一年返贫/致贫的校准概率；优先排序 1 为最高风险，"
        "同概率时按模型原始分、再按户编号排序。主要风险因素来自对模型输出的精确加性分解；风险类型份额为去掉"
        "各项致贫原因（及明年可能遇到的疾病、灾害、失业冲击）后模型风险的下降，各类型份额之和等于风险概率。"
        "本报告不含姓名、证件号码、电话等个人信息。</p>",
        "<h2>概况</h2>", tables["概况"].to_html(index=False, border=0),
        "<h2>按风险等级</h2>", tables["按风险等级"].to_html(index=False, border=0, float_format=lambda v: f"{v:.3f}"),
        f"<h2>优先走访名单（前 {len(top)} 户）</h2>", table,
    ]
    for caption, b64 in plots:
        parts.append(f"<h2>{html.escape(caption)}</h2><img alt='{html.escape(caption)}' src='data:image/png;base64,{b64}'>")
    parts += ["<h2>按乡镇</h2>", tables["按乡镇"].to_html(index=False, border=0),
              "<h2>按主要风险类型</h2>", tables["按主要风险类型"].to_html(index=False, border=0),
              "</body></html>"]
    path.write_text("\n".join(parts), encoding="utf-8")
    return path
