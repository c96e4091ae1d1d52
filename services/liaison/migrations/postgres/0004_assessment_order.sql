-- The order in which an authority's declarations were assessed: 1, 2, ... (0 for those
-- assessed before this column existed; NULL while pending). A search's later pages place
-- and filter each shipment as it stood at the first page: one assessed since then is still
-- pending there, so it is listed once, where a pending shipment belongs.
ALTER TABLE declarations ADD COLUMN assessed_seq BIGINT;
UPDATE declarations SET assessed_seq = 0 WHERE state = 2;
CREATE INDEX declarations_by_assessment ON declarations (authority, assessed_seq);
