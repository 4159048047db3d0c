-- The planner's additions: an offer may add its order to a trip its rider accepted and has not
-- picked up yet (docs/assignment.md, "Additions"); adds_to names the accepted orders it joins.
ALTER TABLE offers ADD COLUMN IF NOT EXISTS adds_to text[] NOT NULL DEFAULT '{}';
