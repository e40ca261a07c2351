"""Generated code: every module in this package is written by a generator in
tools/ from the API fact base (spec/kiwoom-api.json). Do not edit: change the generator and run
``python tools/refresh_spec.py``. tests/test_generated.py fails when a file here differs
from what its generator writes."""
