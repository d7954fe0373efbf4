from __future__ import annotations

from common.cloud import md5_hex, orders_csv, parse_orders_csv
from common.orders import sample_orders


def test_orders_csv_round_trips():
    orders = sample_orders("2026-01-01", 5)
    data = orders_csv(orders)
    assert data.splitlines()[0] == b"order_id,region,amount,quantity"
    assert parse_orders_csv(data) == orders
    assert md5_hex(data) == md5_hex(orders_csv(orders)) != md5_hex(orders_csv(orders[:4]))
