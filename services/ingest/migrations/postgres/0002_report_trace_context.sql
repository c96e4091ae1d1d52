-- The W3C traceparent of the call that stored the report (ingest's server span), carried on
-- the change feed so that scoring's span applying the report links to the report's trace.
-- NULL when the call was not traced.
ALTER TABLE reports ADD COLUMN trace_context TEXT;
