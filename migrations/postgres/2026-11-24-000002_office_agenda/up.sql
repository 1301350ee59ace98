-- The office agenda: offices' public details and stage, the national catalogue of
-- appointment types, the services each office offers, calendars of desks with weekly hours,
-- closures, published slots, and the audit log of configuration changes.

ALTER TABLE offices ADD COLUMN address TEXT NOT NULL DEFAULT '';
ALTER TABLE offices ADD COLUMN city TEXT NOT NULL DEFAULT '';
ALTER TABLE offices ADD COLUMN province TEXT NOT NULL DEFAULT '';
ALTER TABLE offices ADD COLUMN latitude DOUBLE PRECISION;
ALTER TABLE offices ADD COLUMN longitude DOUBLE PRECISION;
ALTER TABLE offices ADD COLUMN timezone TEXT NOT NULL DEFAULT 'Europe/Rome';
ALTER TABLE offices ADD COLUMN email TEXT;
ALTER TABLE offices ADD COLUMN phone TEXT;
-- JSON array of language codes, e.g. ["it","en"].
ALTER TABLE offices ADD COLUMN languages TEXT NOT NULL DEFAULT '["it"]';
-- The patron saint's day as MM-DD (Rome: 06-29), when the office is closed.
ALTER TABLE offices ADD COLUMN patron_day TEXT;
ALTER TABLE offices ADD COLUMN stage TEXT NOT NULL DEFAULT 'draft' CHECK (stage IN ('draft', 'preview', 'pilot', 'live', 'suspended'));
ALTER TABLE offices ADD COLUMN updated_at TIMESTAMP NOT NULL DEFAULT '1970-01-01 00:00:00';
UPDATE offices SET updated_at = created_at;

