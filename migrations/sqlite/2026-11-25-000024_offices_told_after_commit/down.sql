-- PostgreSQL only (how instances tell each other of changes); an SQLite file has one instance.
-- The versions stay the same on both backends.
SELECT 1;
