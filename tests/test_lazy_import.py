"""Importing the package loads no TR model module; a group loads only its own."""

from __future__ import annotations

import json
import subprocess
import sys

from .conftest import ROOT

PROBE = """
import json, sys
def models():
    prefix = "kiwoom_async._generated.models."
    return sorted(m[len(prefix):] for m in sys.modules if m.startswith(prefix))
steps = {}
import kiwoom_async
from kiwoom_async import Kiwoom
steps["import"] = models()
kw = Kiwoom("appkey", "secretkey")
kw.stock
kw.us.quote
steps["groups"] = models()
steps["by_name"] = kiwoom_async.models.OrderBook.__module__
steps["after_by_name"] = models()
print(json.dumps(steps))
"""


def test_importing_the_package_loads_no_tr_models_and_a_group_only_its_own() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, cwd=ROOT
    )
    steps = json.loads(result.stdout)
    assert steps["import"] == []
    assert steps["groups"] == ["stock", "us_quote"]
    assert steps["by_name"] == "kiwoom_async._generated.models.quote"
    assert steps["after_by_name"] == ["quote", "stock", "us_quote"]
