-- Group buying: a bag uncollected at the end of its pickup window goes back to the shop (orders
-- refunds its holder); its goods are put back (no longer held, or on hand again) and it is marked.
ALTER TABLE deal_bags ADD COLUMN returned_at timestamptz;
