"""Identity that does not merge strangers (README, "One customer, one ID"); numbers worked out by hand."""

from __future__ import annotations

import hashlib
import unicodedata
from pathlib import Path

import pandas as pd

from crmlib.ingest import ingest_file


def _ingest(tmp_path: Path, text: str, **kwargs):
    path = tmp_path / "orders.csv"
    path.write_text(text, encoding="utf-8")
    return ingest_file(path, out_dir=tmp_path / "out", **kwargs)


def test_placeholder_contacts_never_merge_guests(tmp_path):
    """M1 and M2 are members who typed placeholders; the guests G1-G3 typed the same placeholders:
    none of them is merged into M1 or M2, nor into one another (a guest with nothing but a
    placeholder has no customer key: no_customer). G4's real e-mail still merges into M3."""
    result = _ingest(tmp_path,
        "order_id,customer_id,email,phone,ordered_at,amount\n"
        "M1,C1,noemail@example.jp,000-0000-0000,2024-01-05,1000\n"
        "M2,C2,test@shop.jp,090-0000-0000,2024-01-06,1000\n"
        "M3,C3,real@example.jp,,2024-01-07,1000\n"
        "G1,,NoEmail@example.jp,,2024-02-05,2000\n"
        "G2,,,000-0000-0000,2024-02-06,500\n"
        "G3,,test@shop.jp,090-0000-0000,2024-02-07,700\n"
        "G4,,real@example.jp,,2024-02-08,300\n", rules={"max_invalid_share": 0.9})
    led = result.ledger
    orders = pd.read_parquet(result.orders_path).set_index("order_id")
    assert orders.loc["G4", "customer_id"] == "C3"
    assert {"G1", "G2", "G3"}.isdisjoint(orders.index)
    assert {e.reason: e.rows for e in led.excluded} == {"no_customer": 3}
    assert led.identity["guest_rows_merged_into_member_by_email"] == 1
    assert led.identity["guest_rows_merged_into_member_by_phone"] == 0
    # rows carrying a placeholder e-mail or phone: M1, M2, G1, G2, G3
    assert led.identity["rows_with_placeholder_contact"] == 5


def test_contact_shared_by_too_many_members_is_not_used_to_merge(tmp_path):
    """Six members (more than the default five) share the shop's phone 03-1111-2222; the guest with
    that phone stays a guest. With max_members_per_contact: 6 it is merged into the smallest id."""
    members = "".join(f"M{i},C{i},,03-1111-2222,2024-01-0{i},1000\n" for i in range(1, 7))
    text = "order_id,customer_id,email,phone,ordered_at,amount\n" + members + "G1,,,03-1111-2222,2024-02-01,500\n"
    result = _ingest(tmp_path, text)
    orders = pd.read_parquet(result.orders_path).set_index("order_id")
    assert orders.loc["G1", "customer_id"].startswith("p-")
    assert result.ledger.identity["guest_rows_merged_into_member_by_phone"] == 0
    assert result.ledger.identity["contacts_shared_by_too_many_members"] == 1
    loose = ingest_file(tmp_path / "orders.csv", rules={"max_members_per_contact": 6}, out_dir=tmp_path / "loose")
    assert pd.read_parquet(loose.orders_path).set_index("order_id").loc["G1", "customer_id"] == "C1"


def test_full_width_email_and_dotted_phone_are_recognised(tmp_path):
    """A guest e-mail typed in full width (ｔａｒｏ＠ｅｘａｍｐｌｅ．ｊｐ) is taro@example.jp after NFKC and
    merges into the member; a dotted phone merges by phone."""
    email = "ＴＡＲＯ＠ｅｘａｍｐｌｅ．ｊｐ"
    assert unicodedata.normalize("NFKC", email).lower() == "taro@example.jp"
    result = _ingest(tmp_path,
        "order_id,customer_id,email,phone,ordered_at,amount\n"
        "M1,C1,taro@example.jp,,2024-01-05,1000\n"
        "M2,C2,,090-2222-3333,2024-01-06,1000\n"
        f"G1,,{email},,2024-02-05,2000\n"
        "G2,,,090.2222.3333,2024-02-06,500\n")
    orders = pd.read_parquet(result.orders_path).set_index("order_id")
    assert orders.loc["G1", "customer_id"] == "C1"
    assert orders.loc["G2", "customer_id"] == "C2"
    assert result.ledger.identity["guest_rows_merged_into_member_by_email"] == 1
    assert result.ledger.identity["guest_rows_merged_into_member_by_phone"] == 1


def test_numeric_member_ids_are_not_phone_numbers(tmp_path):
    """Numeric member ids of 9 or more digits stay as they are; ids written as phone numbers
    (with separators, dotted, or bare in the Japanese 0X0 shape) and full-width e-mail ids are
    pseudonymised, so no contact detail reaches a report."""
    ids = ["123456789", "100000000001", "090-1234-5678", "090.1234.5678", "09012345678", "ｈａｎａ＠ｅｘａｍｐｌｅ．ｊｐ"]
    text = "order_id,customer_id,ordered_at,amount\n" + "".join(
        f"O{i},{cid},2024-01-0{i + 1},1000\n" for i, cid in enumerate(ids))
    result = _ingest(tmp_path, text)
    orders = pd.read_parquet(result.orders_path).set_index("order_id")
    assert orders.loc["O0", "customer_id"] == "123456789"
    assert orders.loc["O1", "customer_id"] == "100000000001"
    for i in (2, 3, 4):
        key = "x-" + hashlib.sha256(f"crm-workbook:{ids[i]}".encode()).hexdigest()[:16]
        assert orders.loc[f"O{i}", "customer_id"] == key
    mail = "x-" + hashlib.sha256(b"crm-workbook:hana@example.jp").hexdigest()[:16]
    assert orders.loc["O5", "customer_id"] == mail
    assert result.ledger.identity["contact_ids_pseudonymised"] == 4
