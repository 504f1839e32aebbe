-- 0004 (PostgreSQL): the site and terminal columns are here since 0001 (the centre's
-- keys need them); `schema_version` is made by the migration runner before 0001.
-- What 0004 adds here: alerts. Every new emergency or hand-over, from any terminal,
-- is announced on the channel `xiaoan_alerts` in the inserting transaction (delivered
-- at its commit), so a staff screen waiting with LISTEN hears it within a round trip.
-- The payload names the record, never its content: {"site","terminal","number","kind"}.
CREATE FUNCTION xiaoan_alert_notify() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('xiaoan_alerts', json_build_object(
        'site', NEW.site, 'terminal', NEW.terminal,
        'number', NEW.number, 'kind', NEW.event_kind)::text);
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER events_alert AFTER INSERT ON events
    FOR EACH ROW EXECUTE FUNCTION xiaoan_alert_notify();
