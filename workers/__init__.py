"""Queue consumers: run a spec, publish its records to Redis, honour cancel, archive; `client` submits and reads."""
