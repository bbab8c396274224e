"""Who may decide an appeal (bot.core.confirmation.may_decide_appeal), one test per rule."""

from bot.core.confirmation import may_decide_appeal

INSPECTOR, MANAGER_ABOVE, SITE_MANAGER, FILER, OTHER = 1, 2, 3, 4, 5


def test_the_inspector_and_a_manager_above_decide() -> None:
    common = {"filed_by": FILER, "is_site_manager": False}
    assert may_decide_appeal(INSPECTOR, is_inspector=True, is_manager_above=False, **common)
    assert may_decide_appeal(MANAGER_ABOVE, is_inspector=False, is_manager_above=True, **common)


def test_anyone_else_does_not() -> None:
    assert not may_decide_appeal(
        OTHER, filed_by=FILER, is_inspector=False, is_manager_above=False, is_site_manager=False
    )


def test_whoever_filed_the_appeal_never_decides_it() -> None:
    assert not may_decide_appeal(
        FILER, filed_by=FILER, is_inspector=True, is_manager_above=True, is_site_manager=False
    )


def test_a_project_manager_of_the_site_never_decides_even_when_also_above_or_inspector() -> None:
    assert not may_decide_appeal(
        SITE_MANAGER, filed_by=FILER, is_inspector=True, is_manager_above=True, is_site_manager=True
    )