CREATE TABLE appointment_types (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    -- JSON objects by language: {"it": "...", "en": "..."}; documents: {"it": ["..."]}.
    names TEXT NOT NULL,
    descriptions TEXT NOT NULL,
    documents TEXT NOT NULL,
    default_duration_minutes INTEGER NOT NULL CHECK (default_duration_minutes BETWEEN 5 AND 480),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE office_services (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    office_id BIGINT NOT NULL REFERENCES offices (id),
    appointment_type_id BIGINT NOT NULL REFERENCES appointment_types (id),
    -- NULL: the type's default duration.
    duration_minutes INTEGER CHECK (duration_minutes BETWEEN 5 AND 480),
    invite_only BOOLEAN NOT NULL DEFAULT FALSE,
    min_notice_hours INTEGER NOT NULL CHECK (min_notice_hours >= 0),
    horizon_days INTEGER NOT NULL CHECK (horizon_days BETWEEN 1 AND 730),
    desk_share_percent INTEGER NOT NULL CHECK (desk_share_percent BETWEEN 0 AND 100),
    -- Turned off services stay, so that their bookings remain valid.
    active BOOLEAN NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (office_id, appointment_type_id)
);

CREATE TABLE calendars (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    office_id BIGINT NOT NULL REFERENCES offices (id),
    name TEXT NOT NULL,
    desks INTEGER NOT NULL CHECK (desks BETWEEN 1 AND 500),
    valid_from DATE,
    valid_until DATE,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    CHECK (valid_from IS NULL OR valid_until IS NULL OR valid_from <= valid_until)
);
CREATE INDEX calendars_office_id ON calendars (office_id);

CREATE TABLE calendar_services (
    calendar_id BIGINT NOT NULL REFERENCES calendars (id) ON DELETE CASCADE,
    office_service_id BIGINT NOT NULL REFERENCES office_services (id),
    PRIMARY KEY (calendar_id, office_service_id)
);
CREATE INDEX calendar_services_service ON calendar_services (office_service_id);

CREATE TABLE opening_hours (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    calendar_id BIGINT NOT NULL REFERENCES calendars (id) ON DELETE CASCADE,
    weekday INTEGER NOT NULL CHECK (weekday BETWEEN 1 AND 7),
    -- Minutes after local midnight.
    opens_minute INTEGER NOT NULL CHECK (opens_minute BETWEEN 0 AND 1439),
    closes_minute INTEGER NOT NULL CHECK (closes_minute BETWEEN 1 AND 1439),
    CHECK (opens_minute < closes_minute)
);
CREATE INDEX opening_hours_calendar ON opening_hours (calendar_id);

CREATE TABLE closures (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    office_id BIGINT NOT NULL REFERENCES offices (id),
    starts_on DATE NOT NULL,
    ends_on DATE NOT NULL,
    -- Both NULL: whole days. Otherwise the closed window of each day, in local minutes.
    start_minute INTEGER CHECK (start_minute BETWEEN 0 AND 1439),
    end_minute INTEGER CHECK (end_minute BETWEEN 1 AND 1439),
    reason TEXT NOT NULL,
    created_by BIGINT REFERENCES staff (id),
    created_at TIMESTAMP NOT NULL,
    CHECK (starts_on <= ends_on),
    CHECK ((start_minute IS NULL) = (end_minute IS NULL)),
    CHECK (start_minute IS NULL OR start_minute < end_minute)
);
CREATE INDEX closures_office_ends ON closures (office_id, ends_on);

-- One row per published slot of a calendar: the seats, and how many each channel has taken.
-- The CHECK is the last line against overselling: no code path can book past capacity.
CREATE TABLE slots (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    office_id BIGINT NOT NULL REFERENCES offices (id),
    calendar_id BIGINT NOT NULL REFERENCES calendars (id),
    local_date DATE NOT NULL,
    starts_at TIMESTAMP NOT NULL,
    ends_at TIMESTAMP NOT NULL,
    capacity INTEGER NOT NULL CHECK (capacity >= 0),
    held_for_desk INTEGER NOT NULL CHECK (held_for_desk >= 0 AND held_for_desk <= capacity),
    booked_web INTEGER NOT NULL DEFAULT 0 CHECK (booked_web >= 0),
    booked_desk INTEGER NOT NULL DEFAULT 0 CHECK (booked_desk >= 0),
    blocked BOOLEAN NOT NULL DEFAULT FALSE,
    block_reason TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (calendar_id, starts_at),
    CHECK (booked_web + booked_desk <= capacity),
    CHECK (starts_at < ends_at)
);
CREATE INDEX slots_office_starts ON slots (office_id, starts_at);
CREATE INDEX slots_calendar_day ON slots (calendar_id, local_date);

-- Who changed what, when, with the state before and after (JSON).
CREATE TABLE audit_log (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    office_id BIGINT REFERENCES offices (id),
    actor_id BIGINT REFERENCES staff (id),
    action TEXT NOT NULL,
    entity TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    before TEXT,
    after TEXT,
    at TIMESTAMP NOT NULL
);
CREATE INDEX audit_log_office ON audit_log (office_id, id);

-- The national catalogue as shipped; the administration can edit and extend it.
INSERT INTO appointment_types (code, names, descriptions, documents, default_duration_minutes, created_at, updated_at) VALUES
('document_delivery',
 '{"it":"Acquisizione documentazione e firma del contratto di soggiorno","en":"Document delivery and signing of the residence contract"}',
 '{"it":"Consegna dei documenti originali della pratica di nulla osta al lavoro e firma del contratto di soggiorno con il datore di lavoro.","en":"Hand in the original documents of your work clearance case and sign the residence contract with your employer."}',
 '{"it":["Passaporto in corso di validità con il visto d''ingresso (originale e copia)","Codice fiscale","Marca da bollo da 16 euro","Lettera di convocazione o ricevuta della domanda","Documento d''identità del datore di lavoro"],"en":["Valid passport with the entry visa (original and copy)","Italian tax code (codice fiscale)","A 16 euro revenue stamp (marca da bollo)","The invitation letter or the receipt of the application","The employer''s identity document"]}',
 30, timezone('UTC', now()), timezone('UTC', now())),
('permit_collection',
 '{"it":"Consegna del nulla osta","en":"Collection of the clearance (nulla osta)"}',
 '{"it":"Ritiro del nulla osta rilasciato dallo Sportello Unico.","en":"Collect the clearance issued by the one-stop office."}',
 '{"it":["Passaporto in corso di validità","Conferma dell''appuntamento","Delega firmata, se si ritira per conto di altri"],"en":["Valid passport","The appointment confirmation","A signed proxy, when collecting on someone else''s behalf"]}',
 15, timezone('UTC', now()), timezone('UTC', now())),
('family_reunification_delivery',
 '{"it":"Consegna documentazione per il ricongiungimento familiare","en":"Document delivery for family reunification"}',
 '{"it":"Consegna dei documenti per la domanda di nulla osta al ricongiungimento familiare.","en":"Hand in the documents for your family reunification clearance application."}',
 '{"it":["Permesso di soggiorno e passaporto del richiedente (originali e copie)","Certificato di idoneità alloggiativa","Documentazione del reddito (ultima dichiarazione dei redditi, buste paga)","Certificati di stato civile o di famiglia tradotti e legalizzati","Marca da bollo da 16 euro"],"en":["The applicant''s residence permit and passport (originals and copies)","Housing suitability certificate (idoneità alloggiativa)","Proof of income (last tax return, pay slips)","Civil status or family certificates, translated and legalised","A 16 euro revenue stamp (marca da bollo)"]}',
 30, timezone('UTC', now()), timezone('UTC', now())),
('information',
 '{"it":"Sportello informativo","en":"Information desk"}',
 '{"it":"Orientamento sullo Sportello Unico e sui servizi del territorio: anagrafe, servizi sociali, casa, questura, centro per l''impiego, corsi di lingua e mediazione.","en":"Orientation on the one-stop office and local services: registry office, social services, housing, police immigration office, employment centre, language courses and mediation."}',
 '{"it":["Passaporto o documento d''identità","Documenti relativi alla propria pratica, se presente"],"en":["Passport or identity document","Any documents about your case"]}',
 15, timezone('UTC', now()), timezone('UTC', now()));
