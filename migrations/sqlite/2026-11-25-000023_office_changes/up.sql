-- Every change to what applicants are offered names its office, so the instance that keeps
-- the offer in memory knows what to read again. `sportello_office_changed` is a function the
-- service registers on each of its connections (src/store/changes.rs); a tool that opens the
-- file without it cannot change these tables behind the service's back.

CREATE TRIGGER slots_offer_changed_on_insert AFTER INSERT ON slots
BEGIN
    SELECT sportello_office_changed(NEW.office_id);
END;
CREATE TRIGGER slots_offer_changed_on_update AFTER UPDATE ON slots
BEGIN
    SELECT sportello_office_changed(NEW.office_id);
END;
CREATE TRIGGER slots_offer_changed_on_delete AFTER DELETE ON slots
BEGIN
    SELECT sportello_office_changed(OLD.office_id);
END;
CREATE TRIGGER office_services_offer_changed_on_insert AFTER INSERT ON office_services
BEGIN
    SELECT sportello_office_changed(NEW.office_id);
END;
CREATE TRIGGER office_services_offer_changed_on_update AFTER UPDATE ON office_services
BEGIN
    SELECT sportello_office_changed(NEW.office_id);
END;
CREATE TRIGGER office_services_offer_changed_on_delete AFTER DELETE ON office_services
BEGIN
    SELECT sportello_office_changed(OLD.office_id);
END;
CREATE TRIGGER calendar_services_offer_changed_on_insert AFTER INSERT ON calendar_services
BEGIN
    SELECT sportello_office_changed(NEW.office_id);
END;
CREATE TRIGGER calendar_services_offer_changed_on_update AFTER UPDATE ON calendar_services
BEGIN
    SELECT sportello_office_changed(NEW.office_id);
END;
CREATE TRIGGER calendar_services_offer_changed_on_delete AFTER DELETE ON calendar_services
BEGIN
    SELECT sportello_office_changed(OLD.office_id);
END;
CREATE TRIGGER offices_offer_changed_on_insert AFTER INSERT ON offices
BEGIN
    SELECT sportello_office_changed(NEW.id);
END;
CREATE TRIGGER offices_offer_changed_on_update AFTER UPDATE ON offices
BEGIN
    SELECT sportello_office_changed(NEW.id);
END;
CREATE TRIGGER offices_offer_changed_on_delete AFTER DELETE ON offices
BEGIN
    SELECT sportello_office_changed(OLD.id);
END;
