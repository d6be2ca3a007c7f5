"""Segmentation of the store: the `segments:` section's model and every customer's classes.

    seg = segment_customers(processed_dir / "orders.parquet", as_of, settings)   # once per report
    mig = segment_migration(seg)                                                 # vs 90 days earlier

Modules: settings (the `segments:` YAML section), scoring (quantile tie rule), rfm, cpm, ladder,
decile, classify, migration, names.
"""
