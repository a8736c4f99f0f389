"""Outbox: the op-based ``send_outbox`` job and the ``outbox_sensor`` that starts it."""
