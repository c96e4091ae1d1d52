-- Searches for one importer or one seller are ordered by risk by default: with risk in
-- their indexes, a page reads its 20 rows in order instead of every shipment of the party
-- and sorting them. (Ordered by time, the party's rows are still found through the index.)
DROP INDEX declarations_by_importer;
DROP INDEX declarations_by_seller;
CREATE INDEX declarations_by_importer ON declarations (authority, importer_id, (COALESCE(risk, -1.0)), seq);
CREATE INDEX declarations_by_seller ON declarations (authority, seller_platform, seller_id, (COALESCE(risk, -1.0)), seq);
