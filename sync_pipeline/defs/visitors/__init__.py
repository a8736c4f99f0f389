"""Visitors: the ``rb2b_visitors`` asset, its checks and ``rb2b_visitors_sensor``."""
