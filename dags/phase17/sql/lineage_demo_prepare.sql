-- phase17_01: the tables whose lineage summarise_sql reports (created once, refilled every run).
CREATE SCHEMA IF NOT EXISTS lineage_demo;
CREATE TABLE IF NOT EXISTS lineage_demo.orders (order_id TEXT PRIMARY KEY, region TEXT NOT NULL, amount NUMERIC(12, 2) NOT NULL);
CREATE TABLE IF NOT EXISTS lineage_demo.region_revenue (region TEXT NOT NULL, revenue NUMERIC(14, 2) NOT NULL);
INSERT INTO lineage_demo.orders (order_id, region, amount) VALUES
    ('o-1', 'eu-west', 120.00), ('o-2', 'eu-west', 80.50), ('o-3', 'us-east', 42.00), ('o-4', 'ap-south', 13.25)
ON CONFLICT (order_id) DO NOTHING;
TRUNCATE lineage_demo.region_revenue;
