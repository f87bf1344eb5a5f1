"""truenorth on Apache Spark (``pip install truenorth[spark]``, PySpark >= 4.0).

Every per-customer step runs inside Spark through ``mapInArrow`` with the same Rust kernels as
a local run, so a customer's numbers are the same either way:

- :func:`summarize` — customer summaries of a Spark transaction log;
- :func:`fit` — a BTYD or spend model fitted on the driver from weighted patterns;
- :func:`score` — P(alive), expected purchases, expected spend and CLV per customer;
- :func:`rfm`, :func:`clv_tiers`, :func:`aggregate` — exact segments;
- :func:`apply_rule` — a pack's ``condition`` / ``decision_table`` rule on each partition;
- :func:`run` — a whole pack, per-customer rules distributed and small tables local.

``import truenorth`` never imports PySpark; this package does.

Example::

    from pyspark.sql import SparkSession
    import truenorth.spark as tns

    spark = SparkSession.builder.getOrCreate()
    orders = spark.read.parquet("s3://shop/orders/")
    summaries = tns.summarize(orders, customer="customer_id", time="ordered_at",
                              amount="total", unit="1w")
    bgnbd, spend = tns.fit(summaries, "bg_nbd"), tns.fit(summaries, "gamma_gamma")
    customers = tns.score(summaries, bgnbd, spend, horizon=12)
"""

try:
    import pyspark  # noqa: F401
except ImportError as exc:  # pragma: no cover - the extra is not installed
    raise ImportError(
        "truenorth.spark needs PySpark >= 4.0 and a Java runtime (17 or later): "
        "pip install 'truenorth[spark]'"
    ) from exc

from .models import MAX_PATTERNS, fit, patterns, score
from .pack import SparkRun, run
from .rules import apply_rule
from .segments import aggregate, clv_tiers, order_statistics, rfm
from .summary import summarize, summary_unit

__all__ = [
    "MAX_PATTERNS",
    "SparkRun",
    "aggregate",
    "apply_rule",
    "clv_tiers",
    "fit",
    "order_statistics",
    "patterns",
    "rfm",
    "run",
    "score",
    "summarize",
    "summary_unit",
]
