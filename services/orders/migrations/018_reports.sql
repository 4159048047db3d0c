-- Reports (services/orders/domain/reports.py): every report reads the orders placed in a period, across
-- every shop for an operator; the other indexes on created_at lead with a shop or a person.
CREATE INDEX IF NOT EXISTS orders_created ON orders (created_at);
