DROP TRIGGER offices_offer_changed ON offices;
DROP TRIGGER calendar_services_offer_changed ON calendar_services;
DROP TRIGGER office_services_offer_changed ON office_services;
DROP TRIGGER slots_offer_changed ON slots;
DROP FUNCTION sportello_office_row_changed();
DROP FUNCTION sportello_row_changed();
DROP FUNCTION sportello_mark_office(BIGINT);
