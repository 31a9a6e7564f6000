"""Federation members register as operators; commission increases and deregistration wait for
the delay, so delegators can leave first."""

from .conftest import COMMISSION_BPS, PARAMS, advance, ok


def test_members_are_registered_with_url_and_commission(restaking, operators):
    entry = restaking.registry.call("entries", operators[1].address)
    assert entry[0] == "https://operator1.example"
    assert entry[1] is True
    assert restaking.registry.call("commission_of", operators[1].address) == COMMISSION_BPS
    assert restaking.registry.call("operators") == tuple(o.address.lower() for o in operators)


def test_registration_is_refused_with_reasons(restaking, operators, outsider):
    registry = restaking.registry
    refused = registry.transact(outsider, "register", "https://x.example", 0)
    assert refused.revert_reason == "not a federation member"
    refused = registry.transact(operators[0], "register", "https://x.example", 0)
    assert refused.revert_reason == "operator already registered"
    assert registry.transact(outsider, "deregister").revert_reason == "not an operator"


def test_commission_increase_waits_for_the_delay_and_decrease_is_immediate(
    restaking, evm, operators
):
    registry, operator = restaking.registry, operators[0]
    assert registry.transact(operator, "set_commission", 10_001).revert_reason == (
        "commission above 10000 basis points"
    )
    ok(registry.transact(operator, "set_commission", 3_000))
    assert registry.call("commission_of", operator.address) == COMMISSION_BPS
    advance(evm, PARAMS.registry_delay)
    assert registry.call("commission_of", operator.address) == 3_000

    ok(registry.transact(operator, "set_commission", 500))
    assert registry.call("commission_of", operator.address) == 500


def test_deregistration_takes_effect_after_the_delay_and_allows_coming_back(
    restaking, evm, operators, stakers
):
    registry, operator = restaking.registry, operators[2]
    ok(registry.transact(operator, "deregister"))
    assert registry.transact(operator, "deregister").revert_reason == (
        "deregistration already scheduled"
    )
    advance(evm, PARAMS.registry_delay - 1)
    assert registry.call("is_active", operator.address)
    advance(evm, 1)
    assert not registry.call("is_active", operator.address)
    assert restaking.stake_btc(stakers[0], operator, 10).revert_reason == "operator not active"

    ok(registry.transact(operator, "register", "https://back.example", 0))
    assert registry.call("is_active", operator.address)
    assert len(registry.call("operators")) == 3
