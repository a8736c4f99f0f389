"""`make demo`: the whole story on the embedded default against sandbox vendors at realistic
latency, with a report in sentences and tables and an HTML page of charts (see :mod:`.scenario`)."""

from .scenario import run_demo

__all__ = ["run_demo"]
