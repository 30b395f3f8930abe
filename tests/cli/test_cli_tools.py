"""The CLI for people and for cron: which model was used, --lines, --names, progress lines when piped, tables that fit."""

from __future__ import annotations

import io

import pandas as pd
import pytest
from rich.console import Console
from typer.testing import CliRunner

import fanpin_risk as fr
from fanpin_risk import contract
from fanpin_risk.cli import app
from fanpin_risk.cli._common import print_table


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    panel = fr.simulate(n_households=300, seed=6)
    contract.export_frame(panel).to_csv(d / "panel.csv", index=False, encoding="utf-8-sig")
    codes = pd.unique(pd.concat([panel[c].dropna() for c in ("county_code", "township_code", "village_code")]))
    pd.DataFrame({"代码": codes, "名称": [f"地名{c[-3:]}" for c in codes]}).to_csv(d / "names.csv", index=False)
    return d, panel


def test_score_says_which_model_and_writes_names(files, tmp_path):
    d, panel = files
    r = CliRunner().invoke(app, ["score", str(d / "panel.csv"), "-o", str(tmp_path / "l.csv"), "--budget", "0.1",
                                 "--names", str(d / "names.csv"), "--lines", str(contract.schema_dir() / "monitoring_lines.csv"),
                                 "--quota-by", "county_code"])
    assert r.exit_code == 0, r.output
    assert "packaged default model" in r.output and "--model DIR" in r.output and "sha256" in r.output
    out = pd.read_csv(tmp_path / "l.csv", dtype=str)
    cols = list(out.columns)
    assert cols[cols.index("乡镇代码") + 1] == "乡镇名称" and cols[cols.index("村代码") + 1] == "村名称"
    assert (out["乡镇名称"] == "地名" + out["乡镇代码"].str[-3:]).all()


def test_score_with_own_model_says_so(files, tmp_path):
    d, panel = files
    fr.train(panel, model="scorecard", log_to_mlflow=False).save(tmp_path / "m")
    r = CliRunner().invoke(app, ["score", str(d / "panel.csv"), "-o", str(tmp_path / "l.xlsx"), "--model", str(tmp_path / "m")])
    assert r.exit_code == 0, r.output
    assert "packaged" not in r.output and "scorecard" in r.output and str(tmp_path / "m") in r.output.replace("\n", "")


def test_help_lists_every_quota_unit():
    for cmd in ("score", "report"):
        r = CliRunner().invoke(app, [cmd, "--help"], env={"COLUMNS": "200"})
        assert all(u in r.output for u in ("county_code", "township_code", "village_code")), cmd


def test_backtest_progress_is_one_line_per_step_when_piped(capsys):
    fr.backtest(fr.simulate(n_households=300, seed=6), models=("rule", "scorecard"), n_boot=0, progress=True,
                log_to_mlflow=False, figures=False)
    err = capsys.readouterr().err.splitlines()
    steps = [x for x in err if x.startswith("backtest ")]
    done, total = steps[-1].split()[1].rstrip(":").split("/")
    assert len(steps) == int(total) >= 4 and done == total


def test_tables_fit_the_width_or_go_vertical():
    df = pd.DataFrame({"model": ["rule", "lightgbm"], "year": ["2024", "pooled"], "precision_at_10pct": [0.25, 0.3],
                       "recall_at_10pct": [0.1, 0.2], "roc_auc": [0.7, 0.8]})
    wide, narrow = io.StringIO(), io.StringIO()
    print_table(Console(file=wide, width=120), df)
    print_table(Console(file=narrow, width=40), df)
    assert wide.getvalue().splitlines()[0].split() == list(df.columns)
    assert all(len(x) <= 40 for x in narrow.getvalue().splitlines())
    assert "  precision_at_10pct  0.300" in narrow.getvalue()


