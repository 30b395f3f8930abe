"""ID-card numbers of department feeds: check digit, 15 → 18 digits, spellings, person hash, salt, feed tables.

Every number here is synthetic, with the fake region code 990101 (no province 99).
"""

import os
import stat

import pandas as pd
import pytest

from fanpin_risk import contract
from fanpin_risk.contract import (
    feed_fields,
    feed_kinds,
    id_check_digit,
    id_number_issues,
    new_salt_file,
    normalize_id_number,
    person_hash,
    resolve_salt,
)
from fanpin_risk.errors import ContractError

# Worked by hand, weights 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2, check "10X98765432"[sum % 11]:
#   9*7+9*9+0+1*5+0+1*4+1*2+9*1+9*6+0+0+1*9+0+1*5+1*8+2*4+3*2 = 254, 254 % 11 = 1 → "0"
#   last digit 3 → 9 adds 6*2: 266, 266 % 11 = 2 → "X"
#   99010120000229001: 63+81+5+4+4+18+20+45+2 = 242, 242 % 11 = 0 → "1"
HAND = {"99010119900101123": "0", "99010119900101129": "X", "99010120000229001": "1"}


@pytest.mark.parametrize("first17, check", HAND.items())
def test_check_digit_against_hand_computed_numbers(first17, check):
    assert id_check_digit(first17) == check


def test_check_digit_needs_17_digits():
    with pytest.raises(ValueError):
        id_check_digit("9901011990010112")


def test_old_15_digit_number_becomes_18_digits():
    # "19" after the region code, the check digit of the 17 digits appended
    assert normalize_id_number(["990101900101123"]).tolist() == ["990101199001011230"]
    assert id_number_issues(["990101900101123"]).tolist() == ["old_15"]
    # as a numeric cell too: 15 digits survive a float
    assert normalize_id_number([990101900101123.0]).tolist() == ["990101199001011230"]


def test_spellings_apostrophe_full_width_lower_x_spaces():
    vals = ["'99010119900101129x", "９９０１０１１９９００１０１１２９Ｘ", " 990101 19900101 129X ", '="99010119900101129X"']
    assert normalize_id_number(vals).tolist() == ["99010119900101129X"] * 4
    assert id_number_issues(vals).tolist() == [""] * 4


def test_issue_codes():
    vals = ["990101199001011230", "990101900101123", "990101199001011231", "12345", "", None, float("nan"),
            9.90101199001011e17, "99010119900101123A"]
    assert id_number_issues(vals).tolist() == ["", "old_15", "bad_check_digit", "bad_format", "missing",
                                               "missing", "missing", "bad_format", "bad_format"]
    norm = normalize_id_number(vals)
    assert norm.iloc[2] == "990101199001011231"  # a wrong check digit is kept (and hashed)
    assert norm.iloc[3:].isna().all()
    assert set(contract.ID_ISSUES) >= set(id_number_issues(vals))


def test_person_hash_stable_for_a_salt_and_different_for_another():
    a = person_hash(["990101199001011230", "'990101900101123", "990101199001011231", "bad", None], "salt-A")
    again = person_hash(["990101199001011230"], "salt-A")
    other = person_hash(["990101199001011230"], "salt-B")
    assert a[0] == again[0] != other[0]
    assert a[0] == a[1]  # the old number and its 18-digit form are one person
    assert a[2] != a[0] and a[2].startswith("P")  # wrong check digit: hashed, another person
    assert a[3:].isna().all()
    assert a[0].startswith("P") and len(a[0]) == 1 + contract.PERSON_HASH_LENGTH
    assert "990101" not in a[0]
    assert person_hash(pd.Series(["990101199001011230"], index=[7]), "salt-A").index.tolist() == [7]


def test_person_hash_needs_a_salt():
    with pytest.raises(ContractError):
        person_hash(["990101199001011230"], "")


@pytest.fixture
def no_salt_env(monkeypatch):
    monkeypatch.delenv("FANPIN_SALT", raising=False)
    monkeypatch.delenv("FANPIN_SALT_FILE", raising=False)


def test_resolve_salt_order(no_salt_env, monkeypatch, tmp_path):
    f = new_salt_file(tmp_path / "county.salt")
    assert resolve_salt("explicit", f) == "explicit"
    from_file = resolve_salt(None, f)
    assert len(from_file) == 64
    monkeypatch.setenv("FANPIN_SALT_FILE", str(f))
    assert resolve_salt() == from_file
    monkeypatch.setenv("FANPIN_SALT", "from-env")
    assert resolve_salt() == "from-env"
    assert resolve_salt("explicit") == "explicit"


