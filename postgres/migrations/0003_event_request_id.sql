-- Attribution: the request_id of the recommendation response a shopper
-- acted on (the widget sends it with the click), so later purchases in the
-- same session can be traced back to a recommendation. Empty for other
-- events. Adding a column with a constant default rewrites no rows.
ALTER TABLE events ADD COLUMN request_id text NOT NULL DEFAULT '';
