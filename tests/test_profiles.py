import pytest

from cnncourse import profiles


def test_every_profile_defines_the_same_sections_and_keys():
    reference = profiles.PROFILES["class"]
    for name, table in profiles.PROFILES.items():
        assert table.keys() == reference.keys(), name
        for section, values in table.items():
            assert values.keys() == reference[section].keys(), (name, section)


def test_quick_is_never_bigger_than_class():
    for section, values in profiles.PROFILES["quick"].items():
        for key, value in values.items():
            big = profiles.PROFILES["class"][section][key]
            if isinstance(value, (int, float)):
                assert value <= big, (section, key)
            elif isinstance(value, tuple):
                assert all(a <= b for a, b in zip(value, big)), (section, key)


def test_default_is_class_and_env_selects(monkeypatch):
    monkeypatch.delenv("CNNCOURSE_PROFILE", raising=False)
    assert profiles.current_name() == "class"
    monkeypatch.setenv("CNNCOURSE_PROFILE", " Quick ")
    assert profiles.current_name() == "quick"
    assert profiles.settings("data").cats_vs_dogs_split == (100, 50, 50)


def test_settings_are_read_only_with_helpful_errors():
    s = profiles.settings("data", "class")
    assert s.cats_vs_dogs_split == (1000, 500, 500)
    with pytest.raises(AttributeError, match="known"):
        _ = s.epochs
    with pytest.raises(TypeError):
        s["cats_vs_dogs_split"] = (1, 1, 1)
    assert profiles.settings("no_such_notebook", "class") == {}
