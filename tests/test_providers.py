"""Model providers: spec parsing, and the openai provider over real HTTP to a local server."""

from __future__ import annotations

import pytest

from opsgraph.models import ModelSpecError, load_chat_model, parse_model_spec
from opsgraph.runner import open_runner
from tests.conftest import make_settings
from tests.support.fake_openai import FakeOpenAIServer


@pytest.mark.parametrize("spec", ["gpt-4o", "anthropic:claude", "openai:", "", None])
def test_bad_model_specs_are_clear_errors(spec):
    with pytest.raises(ModelSpecError):
        parse_model_spec(spec)


def test_openai_provider_honours_base_url():
    model = load_chat_model("openai:my-local-model", base_url="http://127.0.0.1:9/v1")
    assert model.model_name == "my-local-model"
    assert str(model.openai_api_base).startswith("http://127.0.0.1:9")


def test_supply_chain_runs_over_openai_compatible_http(tmp_path):
    with FakeOpenAIServer() as server:
        settings = make_settings(tmp_path / "home", OPENAI_BASE_URL=server.base_url,
                                 OPSGRAPH_SMALL_MODEL="openai:local-small", OPSGRAPH_LARGE_MODEL="openai:local-large")
        with open_runner(settings, with_knowledge=False) as runner:
            event = {"event": {"shipment_id": "SH-0001", "delay_days": 5, "description": "SH-0001 is 5 days late"}}
            first = runner.start("supply_chain_exception", event, thread_id="http-1")
            assert first.status == "awaiting_approval"
            done = runner.resume("http-1", {"decision": "approve"})
            pos = runner.context.world.erp.list_purchase_orders()["purchase_orders"]
    assert done.status == "completed"
    assert any(p["approved_by"] == "operator" for p in pos)
    models = {r["model"] for r in server.requests}
    assert models == {"local-small", "local-large"}  # procurement's default tier is large
    assert any("create_purchase_order" in r["tools"] for r in server.requests)
    assert done.report["customers_notified"]
    tiers = {c["model"] for c in done.values["calls"]}
    assert tiers == {"openai:local-small", "openai:local-large"}
    assert all(c["input_tokens"] > 0 for c in done.values["calls"])  # usage came back over HTTP
