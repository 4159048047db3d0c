-- Delivery by riders and lockers (docs/dispatch.md): the shopper's delivery code, why an order
-- was cancelled (by the shopper, or by Linli for want of a rider), and what dispatch has told
-- us about the delivery: the promise, the live ETA, the rider, a pickup offer, the locker.

ALTER TABLE orders
    ADD COLUMN delivery_code text,
    ADD COLUMN cancel_reason text,
    ADD COLUMN delivery      jsonb NOT NULL DEFAULT '{}'::jsonb;
