DROP TABLE login_attempts;
DROP TABLE staff;
DROP TABLE offices;
