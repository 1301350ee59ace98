DROP TABLE spent_challenges;
ALTER TABLE offices DROP COLUMN proof_of_work_cost;
ALTER TABLE offices DROP COLUMN proof_of_work;
