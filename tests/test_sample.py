"""Tests of the sample-data generator (crmlib.sample).

Every distribution fact is recomputed here with plain pandas on the generated lines, not with
the generator's own helpers, so a change that breaks the realism of the demo data fails here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from crmlib.sample import SCHEMA, generate_lines, write_sample

N = 2_000  # small enough to keep the module under a few seconds
PERIOD_END = pd.Timestamp("2025-03-31 23:59:59")

EXPECTED_COLUMNS = [
    "order_id", "customer_id", "email", "phone", "ordered_at", "sku", "product", "category",
    "quantity", "unit_price", "amount", "channel", "status", "source", "region",
]
PRODUCT_CATEGORIES = {"スキンケア", "サプリメント", "食品", "日用品", "ファッション", "雑貨"}


@pytest.fixture(scope="module")
def table() -> pa.Table:
    return generate_lines(N)


@pytest.fixture(scope="module")
def lines(table: pa.Table) -> pd.DataFrame:
    return table.to_pandas()


@pytest.fixture(scope="module")
def orders(lines: pd.DataFrame) -> pd.DataFrame:
    """One row per order, with a person key: the member id, else the member owning the e-mail, else it."""
    products = lines[lines["sku"] != "SHIPPING"]
    frame = lines.drop_duplicates("order_id").set_index("order_id")[
        ["customer_id", "email", "ordered_at", "status", "channel"]
    ].copy()
    frame["revenue"] = products.groupby("order_id")["amount"].sum()
    frame["product_lines"] = products.groupby("order_id").size()
    email = frame["email"].str.lower()
    members = frame.dropna(subset=["customer_id"])
    owner = pd.Series(members["customer_id"].to_numpy(), index=members["email"].str.lower().to_numpy())
    owner = owner[~owner.index.duplicated()]
    frame["person"] = frame["customer_id"].fillna(email.map(owner)).fillna(email)
    return frame


@pytest.fixture(scope="module")
def completed(orders: pd.DataFrame) -> pd.DataFrame:
    return orders[orders["status"] == "completed"].sort_values("ordered_at")


# --- determinism ------------------------------------------------------------------------------


def test_same_seed_gives_identical_frames(lines: pd.DataFrame) -> None:
    again = generate_lines(N).to_pandas()
    pd.testing.assert_frame_equal(lines, again)


def test_different_seed_gives_different_data(lines: pd.DataFrame) -> None:
    other = generate_lines(N, seed=1).to_pandas()
    assert not lines.equals(other)
    assert set(lines["email"]) != set(other["email"]) or len(lines) != len(other)
    assert not lines["ordered_at"].head(100).equals(other["ordered_at"].head(100))


def test_written_files_are_byte_identical_and_match_generate_lines(tmp_path) -> None:
    a = write_sample(tmp_path / "a" / "orders.csv", n_customers=500, seed=3)
    b = write_sample(tmp_path / "b" / "orders.csv", n_customers=500, seed=3)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes().startswith(b'"order_id","customer_id","email","phone","ordered_at"')
    pa_ = write_sample(tmp_path / "a" / "orders.parquet", n_customers=500, seed=3)
    pb = write_sample(tmp_path / "b" / "orders.parquet", n_customers=500, seed=3)
    assert pa_.read_bytes() == pb.read_bytes()
    from_parquet = pq.read_table(pa_).to_pandas()
    expected = generate_lines(500, seed=3).to_pandas()
    assert list(from_parquet.columns) == EXPECTED_COLUMNS
    assert from_parquet["order_id"].dtype == expected["order_id"].dtype  # plain strings
    pd.testing.assert_frame_equal(from_parquet, expected, check_dtype=False)
    from_csv = pd.read_csv(a, dtype={"customer_id": "str", "phone": "str"})
    assert len(from_csv) == len(expected)
    assert (from_csv["amount"].to_numpy() == expected["amount"].to_numpy()).all()
    assert (pd.to_datetime(from_csv["ordered_at"]) == expected["ordered_at"]).all()
    assert not list(tmp_path.glob("**/*.part"))


# --- schema -----------------------------------------------------------------------------------


def test_schema_and_dtypes(table: pa.Table, lines: pd.DataFrame) -> None:
    assert table.schema.equals(SCHEMA)
    assert list(lines.columns) == EXPECTED_COLUMNS
    assert lines["ordered_at"].dtype == "datetime64[s]"
    for col in ("quantity", "unit_price", "amount"):
        assert lines[col].dtype == np.int64, col
    for col in ("order_id", "customer_id", "email", "sku", "product", "category", "channel",
                "status", "source", "region"):
        assert pd.api.types.is_string_dtype(lines[col]), col
    for col in ("order_id", "email", "ordered_at", "sku", "product", "category", "quantity",
                "unit_price", "amount", "channel", "status", "source", "region"):
        assert lines[col].notna().all(), col


def test_identifier_and_contact_formats(lines: pd.DataFrame) -> None:
    assert lines["order_id"].str.fullmatch(r"O\d{8}").all()
    members = lines["customer_id"].dropna()
    assert members.str.fullmatch(r"C\d{7}").all()
    phones = lines["phone"].dropna()
    assert 0.2 < len(phones) / len(lines) < 0.9
    assert phones.str.fullmatch(r"0[789]0-\d{4}-\d{4}").all()


def test_only_example_email_domains(lines: pd.DataFrame) -> None:
    domains = lines["email"].str.lower().str.extract(r"@(.+)$")[0]
    assert domains.notna().all()
    assert set(domains) <= {"example.jp", "example.com"}
    assert lines["email"].str.fullmatch(r"[A-Za-z0-9._]+@[a-z.]+").all()


def test_one_person_one_email_and_one_phone(lines: pd.DataFrame) -> None:
    members = lines.dropna(subset=["customer_id"]).assign(e=lambda d: d["email"].str.lower())
    assert (members.groupby("customer_id")["e"].nunique() == 1).all()
    assert (members.groupby("e")["customer_id"].nunique() == 1).all()
    phones = lines.dropna(subset=["phone"]).assign(e=lambda d: d["email"].str.lower())
    assert (phones.groupby("phone")["e"].nunique() == 1).all()


def test_vocabularies(lines: pd.DataFrame) -> None:
    assert set(lines["channel"]) == {"web", "app", "store"}
    assert set(lines["status"]) == {"completed", "cancelled", "returned", "pending"}
    assert set(lines["source"]) == {"search", "ads", "sns", "affiliate", "referral", "store"}
    assert set(lines["category"]) == PRODUCT_CATEGORIES | {"送料"}
    regions = lines.drop_duplicates("order_id")["region"]
    assert regions.str.fullmatch(r".+[都道府県]").all()
    assert 20 <= regions.nunique() <= 47
    assert regions.value_counts().index[0] == "東京都"  # weighted by population
    # Japanese product names
    assert lines["product"].str.contains(r"[\u3040-\u30ff\u4e00-\u9fff]").all()


def test_order_level_fields_are_the_same_on_every_line(lines: pd.DataFrame) -> None:
    per_order = lines.groupby("order_id").agg(
        customer=("customer_id", lambda s: s.fillna("").nunique()),
        email=("email", "nunique"), at=("ordered_at", "nunique"), status=("status", "nunique"),
        channel=("channel", "nunique"), region=("region", "nunique"),
    )
    assert (per_order == 1).all().all()


def test_timestamps_inside_the_period_in_seconds(lines: pd.DataFrame) -> None:
    assert lines["ordered_at"].min() >= pd.Timestamp("2022-04-01")
    assert lines["ordered_at"].max() <= PERIOD_END
    assert (lines["ordered_at"].dt.tz is None)
    other = generate_lines(300, start="2023-01-01", end="2023-06-30").to_pandas()
    assert other["ordered_at"].min() >= pd.Timestamp("2023-01-01")
    assert other["ordered_at"].max() < pd.Timestamp("2023-07-01")


# --- amounts and lines ------------------------------------------------------------------------


def test_amount_is_quantity_times_unit_price_on_every_line(lines: pd.DataFrame) -> None:
    assert (lines["amount"] == lines["quantity"] * lines["unit_price"]).all()
    assert (lines["quantity"] >= 1).all()


def test_unit_prices_are_realistic_yen(lines: pd.DataFrame) -> None:
    products = lines[lines["sku"] != "SHIPPING"]
    assert products["unit_price"].between(500, 30_000).all()
    assert products.groupby("category")["unit_price"].median()["ファッション"] > \
        products.groupby("category")["unit_price"].median()["日用品"]


def test_shipping_lines_are_recognisable(lines: pd.DataFrame) -> None:
    ship = lines[lines["sku"] == "SHIPPING"]
    assert 0.03 < ship["order_id"].nunique() / lines["order_id"].nunique() < 0.5
    assert (ship["category"] == "送料").all() and (ship["product"] == "送料").all()
    assert (lines.loc[lines["category"] == "送料", "sku"] == "SHIPPING").all()
    assert (ship["quantity"] == 1).all() and ship["amount"].isin([550, 1100]).all()
    assert ship.groupby("order_id").size().max() == 1
    # every order has at least one product line besides shipping
    products = lines[lines["sku"] != "SHIPPING"]
    assert set(ship["order_id"]) <= set(products["order_id"])


def test_no_product_twice_in_an_order(lines: pd.DataFrame) -> None:
    assert not lines.duplicated(["order_id", "sku"]).any()
    assert not lines.duplicated().any()  # no exact duplicate line for the ingest to drop


def test_share_of_multi_line_orders(orders: pd.DataFrame) -> None:
    multi = orders["product_lines"] >= 2
    assert 0.15 < multi.mean() < 0.40
    assert orders["product_lines"].max() == 4


def test_average_order_value(completed: pd.DataFrame) -> None:
    aov = completed["revenue"].mean()
    assert 6_000 <= aov <= 9_000


# --- customers and repeat behaviour -----------------------------------------------------------


def test_one_time_customer_share(completed: pd.DataFrame) -> None:
    per_person = completed.groupby("person").size()
    assert 0.9 * N < len(per_person) <= N
    assert 0.60 <= (per_person == 1).mean() <= 0.70
    # a minority of heavy repeaters
    assert (per_person >= 10).sum() >= 10
    assert (per_person >= 10).mean() < 0.05


def test_second_purchase_within_365_days(completed: pd.DataFrame) -> None:
    rank = completed.groupby("person").cumcount()
    first = completed[rank == 0].set_index("person")["ordered_at"]
    second = completed[rank == 1].set_index("person")["ordered_at"]
    eligible = first[first <= PERIOD_END - pd.Timedelta(days=365)]
    days = (second.reindex(eligible.index) - eligible).dt.days
    f2 = (days <= 365).mean()
    assert 0.25 <= f2 <= 0.40


def test_gaps_cluster_on_consumption_cycles(completed: pd.DataFrame) -> None:
    gaps = completed.groupby("person")["ordered_at"].diff().dt.days.dropna()
    near = lambda c: gaps.between(c - 6, c + 6).sum()  # noqa: E731
    # 30 and 60 days carry more repeat orders than the same width between them
    assert near(30) > 1.3 * near(45)
    assert near(60) > 1.3 * near(45)
    dates = completed.assign(d=completed["ordered_at"].dt.normalize())
    assert (dates.groupby("person")["d"].diff().dropna() >= pd.Timedelta(days=1)).all()


def test_guest_orders(orders: pd.DataFrame) -> None:
    guest = orders["customer_id"].isna()
    assert 0.10 <= guest.mean() <= 0.15
    assert orders.loc[guest, "email"].notna().all()
    member_emails = set(orders.loc[~guest, "email"].str.lower())
    merged = orders.loc[guest, "email"].str.lower().isin(member_emails)
    assert merged.sum() >= 10  # guest orders of members: the identity merge has work to do
    assert merged.mean() < 0.6
    assert (orders.loc[guest, "channel"] == "web").all()


def test_status_shares(orders: pd.DataFrame) -> None:
    share = orders["status"].value_counts(normalize=True)
    assert 0.02 <= share["cancelled"] <= 0.04
    assert 0.004 <= share["returned"] <= 0.02
    assert 0.001 <= share["pending"] <= 0.012
    assert share["completed"] > 0.93


def test_december_above_the_monthly_mean(orders: pd.DataFrame) -> None:
    monthly = orders.groupby(orders["ordered_at"].dt.to_period("M")).size()
    assert len(monthly) == 36
    assert monthly[monthly.index.month == 12].mean() > 1.2 * monthly.mean()
    # the business grows, so compare each December with the mean month of its fiscal year
    fiscal_year = (monthly.index - 3).year  # April to March
    for _, months in monthly.groupby(fiscal_year):
        december = months[months.index.month == 12].iloc[0]
        assert december > 1.2 * months.mean()
    # each December beats the November before it; the July summer sale lifts July over June
    for year in (2022, 2023, 2024):
        assert monthly[pd.Period(f"{year}-12", "M")] > monthly[pd.Period(f"{year}-11", "M")]
    assert monthly[monthly.index.month == 7].sum() > 1.1 * monthly[monthly.index.month == 6].sum()


def test_new_customers_grow(completed: pd.DataFrame) -> None:
    first = completed.groupby("person")["ordered_at"].min()
    per_year = first.groupby((first - pd.Timestamp("2022-04-01")).dt.days // 365).size()
    assert per_year[2] > per_year[0]
    per_month = first.dt.to_period("M").value_counts()
    assert len(per_month) == 36  # new customers every month


# --- sizing and writing -----------------------------------------------------------------------


def test_n_orders_targets_the_order_count(tmp_path) -> None:
    path = write_sample(tmp_path / "orders.parquet", n_orders=20_000, seed=11)
    got = pq.read_table(path, columns=["order_id"]).column("order_id").to_pandas().nunique()
    assert abs(got - 20_000) <= 0.05 * 20_000


def test_format_from_suffix_or_argument(tmp_path) -> None:
    csv = write_sample(tmp_path / "x.csv", n_customers=50)
    assert list(pd.read_csv(csv, nrows=1).columns) == EXPECTED_COLUMNS
    parquet = write_sample(tmp_path / "x.pq", n_customers=50)
    assert parquet.read_bytes()[:4] == b"PAR1"
    forced = write_sample(tmp_path / "x.dat", n_customers=50, fmt="parquet")
    assert forced.read_bytes()[:4] == b"PAR1"
    with pytest.raises(ValueError, match="format"):
        write_sample(tmp_path / "x.json", n_customers=50, fmt="json")
    with pytest.raises(ValueError, match="not both"):
        write_sample(tmp_path / "y.csv", n_customers=50, n_orders=100)
    with pytest.raises(ValueError):
        generate_lines(0)


def test_member_ids_follow_first_purchase(lines: pd.DataFrame) -> None:
    members = lines.dropna(subset=["customer_id"])
    first = members.groupby("customer_id")["ordered_at"].min().sort_index()
    # member numbers are given in the order customers were acquired (a member whose first order
    # was placed as a guest shows up later under the member id, so the order is not strict)
    number = first.index.str[1:].astype(int)
    assert np.corrcoef(number, first.rank())[0, 1] > 0.95
    assert number.min() <= 5
