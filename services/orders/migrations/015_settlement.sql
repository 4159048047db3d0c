-- Settlement (docs/operations.md "Settlement: the chart of accounts"). A ledger entry made at the
-- service centre's cash desk names the desk, so its cash is booked to that desk and not the bank.
ALTER TABLE ledger_entries ADD COLUMN desk text;
