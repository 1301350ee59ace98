DROP TABLE closure_jobs;
