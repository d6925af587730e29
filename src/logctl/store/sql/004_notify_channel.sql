-- The NOTIFY channel of a schema, 'logctl_<schema>', must fit PostgreSQL's 63-byte limit on
-- names: a schema name over 56 bytes made every insert fail. Such a schema's channel is now
-- 'logctl_' || md5(<schema>); shorter ones keep their name. logctl.store.listen.notify_channel
-- computes the same rule on the LISTEN side. Written inline with pg_catalog functions only, so
-- the trigger works whatever the inserting session's search_path.
CREATE OR REPLACE FUNCTION logctl_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(
        CASE WHEN octet_length(TG_TABLE_SCHEMA) <= 56 THEN 'logctl_' || TG_TABLE_SCHEMA
             ELSE 'logctl_' || md5(TG_TABLE_SCHEMA) END,
        '');
    RETURN NULL;
END
$$;
