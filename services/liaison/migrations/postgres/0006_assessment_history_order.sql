-- Each assessment's number in its authority's assessment order (declarations.assessed_seq
-- takes the newest): a re-assessment takes a new number as an arrival does, so a search
-- started before it places and filters the shipment as it stood then, from this history
-- (NULL for assessments stored before this column: read as 0, before every search).
ALTER TABLE assessment_history ADD COLUMN assessed_seq BIGINT;
