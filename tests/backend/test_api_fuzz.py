"""Property-based fuzzing of the API from its own OpenAPI schema (schemathesis): no input gives a 5xx.

Every operation gets a bounded number of generated requests (valid and invalid bodies, parameters and
ids) against the API on a real Redis database (no worker: submitted runs stay queued).
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from backend.app import create_app
from labsettings import Settings

pytestmark = pytest.mark.slow

EXAMPLES = 25  # per operation; the whole fuzz stays under a minute on 2 cores


def test_no_generated_request_gives_a_server_error(redis_db, tmp_path):
    app_settings = Settings(_env_file=None, redis_url=redis_db(), data_dir=tmp_path, max_queued_per_client=50,
                            max_sweep_runs=8)
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", create_app(app_settings, reaper=False))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 12
    for operation in operations:

        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def check(case):
            case.call_and_validate(checks=[not_a_server_error, response_schema_conformance, status_code_conformance])

        check()