def test_resolve_salt_without_any_is_an_error(no_salt_env):
    with pytest.raises(ContractError, match="Keeping the salt"):
        resolve_salt()
    assert resolve_salt(required=False) is None


def test_bad_salt_files(no_salt_env, tmp_path):
    with pytest.raises(ContractError, match="cannot read"):
        resolve_salt(salt_file=tmp_path / "none.salt")
    (tmp_path / "empty.salt").write_text("\n")
    with pytest.raises(ContractError, match="empty"):
        resolve_salt(salt_file=tmp_path / "empty.salt")


def test_new_salt_file_is_private_and_not_replaced(tmp_path):
    f = new_salt_file(tmp_path / "sub" / "county.salt")
    assert stat.S_IMODE(os.stat(f).st_mode) == 0o600
    first = f.read_text()
    with pytest.raises(ContractError, match="exists"):
        new_salt_file(f)
    assert f.read_text() == first
    new_salt_file(f, overwrite=True)
    assert f.read_text() != first


def test_feed_tables_work_with_the_header_machinery():
    kinds = feed_kinds()
    assert {"medical_bill", "unsafe_house", "dibao_change"} <= set(kinds["kind"])
    assert kinds.set_index("kind").at["medical_bill", "threshold_field"] == "amount_self_paid"
    f = feed_fields("medical_bill")
    assert list(f.columns) == list(contract.fields().columns)
    assert contract.header_map("feed:medical_bill")[contract.normalize_header("个人自付金额")] == "amount_self_paid"
    assert contract.canonical_dtypes("feed:medical_bill")["event_month"] == "Int64"
    assert contract.header_map(contract.FEEDS)[contract.normalize_header("鉴定等级")] == "appraisal"
    contract._feeds._check_files()
    with pytest.raises(ContractError, match="unknown feed kind"):
        feed_fields("no_such_kind")
    with pytest.raises(ContractError, match="unknown feed kind"):
        contract.fields("feed:no_such_kind")


def test_every_feed_has_the_common_fields_in_order():
    for kind in feed_kinds()["kind"]:
        names = list(feed_fields(kind)["field"])
        assert names[:3] == ["id_number", "event_month", "list_month"] and names[-2:] == ["township", "village"]


def _random_cells(n: int, seed: int) -> list:
    """Cells as counties type them: valid and mistyped 18-digit numbers, lower x, Excel-cut, 15 digits, junk."""
    import numpy as np

    rng = np.random.default_rng(seed)
    out: list = []
    for _ in range(n):
        head = "9901" + "".join(rng.choice(list("0123456789"), 13))
        good = head + id_check_digit(head)
        kind = rng.integers(0, 9)
        if kind == 0:
            out.append(good)
        elif kind == 1:
            out.append(head + "0123456789X"[(("0123456789X".index(good[-1]) + 1) % 11)])  # wrong check digit
        elif kind == 2:
            out.append(good.replace("X", "x"))
        elif kind == 3:
            out.append(good[:15] + "000")  # Excel's 15 significant digits
        elif kind == 4:
            out.append(head[:6] + head[8:17])  # old 15-digit number
        elif kind == 5:
            out.append("'" + good)
        elif kind == 6:
            out.append(good[:17])  # one digit short
        elif kind == 7:
            out.append(None)
        else:
            out.append(good[:9] + "A" + good[10:])
    return out


def test_array_path_gives_what_the_cell_reader_gives():
    from fanpin_risk.contract._ids import _one

    cells = _random_cells(3000, seed=5)
    want = [_one(c) for c in cells]
    # as a list of objects, and as the str column read_csv / read_excel give
    for values in (cells, pd.Series(cells, dtype="str"), pd.Series(cells + [9.90101199001011e17, 12], dtype=object)):
        num, issue = normalize_id_number(values), id_number_issues(values)
        extra = [_one(c) for c in list(values)[len(cells):]]
        assert [None if pd.isna(x) else x for x in num] == [w[0] for w in want + extra]
        assert issue.tolist() == [w[1] for w in want + extra]
        assert {"", "bad_check_digit", "bad_format", "old_15", "missing"} <= set(issue)


def test_person_hash_is_the_documented_hmac():
    import hashlib
    import hmac

    number = "99010119900101129X"
    # short, block-sized (a new_salt_file salt is 64 hex characters), long and non-ASCII salts
    for salt in ("salt-A", "a" * 64, "b" * 65 + "县", "县盐"):
        want = "P" + hmac.new(salt.encode("utf-8"), number.encode("ascii"),
                              hashlib.sha256).hexdigest()[:contract.PERSON_HASH_LENGTH]
        assert person_hash([number, number.lower()], salt).tolist() == [want, want]
