"""Schemathesis: requests generated from the OpenAPI spec never cause a server error or an undocumented answer.

The check that schema-valid data is accepted is left out: random bytes in the ``image`` field are
schema-valid but not an image, and are rightly answered 400.
"""

import schemathesis
from hypothesis import HealthCheck, given, settings

from drywallqa import Segmenter
from drywallqa.serve import ServeConfig, create_app


def test_api_conforms_to_its_spec(tiny_model_dir):
    app = create_app(ServeConfig(max_upload_mb=1), Segmenter.load(tiny_model_dir))
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [op.ok() for op in schema.get_all_operations()]
    assert {f"{op.method.upper()} {op.path}" for op in operations} >= {"POST /v1/segment", "GET /v1/models", "GET /healthz"}
    for op in operations:

        @given(case=op.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None)
        def check(case):
            case.call_and_validate(excluded_checks=[schemathesis.checks.positive_data_acceptance])

        check()
