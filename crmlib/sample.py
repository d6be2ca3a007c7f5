"""Deterministic generator of realistic Japanese EC order lines for the demo, tests and benchmarks.

The data is fake but shaped like a real 通販 export, so every chapter of the report has something
to show: customers are acquired every month (with growth, a December peak and a July summer
sale), then repeat buy-till-you-die style: each customer has a gamma-distributed purchase rate
and a beta-distributed chance to drop out after each purchase. Consumables are re-bought on
30/60/90-day cycles, so the inter-purchase days cluster there. Most customers buy once, a
minority repeat many times. About one order in eight is a guest order (no member id, an e-mail),
and some guest orders are placed by members, so the ingest's identity merge has work to do.

Every column is made with vectorised numpy and pyarrow compute, with no Python loop over
customers, orders or lines, and customers are generated in fixed-size chunks, each with its own
seed derived from ``(seed, chunk number)``. The same arguments always give byte-identical output,
and ``write_sample`` streams ten million orders to disk in bounded memory.

The sample also carries what the strategy chapter needs (``write_sample(..., strategy_inputs=True)``
writes them beside the orders): a randomised follow-up-mail trial with a known effect (TRIAL), an
NPS survey of members, and the shop's execution log of measures. With ``product_effects=True``
(the demo) it also has product effects of known size for the products chapter (PRODUCT_EFFECTS).

E-mail addresses use only the ``example.jp`` and ``example.com`` domains (reserved for examples)
and phone numbers are made up; no real person's data is involved.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["COLUMNS", "DEFAULT_SEED", "PRODUCT_EFFECTS", "SCHEMA", "STRATEGY_FILES", "TRIAL", "ProductEffects", "Sample", "customers_for_orders", "generate_lines",
           "generate_sample", "write_sample", "write_strategy_inputs"]

DEFAULT_SEED = 20240401
DEFAULT_START = "2022-04-01"
DEFAULT_END = "2025-03-31"

# Customers per chunk: fixed, so the output never depends on how it is written, and small
# enough that one chunk (about a million orders, 1.6 million lines) stays near 1 GB at its peak.
_CHUNK_CUSTOMERS = 500_000
# Customers in the pilot run that measures orders per customer for ``write_sample(n_orders=...)``.
_PILOT_CUSTOMERS = 40_000

COLUMNS: tuple[str, ...] = (
    "order_id", "customer_id", "email", "phone", "ordered_at", "sku", "product", "category",
    "quantity", "unit_price", "amount", "channel", "status", "source", "region",
)

SCHEMA = pa.schema([
    ("order_id", pa.string()),
    ("customer_id", pa.string()),
    ("email", pa.string()),
    ("phone", pa.string()),
    ("ordered_at", pa.timestamp("s")),
    ("sku", pa.string()),
    ("product", pa.string()),
    ("category", pa.string()),
    ("quantity", pa.int64()),
    ("unit_price", pa.int64()),
    ("amount", pa.int64()),
    ("channel", pa.string()),
    ("status", pa.string()),
    ("source", pa.string()),
    ("region", pa.string()),
])

# The schema of a generated chunk: as SCHEMA, with the small vocabularies dictionary-encoded.
_DICTIONARY_COLUMNS = ("sku", "product", "category", "channel", "status", "source", "region")
_CHUNK_SCHEMA = pa.schema([
    pa.field(f.name, pa.dictionary(pa.int32(), pa.string())) if f.name in _DICTIONARY_COLUMNS else f
    for f in SCHEMA
])

# ----------------------------------------------------------------------------------------------
# Catalogue and population tables
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Category:
    """A product category: its share of new customers, re-buy cycle and loyalty levers."""

    name: str
    weight: float  # share of first purchases (and of cross-category lines)
    cycles: tuple[int, ...]  # consumption cycles in days; empty = not a consumable
    cycle_probs: tuple[float, ...]
    drop_factor: float  # multiplies the odds of dropping out after a purchase
    fav_repeat: float  # chance that a repeat order starts with the customer's first product
    multi_qty: float  # chance of quantity > 1 on a line


_CATEGORIES: tuple[_Category, ...] = (
    _Category("スキンケア", 0.25, (30, 60, 90), (0.25, 0.55, 0.20), 0.85, 0.65, 0.16),
    _Category("サプリメント", 0.18, (30, 60, 90), (0.65, 0.25, 0.10), 0.75, 0.75, 0.24),
    _Category("食品", 0.17, (30, 60, 90), (0.45, 0.35, 0.20), 0.95, 0.50, 0.30),
    _Category("日用品", 0.12, (30, 60, 90), (0.20, 0.45, 0.35), 1.00, 0.55, 0.35),
    _Category("ファッション", 0.16, (), (), 1.35, 0.10, 0.05),
    _Category("雑貨", 0.12, (), (), 1.45, 0.10, 0.08),
)

# sku, product name, category index, list price (yen, tax included), popularity
_PRODUCTS: tuple[tuple[str, str, int, int, float], ...] = (
    ("SK001", "薬用美白化粧水 150mL", 0, 3300, 1.6),
    ("SK002", "高保湿乳液 120mL", 0, 3080, 1.0),
    ("SK003", "ヒアルロン酸美容液 30mL", 0, 5500, 1.3),
    ("SK004", "オールインワンジェル 80g", 0, 4180, 1.5),
    ("SK005", "クレンジングオイル 200mL", 0, 2420, 1.0),
    ("SK006", "泡洗顔フォーム 120g", 0, 1650, 0.8),
    ("SK007", "エイジングケアクリーム 40g", 0, 7700, 0.6),
    ("SK008", "UVミルク SPF50+ 50mL", 0, 2970, 0.7),
    ("SK009", "スキンケアお試しセット", 0, 1980, 0.9),
    ("SP001", "マルチビタミン&ミネラル 90粒", 1, 2160, 1.2),
    ("SP002", "乳酸菌サプリ 30日分", 1, 3240, 1.4),
    ("SP003", "DHA・EPA 120粒", 1, 3780, 1.0),
    ("SP004", "国産大麦若葉の青汁 30包", 1, 3500, 1.1),
    ("SP005", "ホエイプロテイン ココア味 1kg", 1, 4980, 0.9),
    ("SP006", "コラーゲンドリンク 10本", 1, 3980, 0.7),
    ("SP007", "グルコサミン&コンドロイチン 180粒", 1, 4320, 0.6),
    ("SP008", "葉酸サプリ 60粒", 1, 2480, 0.5),
    ("FD001", "国産有機緑茶 100g", 2, 1296, 1.0),
    ("FD002", "ドリップコーヒー 30袋", 2, 1980, 1.3),
    ("FD003", "無添加グラノーラ 500g", 2, 1058, 0.9),
    ("FD004", "新潟県産コシヒカリ 5kg", 2, 3980, 1.1),
    ("FD005", "国産はちみつ 300g", 2, 2700, 0.6),
    ("FD006", "だしパック詰め合わせ", 2, 2376, 0.8),
    ("FD007", "フリーズドライ味噌汁 20食", 2, 2160, 0.9),
    ("FD008", "焼き菓子ギフト詰め合わせ", 2, 3240, 0.7),
    ("HG001", "詰め替え用洗濯洗剤 1.0kg", 3, 698, 1.2),
    ("HG002", "天然由来ハンドソープ 500mL", 3, 880, 0.9),
    ("HG003", "ボディソープ 詰め替え 400mL", 3, 748, 0.9),
    ("HG004", "アミノ酸シャンプー 500mL", 3, 1980, 1.2),
    ("HG005", "ヘアトリートメント 500g", 3, 1980, 1.0),
    ("HG006", "薬用歯みがきジェル 100g", 3, 1100, 0.7),
    ("HG007", "竹のキッチンペーパー 4ロール", 3, 638, 0.6),
    ("FA001", "オーガニックコットンTシャツ", 4, 3990, 1.4),
    ("FA002", "リネンシャツ", 4, 7990, 0.9),
    ("FA003", "ストレッチデニムパンツ", 4, 8990, 1.0),
    ("FA004", "カシミヤ混マフラー", 4, 12800, 0.6),
    ("FA005", "ウールニットカーディガン", 4, 9900, 0.8),
    ("FA006", "撥水ダウンジャケット", 4, 24800, 0.4),
    ("FA007", "レザースニーカー", 4, 14800, 0.5),
    ("FA008", "ルームウェア上下セット", 4, 5490, 1.0),
    ("ZK001", "今治タオル フェイスタオル2枚組", 5, 2640, 1.3),
    ("ZK002", "アロマディフューザー", 5, 5280, 0.8),
    ("ZK003", "ステンレスタンブラー", 5, 2980, 1.0),
    ("ZK004", "波佐見焼マグカップ", 5, 2200, 1.0),
    ("ZK005", "帆布トートバッグ", 5, 4400, 0.8),
    ("ZK006", "本革ミニ財布", 5, 12100, 0.5),
    ("ZK007", "卓上加湿器", 5, 6980, 0.6),
    ("ZK008", "ソイキャンドル", 5, 2750, 0.7),
)

_SHIPPING_SKU = "SHIPPING"
_SHIPPING_NAME = "送料"
_FREE_SHIPPING_FROM = 3000  # product subtotal (yen) from which web orders ship free (app orders always do)
_SHIPPING_FEE = 550
_SHIPPING_FEE_REMOTE = 1100  # Hokkaido and Okinawa

# Prefectures with their population in units of 10,000 (2020 census, rounded).
_PREFECTURES: tuple[tuple[str, int], ...] = (
    ("北海道", 522), ("青森県", 124), ("岩手県", 121), ("宮城県", 230), ("秋田県", 96),
    ("山形県", 107), ("福島県", 183), ("茨城県", 287), ("栃木県", 193), ("群馬県", 194),
    ("埼玉県", 734), ("千葉県", 628), ("東京都", 1405), ("神奈川県", 924), ("新潟県", 220),
    ("富山県", 103), ("石川県", 113), ("福井県", 77), ("山梨県", 81), ("長野県", 205),
    ("岐阜県", 198), ("静岡県", 363), ("愛知県", 754), ("三重県", 177), ("滋賀県", 141),
    ("京都府", 258), ("大阪府", 884), ("兵庫県", 547), ("奈良県", 132), ("和歌山県", 92),
    ("鳥取県", 55), ("島根県", 67), ("岡山県", 189), ("広島県", 280), ("山口県", 134),
    ("徳島県", 72), ("香川県", 95), ("愛媛県", 133), ("高知県", 69), ("福岡県", 514),
    ("佐賀県", 81), ("長崎県", 131), ("熊本県", 174), ("大分県", 112), ("宮崎県", 107),
    ("鹿児島県", 159), ("沖縄県", 147),
)
_REMOTE_PREFECTURES = ("北海道", "沖縄県")

# Acquisition sources: share of new customers, odds multiplier of dropping out, guest share.
_SOURCES: tuple[tuple[str, float, float, float], ...] = (
    ("search", 0.30, 0.95, 0.14),
    ("ads", 0.24, 1.30, 0.16),
    ("sns", 0.14, 1.15, 0.12),
    ("affiliate", 0.10, 1.40, 0.14),
    ("referral", 0.08, 0.70, 0.08),
    ("store", 0.14, 0.75, 0.0),
)
_STORE_SOURCE = 5

_CHANNELS = ("web", "app", "store")
_STATUSES = ("completed", "cancelled", "returned", "pending")

# Seasonality of orders by calendar month (1 = an average month before normalisation).
_MONTH_FACTOR = np.array([1.05, 0.82, 0.95, 0.92, 0.95, 0.98, 1.12, 1.0, 0.9, 0.95, 1.1, 1.55])
_SUMMER_SALE = ((7, 1), (7, 14), 1.6)  # first and last day, extra factor on those days
_WEEKDAY_FACTOR = np.array([0.97, 0.95, 0.95, 0.97, 1.0, 1.08, 1.08])  # Monday first
_GROWTH_PER_YEAR = 1.22  # new customers per month grow by this factor a year

# Hour-of-day weights (0-23) for online orders (evening peak) and store sales (opening hours).
_HOURS_ONLINE = np.array([3.0, 2.0, 1.2, 0.6, 0.4, 0.4, 0.8, 1.5, 2.2, 2.8, 3.2, 3.6,
                          4.4, 4.0, 3.5, 3.4, 3.5, 3.8, 4.2, 4.8, 5.6, 6.4, 6.6, 5.0])
_HOURS_STORE = np.array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2.0, 3.5,
                         4.5, 4.5, 4.0, 4.0, 4.2, 4.8, 5.0, 4.0, 2.5, 0, 0, 0], dtype=float)

# Romanised names for the local part of fake e-mail addresses.
_GIVEN = ("haruto", "yuto", "sota", "riku", "ren", "hinata", "kaito", "daiki", "takumi", "shota",
          "kenta", "naoki", "hiroshi", "takeshi", "makoto", "yui", "hina", "sakura", "mei", "aoi",
          "rin", "yuna", "miyu", "haruka", "nanami", "ayaka", "misaki", "yuka", "emi", "kana",
          "mai", "akiko", "yoko", "keiko", "tomoko", "naomi", "saki", "asuka", "chihiro", "mio")
_FAMILY = ("sato", "suzuki", "takahashi", "tanaka", "ito", "watanabe", "yamamoto", "nakamura",
           "kobayashi", "kato", "yoshida", "yamada", "sasaki", "yamaguchi", "matsumoto", "inoue",
           "kimura", "hayashi", "saito", "shimizu", "yamazaki", "mori", "abe", "ikeda",
           "hashimoto", "yamashita", "ishikawa", "nakajima", "maeda", "fujita", "ogawa", "goto",
           "okada", "hasegawa", "murakami", "kondo", "ishii", "sakamoto", "endo", "aoki")
_EMAIL_DOMAINS = ("example.jp", "example.com")
_EMAIL_DOMAIN_P = (0.7, 0.3)

# Behaviour parameters (tuned so the default sample lands in the bands the tests check).
_RATE_SHAPE = 1.4  # gamma shape of the purchase rate across customers (heterogeneity)
_RATE_MEAN = 1 / 80  # mean purchases per day of an active customer
_DROP_A, _DROP_B = 1.1, 0.85  # beta distribution of the drop-out chance after each purchase
_GUEST_PERSON_DROP = 1.6  # odds multiplier: guest-only buyers are less loyal
_MIN_GAP_DAYS = 5.0  # shortest repeat gap, in days of the seasonal clock
_MEMBER_GUEST_FIRST = 0.08  # members whose first order was placed as a guest (registered later)
_MEMBER_GUEST_LATER = 0.03  # later orders placed by a logged-out member as a guest
_PHONE_SHARE = 0.55  # customers who gave a phone number
_STATUS_P = (0.955, 0.03, 0.01, 0.005)
_LINES_P = np.array([0.72, 0.18, 0.07, 0.03])  # 1, 2, 3, 4 product lines per order


@dataclass(frozen=True)
class Trial:
    """The follow-up-mail trial the sample shop ran, with the effect the generator builds in.

    Members whose first purchase falls in the `window_days` days that end `margin_days` before
    the data's last day are split at random (half treated). Treated members get a mail
    `send_after_days` after their first purchase; the control group's `sent_at` is the day the
    mail would have gone out. The mail adds `effect` (absolute, 0.08 = 8 points) to the share of
    members with a purchase in the `outcome_days` after sent_at: among treated members who would
    not have bought in that time anyway, a share effect / (1 - base rate) buys once more.
    """

    effect: float = 0.08
    send_after_days: int = 7
    outcome_days: int = 60
    window_days: int = 184
    margin_days: int = 90
    treated_share: float = 0.5
    mail_cost: int = 20  # yen per mail (the execution log's cost)


TRIAL = Trial()


@dataclass(frozen=True)
class ProductEffects:
    """Product effects of known size, built in only with ``product_effects=True`` (the demo and the
    products chapter's tests), so every other sample stays as it was.

    - entry product: customers whose first order starts with `entry_sku` come back within
      `entry_window_days` `entry_f2_points` more often (absolute: 0.12 = 12 points): among them, a
      share points / (1 - their base rate) of those who would not have come back buys once more;
    - replenishment product: customers whose first product is `cycle_sku` re-buy it every
      `cycle_days` calendar days (plus or minus up to `cycle_jitter_days`) for as long as they stay;
    - pair: an order holding `pair_skus[0]` also holds `pair_skus[1]` `pair_points` more often
      than an order of a similar product does (same construction as the entry product).
    """

    entry_sku: str = "SK009"  # スキンケアお試しセット
    entry_f2_points: float = 0.12
    entry_window_days: int = 90
    cycle_sku: str = "SP008"  # 葉酸サプリ 60粒
    cycle_days: int = 60
    cycle_jitter_days: int = 3
    pair_skus: tuple[str, str] = ("FD002", "ZK004")  # ドリップコーヒー 30袋 -> 波佐見焼マグカップ
    pair_points: float = 0.25


PRODUCT_EFFECTS = ProductEffects()
_SURVEY_SHARE = 0.12  # members asked for an NPS score (one survey, two weeks before the data ends)
_NEWSLETTER_COST = 2  # yen per newsletter mail in the execution log


# ----------------------------------------------------------------------------------------------
# Calendar
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Calendar:
    """Daily curves of the period: acquisition CDF and the seasonal clock of repeat orders."""

    start: np.datetime64  # midnight of the first day, datetime64[s]
    days: int
    acq_cdf: np.ndarray  # cumulative share of new customers by the end of each day
    clock: np.ndarray  # seasonal clock at the start of each day (length days + 1)
    pending_from: int  # day from which unpaid (pending) orders are still plausible
    sale_day: np.ndarray  # bool per day: summer sale or December sale, lines may be discounted
    remote: np.ndarray  # bool per prefecture: higher shipping fee


def _calendar(start: str, end: str) -> _Calendar:
    """Build the daily acquisition and seasonality curves of the period start..end (inclusive)."""
    d0, d1 = date.fromisoformat(start), date.fromisoformat(end)
    if d1 < d0:
        raise ValueError(f"end {end} is before start {start}")
    days = (d1 - d0).days + 1
    day = np.datetime64(d0.isoformat(), "D") + np.arange(days)
    month = day.astype("datetime64[M]").astype(np.int64) % 12  # 0 = January
    dom = (day - day.astype("datetime64[M]")).astype(np.int64) + 1
    weekday = (day.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday
    season = _MONTH_FACTOR[month] * _WEEKDAY_FACTOR[weekday]
    (sale_month, first_dom), (_, last_dom), boost = _SUMMER_SALE
    in_sale = (month == sale_month - 1) & (dom >= first_dom) & (dom <= last_dom)
    season = season * np.where(in_sale, boost, 1.0)
    years = np.arange(days) / 365.25
    acquisition = season * _GROWTH_PER_YEAR ** years
    acq_cdf = np.cumsum(acquisition)
    acq_cdf /= acq_cdf[-1]
    repeat = np.sqrt(season)  # repeat buyers follow the season less than new ones
    repeat /= repeat.mean()
    clock = np.concatenate([[0.0], np.cumsum(repeat)])
    december_sale = (month == 11) & (dom <= 25)
    return _Calendar(
        start=np.datetime64(d0.isoformat(), "s"),
        days=days,
        acq_cdf=acq_cdf,
        clock=clock,
        pending_from=max(0, days - 30),
        sale_day=in_sale | december_sale,
        remote=np.isin(np.array([p for p, _ in _PREFECTURES]), _REMOTE_PREFECTURES),
    )


# ----------------------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------------------


def _choice(rng: np.random.Generator, p: np.ndarray | tuple[float, ...], size: int) -> np.ndarray:
    """Vectorised categorical draw (int32 indices) from probabilities p."""
    cdf = np.cumsum(np.asarray(p, dtype=float))
    cdf /= cdf[-1]
    return np.searchsorted(cdf, rng.random(size), side="right").astype(np.int32)


def _group_starts(counts: np.ndarray) -> np.ndarray:
    """Start offset of each group in a flat array laid out by np.repeat(arange, counts)."""
    starts = np.zeros(len(counts), dtype=np.int64)
    np.cumsum(counts[:-1], out=starts[1:])
    return starts


def _rank_in_group(counts: np.ndarray) -> np.ndarray:
    """0, 1, 2, ... within each group of a flat array laid out by np.repeat."""
    total = int(counts.sum())
    starts = _group_starts(counts)
    return np.arange(total, dtype=np.int64) - np.repeat(starts, counts)


def _padded(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """Strings like prefix + zero-padded number, built in Arrow (no Python loop)."""
    text = pc.utf8_lpad(pc.cast(pa.array(numbers, pa.int64()), pa.string()), width, "0")
    return pc.binary_join_element_wise(prefix, text, "")


def _scramble(index: np.ndarray, multiplier: int, modulus: int, offset: int) -> np.ndarray:
    """A bijection of 0..modulus-1 (multiplier coprime to modulus): unique, unordered numbers."""
    return (index.astype(np.int64) * multiplier + offset) % modulus


def _vocab(values: tuple[str, ...] | list[str], codes: np.ndarray) -> pa.Array:
    """A plain string column from a small vocabulary and per-row codes."""
    return pa.array(values, pa.string()).take(pa.array(codes, pa.int32()))


def _dictionary(values: tuple[str, ...] | list[str], codes: np.ndarray) -> pa.DictionaryArray:
    """A dictionary-encoded string column: no string copies, and Parquet writes it as is."""
    return pa.DictionaryArray.from_arrays(pa.array(codes, pa.int32()), pa.array(values, pa.string()))


# ----------------------------------------------------------------------------------------------
# One chunk of customers
# ----------------------------------------------------------------------------------------------


@dataclass
class _Counters:
    """Running numbers that continue across chunks so ids stay unique."""

    persons: int = 0
    members: int = 0
    orders: int = 0


def _trial_orders(rng: np.random.Generator, cal: _Calendar, owner: np.ndarray, day: np.ndarray,
                  member: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Run TRIAL on the persons of a chunk: who is in it, treated or not, the mail day, and the
    owners and days of the extra orders the mail brings (persons' first orders are day[:n])."""
    n = len(member)
    hi = cal.days - TRIAL.margin_days
    lo = max(0, hi - TRIAL.window_days)
    first = day[:n]
    persons = np.flatnonzero(member & (first >= lo) & (first < hi))
    treated = rng.random(len(persons)) < TRIAL.treated_share
    sent = first[persons] + TRIAL.send_after_days
    # outcome without the mail: an order in (sent, sent + outcome_days]
    slot = np.full(n, -1, dtype=np.int64)
    slot[persons] = np.arange(len(persons))
    o_slot = slot[owner]
    inside = o_slot >= 0
    gap = day[inside] - sent[o_slot[inside]]
    hit = np.bincount(o_slot[inside][(gap > 0) & (gap <= TRIAL.outcome_days)], minlength=len(persons)) > 0
    base = float(hit.mean()) if len(persons) else 0.0
    p = min(1.0, TRIAL.effect / (1.0 - base)) if base < 1.0 else 0.0
    convert = treated & ~hit & (rng.random(len(persons)) < p)
    extra_owner = persons[convert]
    extra_day = sent[convert] + rng.integers(1, TRIAL.outcome_days + 1, int(convert.sum()))
    return persons, treated, sent, np.stack([extra_owner, extra_day])


def _survey(rng: np.random.Generator, cal: _Calendar, owner: np.ndarray, day: np.ndarray,
            member: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """NPS answers of a random share of the members who had bought before the survey day:
    scores rise with the number of orders (loyal customers recommend), NPS lands near -25."""
    n = len(member)
    survey_day = cal.days - 14
    before = day < survey_day
    orders = np.bincount(owner[before], minlength=n)
    asked = np.flatnonzero(member & (orders > 0) & (rng.random(n) < _SURVEY_SHARE))
    latent = rng.normal(6.4 + 1.2 * np.log(orders[asked]), 2.2)
    return asked, np.clip(np.rint(latent), 0, 10).astype(np.int64), survey_day


def _sku_index(sku: str) -> int:
    """The position of a product in _PRODUCTS."""
    return next(i for i, p in enumerate(_PRODUCTS) if p[0] == sku)


def _cycle_repeats(rng: np.random.Generator, cal: _Calendar, cycled: np.ndarray, owner_r: np.ndarray,
                   t_first: np.ndarray, t_rep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """PRODUCT_EFFECTS' replenishment: the repeats of cycled persons moved onto their product's cycle
    (k-th repeat at k cycles after the first order, jittered by whole days); returns the repeats'
    new times and which repeats stay inside the data."""
    e = PRODUCT_EFFECTS
    rank = _rank_in_group(np.bincount(owner_r, minlength=len(t_first))) + 1
    jitter = rng.integers(-e.cycle_jitter_days, e.cycle_jitter_days + 1, len(owner_r))
    moved = t_first[owner_r] + rank * e.cycle_days + jitter
    on_cycle = cycled[owner_r]
    t_new = np.where(on_cycle, moved, t_rep)
    return t_new, ~on_cycle | (t_new < cal.days)


def _entry_orders(rng: np.random.Generator, cal: _Calendar, owner: np.ndarray, day: np.ndarray,
                  entry: np.ndarray) -> np.ndarray:
    """PRODUCT_EFFECTS' entry product: owners and days of the extra second orders (first orders are day[:n])."""
    e = PRODUCT_EFFECTS
    n = len(entry)
    first = day[:n]
    persons = np.flatnonzero(entry & (first + e.entry_window_days < cal.days))
    slot = np.full(n, -1, dtype=np.int64)
    slot[persons] = np.arange(len(persons))
    o_slot = slot[owner]
    inside = o_slot >= 0
    gap = day[inside] - first[owner[inside]]
    hit = np.bincount(o_slot[inside][(gap > 0) & (gap <= e.entry_window_days)], minlength=len(persons)) > 0
    base = float(hit.mean()) if len(persons) else 0.0
    p = min(1.0, e.entry_f2_points / (1.0 - base)) if base < 1.0 else 0.0
    convert = ~hit & (rng.random(len(persons)) < p)
    extra_owner = persons[convert]
    extra_day = first[extra_owner] + rng.integers(1, e.entry_window_days + 1, len(extra_owner))
    return np.stack([extra_owner, extra_day])


def _paired_lines(rng: np.random.Generator, l_order: np.ndarray, prod: np.ndarray, n_orders: int
                  ) -> tuple[np.ndarray, np.ndarray]:
    """PRODUCT_EFFECTS' pair: lines of the second product added to orders holding the first
    (product lines stay grouped by order); returns the new l_order and prod."""
    e = PRODUCT_EFFECTS
    a, b = (_sku_index(sku) for sku in e.pair_skus)
    has_a = np.bincount(l_order[prod == a], minlength=n_orders) > 0
    has_b = np.bincount(l_order[prod == b], minlength=n_orders) > 0
    base = float(has_b[has_a].mean()) if has_a.any() else 0.0
    p = min(1.0, e.pair_points / (1.0 - base)) if base < 1.0 else 0.0
    add = np.flatnonzero(has_a & ~has_b & (rng.random(n_orders) < p))
    order = np.concatenate([l_order, add])
    sort = np.argsort(order, kind="stable")
    return order[sort], np.concatenate([prod, np.full(len(add), b, dtype=prod.dtype)])[sort]


def _generate_chunk(rng: np.random.Generator, n: int, cal: _Calendar, counters: _Counters,
                    id_width: int, order_width: int, xrng: np.random.Generator | None = None,
                    erng: np.random.Generator | None = None) -> tuple[pa.Table, dict[str, pa.Table]]:
    """Generate the order lines of n customers (persons) and advance the id counters; also the
    chunk's trial and survey rows (xrng: their own random stream). erng: the random stream of
    PRODUCT_EFFECTS, which are built in only when it is given."""
    xrng = xrng if xrng is not None else np.random.default_rng(0)
    n_cat = len(_CATEGORIES)
    cat_weight = np.array([c.weight for c in _CATEGORIES])
    prod_cat = np.array([p[2] for p in _PRODUCTS], dtype=np.int32)
    prod_price = np.array([p[3] for p in _PRODUCTS], dtype=np.int64)
    prod_pop = np.array([p[4] for p in _PRODUCTS])
    # products are listed grouped by category: per-category slices of one cumulative table
    prod_cum = np.cumsum(prod_pop)
    cat_lo = np.array([prod_cum[prod_cat == c][0] - prod_pop[prod_cat == c][0] for c in range(n_cat)])
    cat_hi = np.array([prod_cum[prod_cat == c][-1] for c in range(n_cat)])

    # --- persons --------------------------------------------------------------------------
    first_day_u = rng.random(n)
    first_day = np.searchsorted(cal.acq_cdf, first_day_u, side="right").clip(0, cal.days - 1)
    first_frac = rng.random(n)  # position within the day on the seasonal clock
    # sort persons by acquisition so member numbers grow with time
    order_p = np.lexsort((first_frac, first_day))
    first_day, first_frac = first_day[order_p], first_frac[order_p]

    source = _choice(rng, [s[1] for s in _SOURCES], n)
    guest_p = np.array([s[3] for s in _SOURCES])[source]
    guest_only = rng.random(n) < guest_p
    home = _choice(rng, cat_weight, n)
    region = _choice(rng, [p[1] for p in _PREFECTURES], n)

    rate = rng.gamma(_RATE_SHAPE, _RATE_MEAN / _RATE_SHAPE, n)
    drop = rng.beta(_DROP_A, _DROP_B, n)
    odds = drop / np.maximum(1 - drop, 1e-9)
    odds *= np.array([c.drop_factor for c in _CATEGORIES])[home]
    odds *= np.array([s[2] for s in _SOURCES])[source]
    odds *= np.where(guest_only, _GUEST_PERSON_DROP, 1.0)
    drop = (odds / (1 + odds)).clip(0.004, 1.0)

    cycle = np.zeros(n)
    for c, cat in enumerate(_CATEGORIES):  # loop over 6 categories, vectorised inside
        if cat.cycles:
            mask = home == c
            pick = _choice(rng, cat.cycle_probs, int(mask.sum()))
            cycle[mask] = np.array(cat.cycles, dtype=float)[pick]

    # channel preference: store-acquired customers mostly buy in the store
    pref_store = np.where(source == _STORE_SOURCE, 0.7, np.where(guest_only, 0.0, 0.04))
    pref_app = np.where(guest_only, 0.0, np.where(source == _STORE_SOURCE, 0.12, 0.32))

    # favourite product: the first line of the first order, from the home category
    fav = np.searchsorted(prod_cum, cat_lo[home] + rng.random(n) * (cat_hi[home] - cat_lo[home]),
                          side="right").astype(np.int32)
    fav = np.minimum(fav, len(_PRODUCTS) - 1)

    # --- orders: first purchase, then repeats on the seasonal clock until drop-out ----------
    u0 = cal.clock[first_day] + first_frac * (cal.clock[first_day + 1] - cal.clock[first_day])
    u_end = cal.clock[-1]
    purchases = rng.geometric(drop)  # purchases before drop-out (>= 1)
    room = np.floor((u_end - u0) / _MIN_GAP_DAYS).astype(np.int64) + 1
    purchases = np.minimum(purchases, room)
    repeats = purchases - 1
    owner_r = np.repeat(np.arange(n), repeats)
    m = len(owner_r)
    cyc = cycle[owner_r]
    lam = rate[owner_r]
    # consumables: a whole number of cycles (skipped cycles when the rate is low) with jitter;
    # one gap in six is an off-cycle extra purchase. Others: exponential gaps.
    q = np.clip(lam * np.where(cyc > 0, cyc, 1.0), 0.05, 1.0)
    n_cycles = rng.geometric(q)
    jitter = rng.normal(1.0, 0.07, m)
    expo = rng.exponential(1.0, m) / lam
    cyclic = (cyc > 0) & (rng.random(m) > 1 / 6)
    gaps = np.where(cyclic, n_cycles * cyc * jitter, _MIN_GAP_DAYS + expo)
    gaps = np.maximum(gaps, _MIN_GAP_DAYS)
    csum = np.cumsum(gaps)
    starts = _group_starts(repeats)
    base = np.where(starts > 0, csum[np.maximum(starts - 1, 0)], 0.0)
    u_rep = u0[owner_r] + csum - np.repeat(base, repeats)
    keep = u_rep < u_end
    owner_r, u_rep = owner_r[keep], u_rep[keep]

    owner = np.concatenate([np.arange(n), owner_r])
    u = np.concatenate([u0, u_rep])
    t_day = np.interp(u, cal.clock, np.arange(cal.days + 1, dtype=float))
    if erng is not None:  # the replenishment product's buyers re-buy on its cycle, in calendar days
        t_rep, inside = _cycle_repeats(erng, cal, fav == _sku_index(PRODUCT_EFFECTS.cycle_sku), owner_r,
                                       t_day[:n], t_day[n:])
        owner = np.concatenate([np.arange(n), owner_r[inside]])
        t_day = np.concatenate([t_day[:n], t_rep[inside]])
    day = np.floor(t_day).astype(np.int64).clip(0, cal.days - 1)
    trial_persons, trial_treated, trial_sent, extra = _trial_orders(xrng, cal, owner, day, ~guest_only)
    forced = np.concatenate([np.zeros(len(owner), dtype=bool), np.ones(extra.shape[1], dtype=bool)])
    owner, day = np.concatenate([owner, extra[0]]), np.concatenate([day, extra[1]])
    boosted = np.zeros(len(owner), dtype=bool)  # orders the entry product brings (completed, as placed)
    if erng is not None:
        entry = _entry_orders(erng, cal, owner, day, fav == _sku_index(PRODUCT_EFFECTS.entry_sku))
        forced = np.concatenate([forced, np.zeros(entry.shape[1], dtype=bool)])
        boosted = np.concatenate([boosted, np.ones(entry.shape[1], dtype=bool)])
        owner, day = np.concatenate([owner, entry[0]]), np.concatenate([day, entry[1]])
    n_orders = len(owner)

    ch_u = rng.random(n_orders)
    channel = np.where(ch_u < pref_store[owner], 2,
                       np.where(ch_u < pref_store[owner] + pref_app[owner], 1, 0)).astype(np.int32)
    hours = np.where(channel == 2,
                     _choice(rng, _HOURS_STORE, n_orders),
                     _choice(rng, _HOURS_ONLINE, n_orders))
    seconds = hours.astype(np.int64) * 3600 + rng.integers(0, 3600, n_orders)
    ts = day * 86400 + seconds

    # chronological order of this chunk's orders; order numbers follow it
    o_sort = np.lexsort((owner, ts))
    owner, day, ts, channel, forced = owner[o_sort], day[o_sort], ts[o_sort], channel[o_sort], forced[o_sort]
    boosted = boosted[o_sort]
    is_first = np.zeros(n_orders, dtype=bool)
    is_first[np.unique(owner, return_index=True)[1]] = True  # owner's earliest order

    guest_u = rng.random(n_orders)
    as_guest = guest_only[owner] | (
        (channel == 0) & (guest_u < np.where(is_first, _MEMBER_GUEST_FIRST, _MEMBER_GUEST_LATER)))
    status = _choice(rng, _STATUS_P, n_orders)
    # unpaid (pending) orders are recent; older pending draws were paid in the end
    late = day >= cal.pending_from
    status = np.where((status == 3) & ~late, 0, status)
    status = np.where(late & (rng.random(n_orders) < 0.15), 3, status).astype(np.int32)
    # the orders the trial's mail brought are completed member orders (so the built-in effect is
    # exactly what the shop's data shows)
    status = np.where(forced | boosted, 0, status).astype(np.int32)
    as_guest &= ~forced

    n_lines = (_choice(rng, _LINES_P, n_orders) + 1).astype(np.int64)

    # --- product lines -----------------------------------------------------------------------
    n_plines = int(n_lines.sum())
    l_order = np.repeat(np.arange(n_orders), n_lines)
    l_rank = _rank_in_group(n_lines)
    l_owner = owner[l_order]
    l_home = home[l_owner]
    cat_u = rng.random(n_plines)
    own_share = np.where(l_rank == 0, 0.75, 0.5)
    l_cat = np.where(cat_u < own_share, l_home, _choice(rng, cat_weight, n_plines))
    prod = np.searchsorted(prod_cum, cat_lo[l_cat] + rng.random(n_plines) * (cat_hi[l_cat] - cat_lo[l_cat]),
                           side="right").astype(np.int32)
    fav_p = np.array([c.fav_repeat for c in _CATEGORIES])[l_home]
    if erng is not None:  # the replenishment product's buyers start every order with it
        fav_p = np.where(fav[l_owner] == _sku_index(PRODUCT_EFFECTS.cycle_sku), 1.0, fav_p)
    use_fav = (l_rank == 0) & (is_first[l_order] | (rng.random(n_plines) < fav_p))
    prod = np.where(use_fav, fav[l_owner], prod)
    prod = np.minimum(prod, len(_PRODUCTS) - 1)
    # no product twice in one order (the ingest would see an exact duplicate line)
    all_cum_hi = prod_cum[-1]
    while True:  # a few rounds over the duplicates left, vectorised inside
        key = l_order * len(_PRODUCTS) + prod
        srt = np.argsort(key, kind="stable")
        dup_sorted = np.zeros(n_plines, dtype=bool)
        dup_sorted[1:] = key[srt][1:] == key[srt][:-1]
        dup = srt[dup_sorted]  # the later line of each pair: the first line keeps its product
        if len(dup) == 0:
            break
        prod[dup] = np.minimum(np.searchsorted(prod_cum, rng.random(len(dup)) * all_cum_hi, side="right"),
                               len(_PRODUCTS) - 1)
    if erng is not None:  # the pair: the second product added to orders of the first
        l_order, prod = _paired_lines(erng, l_order, prod, n_orders)
        n_lines = np.bincount(l_order, minlength=n_orders).astype(np.int64)
        n_plines = len(prod)
    p_cat = prod_cat[prod]
    multi = rng.random(n_plines) < np.array([c.multi_qty for c in _CATEGORIES])[p_cat]
    qty = np.where(multi, 2 + rng.geometric(0.6, n_plines) - 1, 1).clip(1, 6).astype(np.int64)
    price = prod_price[prod]
    sale = cal.sale_day[day[l_order]] & (rng.random(n_plines) < 0.35)
    discount = np.where(rng.random(n_plines) < 0.5, 0.9, 0.8)
    price = np.where(sale, np.round(price * discount / 10).astype(np.int64) * 10, price)
    amount = qty * price

    # --- shipping lines: web orders under the free-shipping line (app and store: none) ----------
    subtotal = np.bincount(l_order, weights=amount, minlength=n_orders)
    ship = (channel == 0) & (subtotal < _FREE_SHIPPING_FROM)
    ship_fee = np.where(cal.remote[region[owner]], _SHIPPING_FEE_REMOTE, _SHIPPING_FEE)

    total_lines = n_lines + ship
    a_order = np.repeat(np.arange(n_orders), total_lines)
    a_rank = _rank_in_group(total_lines)
    is_ship = a_rank >= n_lines[a_order]
    # product line k of order o sits at (start of o in the product lines) + k
    p_pos = np.where(is_ship, 0, _group_starts(n_lines)[a_order] + a_rank)
    n_products = len(_PRODUCTS)
    a_prod = np.where(is_ship, n_products, prod[p_pos])  # index n_products = shipping
    a_cat = np.where(is_ship, n_cat, prod_cat[np.minimum(a_prod, n_products - 1)])
    a_qty = np.where(is_ship, 1, qty[p_pos])
    a_price = np.where(is_ship, ship_fee[a_order], price[p_pos])
    a_amount = a_qty * a_price

    # --- identifiers and contacts ------------------------------------------------------------
    person_no = counters.persons + np.arange(n, dtype=np.int64)
    member_no = counters.members + np.cumsum(~guest_only) - 1
    customer = _padded("C", member_no + 1, id_width)
    email_no = _scramble(person_no, 7_919_617, 100_000_000, 1_234_567)
    style = rng.integers(0, 3, n)
    given = pa.array(_GIVEN).take(pa.array(rng.integers(0, len(_GIVEN), n)))
    family = pa.array(_FAMILY).take(pa.array(rng.integers(0, len(_FAMILY), n)))
    num = pc.cast(pa.array(email_no), pa.string())
    sep = _vocab((".", "_", ""), style)
    first, second = (pc.if_else(pa.array(style == 1), family, given),
                     pc.if_else(pa.array(style == 1), given, family))
    domain = _vocab(_EMAIL_DOMAINS, _choice(rng, _EMAIL_DOMAIN_P, n))
    local = pc.binary_join_element_wise(first, sep, second, num, "")
    email = pc.binary_join_element_wise(local, domain, "@")
    phone_no = _scramble(person_no, 48_271, 100_000_000, 31_415_926)
    phone_txt = pc.utf8_lpad(pc.cast(pa.array(phone_no), pa.string()), 8, "0")
    phone = pc.binary_join_element_wise(
        _vocab(("090", "080", "070"), _choice(rng, (0.5, 0.4, 0.1), n)),
        pc.utf8_slice_codeunits(phone_txt, 0, 4), pc.utf8_slice_codeunits(phone_txt, 4, 8), "-")
    has_phone = rng.random(n) < _PHONE_SHARE
    phone = pc.if_else(pa.array(has_phone), phone, pa.nulls(n, pa.string()))
    # some members type their address in another case when checking out as a guest
    guest_case = as_guest & ~guest_only[owner] & (rng.random(n_orders) < 0.2)

    order_no = counters.orders + np.arange(1, n_orders + 1, dtype=np.int64)
    order_id = _padded("O", order_no, order_width)

    counters.persons += n
    counters.members += int((~guest_only).sum())
    counters.orders += n_orders

    # --- assemble: person- and order-level values taken to lines ------------------------------
    # low-cardinality columns stay dictionary-encoded (codes only); the strings are copied once
    # per line only for the identifiers, straight from the person- or order-level arrays.
    l_owner = owner[a_order]
    customer_or_null = pa.concat_arrays([customer, pa.nulls(1, pa.string())])
    email_or_cased = pa.concat_arrays([email, pc.utf8_capitalize(email)])
    cust_idx = np.where(as_guest[a_order], n, l_owner)
    email_idx = l_owner + n * guest_case[a_order]
    ordered_at = cal.start + ts[a_order].astype("timedelta64[s]")
    skus = [p[0] for p in _PRODUCTS] + [_SHIPPING_SKU]
    names = [p[1] for p in _PRODUCTS] + [_SHIPPING_NAME]
    cats = [c.name for c in _CATEGORIES] + [_SHIPPING_NAME]
    columns = [
        order_id.take(pa.array(a_order)),
        customer_or_null.take(pa.array(cust_idx)),
        email_or_cased.take(pa.array(email_idx)),
        phone.take(pa.array(l_owner)),
        pa.array(ordered_at, pa.timestamp("s")),
        _dictionary(skus, a_prod),
        _dictionary(names, a_prod),
        _dictionary(cats, a_cat),
        pa.array(a_qty, pa.int64()),
        pa.array(a_price, pa.int64()),
        pa.array(a_amount, pa.int64()),
        _dictionary(_CHANNELS, channel[a_order]),
        _dictionary(_STATUSES, status[a_order]),
        _dictionary([s[0] for s in _SOURCES], source[l_owner]),
        _dictionary([p[0] for p in _PREFECTURES], region[l_owner]),
    ]
    lines = pa.Table.from_arrays(columns, schema=_CHUNK_SCHEMA)

    start_day = cal.start.astype("datetime64[D]")
    asked, scores, survey_day = _survey(xrng, cal, owner, day, ~guest_only)
    extras = {
        "trial": pa.table({
            "customer_id": customer.take(pa.array(trial_persons)),
            "group": _vocab(("control", "treated"), trial_treated.astype(np.int32)).cast(pa.string()),
            "sent_at": pa.array(start_day + trial_sent, pa.date32()),
        }),
        "survey": pa.table({
            "customer_id": customer.take(pa.array(asked)),
            "score": pa.array(scores, pa.int64()),
            "answered_at": pa.array(np.full(len(asked), start_day + survey_day), pa.date32()),
        }),
        "members": pa.table({"first_day": pa.array(start_day + first_day[~guest_only], pa.date32())}),
    }
    return lines, extras


# ----------------------------------------------------------------------------------------------
# Public API
# ----------------------------------------------------------------------------------------------


def _chunks(n_customers: int, seed: int, start: str, end: str, order_width: int, product_effects: bool = False):
    """Yield (lines, extras) of successive customer chunks (each seeded from seed and its number;
    the trial and survey draw from a second stream of their own, PRODUCT_EFFECTS from a third)."""
    if n_customers < 1:
        raise ValueError(f"n_customers must be at least 1, got {n_customers}")
    cal = _calendar(start, end)
    counters = _Counters()
    id_width = max(7, len(str(n_customers)))
    for k, lo in enumerate(range(0, n_customers, _CHUNK_CUSTOMERS)):
        size = min(_CHUNK_CUSTOMERS, n_customers - lo)
        rng = np.random.default_rng(np.random.SeedSequence([seed, k]))
        xrng = np.random.default_rng(np.random.SeedSequence([seed, k, 1]))
        erng = np.random.default_rng(np.random.SeedSequence([seed, k, 2])) if product_effects else None
        yield _generate_chunk(rng, size, cal, counters, id_width, order_width, xrng, erng)


def _order_width(n_customers: int) -> int:
    """Digits of order numbers: 8 (O00000001) unless the sample could exceed that."""
    return max(8, len(str(n_customers * 12)))


def generate_lines(n_customers: int = 20_000, *, seed: int = DEFAULT_SEED,
                   start: str = DEFAULT_START, end: str = DEFAULT_END, product_effects: bool = False) -> pa.Table:
    """Fake order lines of n_customers Japanese EC customers, so demos and tests need no client data.

    One row per order line (product lines plus ``SHIPPING`` lines), columns and types as in
    ``SCHEMA``, in time order within each chunk of 500,000 customers. Deterministic: the same
    arguments give the same table, equal to what ``write_sample`` writes for them.
    product_effects: build in PRODUCT_EFFECTS (entry product, re-buy cycle, pair of known sizes).
    """
    return generate_sample(n_customers, seed=seed, start=start, end=end, product_effects=product_effects).lines


@dataclass(frozen=True)
class Sample:
    """A generated shop: its order lines and the strategy chapter's inputs (see strategy_tables)."""

    lines: pa.Table
    trial: pa.Table  # customer_id, group (treated/control), sent_at: the follow-up-mail trial (TRIAL)
    survey: pa.Table  # customer_id, score (0-10), answered_at: one NPS survey
    execution_log: pa.Table  # date, measure, segment, channel, volume, cost


def generate_sample(n_customers: int = 20_000, *, seed: int = DEFAULT_SEED,
                    start: str = DEFAULT_START, end: str = DEFAULT_END, product_effects: bool = False) -> Sample:
    """generate_lines plus the trial, the NPS survey and the execution log of the same shop."""
    width = _order_width(n_customers)
    lines, extras = [], {"trial": [], "survey": [], "members": []}
    for table, chunk_extras in _chunks(n_customers, seed, start, end, width, product_effects):
        lines.append(table.cast(SCHEMA))
        for name, part in chunk_extras.items():
            extras[name].append(part)
    tables = {name: pa.concat_tables(parts) for name, parts in extras.items()}
    return Sample(
        lines=pa.concat_tables(lines) if len(lines) > 1 else lines[0],
        trial=tables["trial"], survey=tables["survey"],
        execution_log=_execution_log(tables["trial"], tables["members"], start, end),
    )


def _execution_log(trial: pa.Table, members: pa.Table, start: str, end: str) -> pa.Table:
    """The shop's log of measures: the trial's mails per week, and a monthly newsletter to every
    member acquired so far (volumes from the generated data; costs per mail as in TRIAL)."""
    sent = trial.filter(pc.equal(trial["group"], "treated"))["sent_at"].to_numpy().astype("datetime64[D]")
    week = sent - ((sent.astype(np.int64) + 3) % 7)  # the Monday of the mail's week
    weeks, volume = np.unique(week, return_counts=True)
    months = np.arange(np.datetime64(start[:7], "M") + 1, np.datetime64(end[:7], "M") + 1)
    month_days = months.astype("datetime64[D]")
    joined = np.sort(members["first_day"].to_numpy().astype("datetime64[D]"))
    letters = np.searchsorted(joined, month_days, side="left")
    n_w, n_m = len(weeks), len(months)
    frame = {
        "date": np.concatenate([weeks, month_days]),
        "measure": ["F2フォローメール(初回購入7日後)"] * n_w + ["月次メルマガ"] * n_m,
        "segment": ["初回購入者(テスト群)"] * n_w + ["全会員"] * n_m,
        "channel": ["メール"] * (n_w + n_m),
        "volume": np.concatenate([volume, letters]).astype(np.int64),
        "cost": np.concatenate([volume * TRIAL.mail_cost, letters * _NEWSLETTER_COST]).astype(np.int64),
    }
    order = np.argsort(frame["date"], kind="stable")
    return pa.table({
        "date": pa.array(frame["date"][order], pa.date32()),
        "measure": pa.array(np.array(frame["measure"])[order].tolist(), pa.string()),
        "segment": pa.array(np.array(frame["segment"])[order].tolist(), pa.string()),
        "channel": pa.array(np.array(frame["channel"])[order].tolist(), pa.string()),
        "volume": pa.array(frame["volume"][order], pa.int64()),
        "cost": pa.array(frame["cost"][order], pa.int64()),
    })


STRATEGY_FILES = {"trial": "trial_f2_mail.csv", "survey": "nps_survey.csv", "execution_log": "execution_log.csv"}


def write_strategy_inputs(sample: Sample, folder: Path | str) -> dict[str, Path]:
    """Write the sample shop's trial, NPS survey and execution log as UTF-8 CSV into folder."""
    import pyarrow.csv as pacsv

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, file in STRATEGY_FILES.items():
        path = folder / file
        pacsv.write_csv(getattr(sample, name), path)
        written[name] = path
    return written


def _orders_per_customer(seed: int, start: str, end: str) -> float:
    """Mean orders per generated customer, from a pilot run, to size a sample by order count."""
    table, _ = next(_chunks(_PILOT_CUSTOMERS, seed + 1, start, end, 8))
    return pc.count_distinct(table["order_id"]).as_py() / _PILOT_CUSTOMERS


def customers_for_orders(n_orders: int, *, seed: int = DEFAULT_SEED, start: str = DEFAULT_START,
                         end: str = DEFAULT_END) -> int:
    """Number of customers whose expected order count is n_orders (measured by a pilot run)."""
    if n_orders < 1:
        raise ValueError(f"n_orders must be at least 1, got {n_orders}")
    return max(1, round(n_orders / _orders_per_customer(seed, start, end)))


def write_sample(path: Path | str, *, n_customers: int | None = None, n_orders: int | None = None,
                 seed: int = DEFAULT_SEED, fmt: str | None = None, start: str = DEFAULT_START,
                 end: str = DEFAULT_END, strategy_inputs: bool = False, product_effects: bool = False) -> Path:
    """Write a generated sample as CSV or Parquet chunk by chunk, so 10M orders fit in bounded memory.

    Give n_customers, or n_orders to size the sample by its expected order count (neither: the
    default 20,000 customers). The format is ``fmt`` ("csv" or "parquet") or else the suffix
    (.parquet/.pq: Parquet, anything else: CSV, UTF-8 with a header). Parquet columns are plain
    strings, int64 and a timestamp (stored in ms). The file appears only when complete.
    strategy_inputs: also write the trial, NPS survey and execution log CSVs beside it
    (STRATEGY_FILES; they hold one row per trial member or respondent, so keep it for demo sizes).
    product_effects: build in PRODUCT_EFFECTS (the demo does; off, the sample is as before).
    """
    from concurrent.futures import ThreadPoolExecutor

    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    path = Path(path)
    fmt = (fmt or ("parquet" if path.suffix.lower() in (".parquet", ".pq") else "csv")).lower()
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"unknown sample format {fmt!r}: use 'csv' or 'parquet'")
    if n_customers is not None and n_orders is not None:
        raise ValueError("give n_customers or n_orders, not both")
    if n_orders is not None:
        n_customers = customers_for_orders(n_orders, seed=seed, start=start, end=end)
    if n_customers is None:
        n_customers = 20_000
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    width = _order_width(n_customers)
    if fmt == "parquet":
        # dictionary columns are written as Parquet dictionaries without re-hashing the strings;
        # no stored Arrow schema, so readers see plain string columns
        writer = pq.ParquetWriter(tmp, _CHUNK_SCHEMA, compression="zstd", store_schema=False)

        def write(table: pa.Table) -> None:
            writer.write_table(table, row_group_size=1 << 20)
    else:
        writer = pacsv.CSVWriter(tmp, SCHEMA)

        def write(table: pa.Table) -> None:
            writer.write_table(table.cast(SCHEMA))
    extras: dict[str, list[pa.Table]] = {"trial": [], "survey": [], "members": []}
    try:
        # write chunk k on a second thread while chunk k+1 is generated (both release the GIL)
        with ThreadPoolExecutor(max_workers=1) as pool:
            pending = None
            for table, chunk_extras in _chunks(n_customers, seed, start, end, width, product_effects):
                if pending is not None:
                    pending.result()
                pending = pool.submit(write, table)
                del table
                if strategy_inputs:
                    for name, part in chunk_extras.items():
                        extras[name].append(part)
            if pending is not None:
                pending.result()
        writer.close()
        tmp.replace(path)
        if strategy_inputs:
            tables = {name: pa.concat_tables(parts) for name, parts in extras.items()}
            log = _execution_log(tables["trial"], tables["members"], start, end)
            write_strategy_inputs(Sample(pa.table({}), tables["trial"], tables["survey"], log), path.parent)
    finally:
        writer.close()
        tmp.unlink(missing_ok=True)
    return path
