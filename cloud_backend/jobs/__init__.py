"""Processing jobs: the queue in the database, the embedded worker and the job runner."""
