DROP TABLE case_readiness;
DROP TABLE registered_cases;
