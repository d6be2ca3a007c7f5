"""The store: the per-customer data every chapter reads, computed once per report.

Layer between the chapters and the common code (the contracts in ``.importlinter``): the
chapters read it and never each other; it imports no chapter and no render code.

- ``asof``: the one resolution of the analysis date.
- ``kept``: results kept beside the processed orders (<processed>/store/), written atomically,
  so the coverage and the segmentation are computed once per report.
- ``purchases``: one client's purchases before the as-of date in one DuckDB session (Purchases,
  Span, the analysis periods).
- ``customers``: the customer fact table (first and last order, orders, purchases, revenue,
  recency, tenure), one row per customer.
- ``segments``: every customer classified once (RFM, CPM, ladder, decile) with the yardstick of
  the as-of date, kept beside the processed data so the segments chapter, its customer lists and
  the strategy chapter share one classification.
- ``ltv``: the purchase models, their validity gate and the historical LTV (the LTV chapter shows
  them); ``ltv.verdict`` keeps the gate's verdict for the other chapters (the key accounts).
"""