def test_validate_writes_the_issues_in_chinese_and_takes_lines(files, tmp_path):
    d, panel = files
    raw = contract.export_frame(panel)
    raw.loc[0, "家庭人口数"] = 0  # one issue to report
    raw.to_csv(tmp_path / "p.csv", index=False, encoding="utf-8-sig")
    lines = contract.schema_dir() / "monitoring_lines.csv"
    r = CliRunner().invoke(app, ["validate", str(tmp_path / "p.csv"), "--report", str(tmp_path / "i.xlsx"), "--lines", str(lines)])
    book = pd.read_excel(tmp_path / "i.xlsx", sheet_name=None)
    assert list(book) == ["问题清单"]
    t = book["问题清单"]
    assert {"行号", "字段", "规则", "级别", "说明"} <= set(t.columns) and set(t["级别"]) <= {"错误", "警告", "info"}
    r = CliRunner().invoke(app, ["validate", str(tmp_path / "p.csv"), "--report", str(tmp_path / "i.csv"), "--headers", "en"])
    assert "rule" in pd.read_csv(tmp_path / "i.csv").columns


def test_train_and_backtest_take_lines(files, tmp_path):
    d, _ = files
    lines = str(contract.schema_dir() / "monitoring_lines.csv")
    r = CliRunner().invoke(app, ["train", "-i", str(d / "panel.csv"), "-m", "rule", "-o", str(tmp_path / "m"),
                                 "--no-mlflow", "--lines", lines])
    assert r.exit_code == 0, r.output
    assert "fanpin-risk score EXPORT.xlsx --model" in r.output.replace("\n", "")
    r = CliRunner().invoke(app, ["backtest", "-i", str(d / "panel.csv"), "-m", "rule", "--n-boot", "0", "--no-mlflow",
                                 "-o", str(tmp_path / "bt"), "--lines", lines])
    assert r.exit_code == 0, r.output


def test_score_says_which_next_year_line_the_list_was_judged_against(files, tmp_path):
    d, panel = files
    last = int(panel["year"].max())
    lines = tmp_path / "lines.csv"
    pd.DataFrame({"省份": ["全国"], "年度": [last + 1], "监测标准": [9100]}).to_csv(lines, index=False, encoding="utf-8-sig")
    r = CliRunner().invoke(app, ["score", str(d / "panel.csv"), "-o", str(tmp_path / "l.csv")], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    assert f"全国 {last + 1} 年 约" in r.output and "按往年增幅推算" in r.output  # projected: not announced yet
    r = CliRunner().invoke(app, ["score", str(d / "panel.csv"), "-o", str(tmp_path / "l.csv"), "--lines", str(lines)],
                           env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    assert f"全国 {last + 1} 年 9,100 元（已公布的标准）" in r.output


def test_score_without_a_budget_says_what_the_tiers_mean(files, tmp_path):
    """No --budget marks nobody 纳入走访名单; the CLI says so and counts the tiers instead of "0 in the budget"."""
    d, panel = files
    r = CliRunner().invoke(app, ["score", str(d / "panel.csv"), "-o", str(tmp_path / "l.csv")], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    out = pd.read_csv(tmp_path / "l.csv", dtype=str)
    assert (out["纳入走访名单"] == "否").all()
    n_high, n_mid = int((out["风险等级"] == "高").sum()), int((out["风险等级"] == "中").sum())
    assert f"no visit budget (--budget): tiers by probability, 高 {n_high:,}, 中 {n_mid:,}" in r.output
    assert "in the budget" not in r.output
    r = CliRunner().invoke(app, ["score", str(d / "panel.csv"), "-o", str(tmp_path / "l.csv"), "--budget", "5"],
                           env={"COLUMNS": "200"})
    assert r.exit_code == 0 and "5 in the budget" in r.output


def test_an_export_with_errors_names_the_command_that_lists_them(files, tmp_path):
    """The CLI has no errors='warn': its message points to `fanpin-risk validate -r` instead."""
    d, panel = files
    bad = pd.read_csv(d / "panel.csv", dtype=str)
    bad.loc[:4, bad.columns[0]] = None  # five rows without a household id
    path = tmp_path / "bad.csv"
    bad.to_csv(path, index=False, encoding="utf-8-sig")
    r = CliRunner().invoke(app, ["score", str(path), "-o", str(tmp_path / "l.csv")], env={"COLUMNS": "200"})
    assert r.exit_code != 0
    text = str(r.exception) + r.output
    assert f"fanpin-risk validate {path} -r issues.xlsx" in text.replace("\n", "") and "errors='warn'" not in text
