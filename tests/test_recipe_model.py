"""The recipe model: validation, events, JSON round trip, errors naming fields."""

import json

import pytest

from napari_datatools.recipe import RECIPE_VERSION, Recipe, RecipeError


def _edited() -> Recipe:
    r = Recipe()
    r.data.image.path = "volume.h5"
    r.data.image.array_name = "raw"
    r.data.mask.layer = "labels"
    r.augment.rotation_range = 15
    r.augment.zoom_range = (0.9, 1.2)
    r.augment.crop_size = (48, 40)
    r.augment.fill_mode = "reflect"
    r.augment.spline_warp = True
    r.patches.mode = "grid"
    r.patches.class_list = [1, 3]
    r.patches.max_per_class = 100
    r.output.file_format = "zarr"
    r.loader.nb_proc_workers = 2
    return r


def test_json_round_trip_is_lossless(tmp_path):
    r = _edited()
    again = Recipe.from_json(r.to_json())
    assert again == r
    assert again.to_dict() == r.to_dict()
    r.save(tmp_path / "r.json")
    assert Recipe.load(tmp_path / "r.json") == r
    assert json.loads(r.to_json())["version"] == RECIPE_VERSION


def test_json_types_are_coerced():
    r = Recipe.from_dict({"augment": {"rotation_range": 10, "zoom_range": [1, 2]}})
    assert r.augment.rotation_range == 10.0 and isinstance(r.augment.rotation_range, float)
    assert r.augment.zoom_range == (1.0, 2.0)


def test_nested_changes_are_evented():
    r = Recipe()
    seen = []
    r.events.all.connect(lambda info: seen.append((tuple(map(str, info.path)), info.args[0])))
    r.augment.shear_range = 5
    r.data.image.layer = "cells"
    assert [p for p, _ in seen] == [(".augment", ".shear_range"), (".data", ".image", ".layer")]


@pytest.mark.parametrize(
    "section, name, value, message",
    [
        ("augment", "rotation_range", -1, r"augment.rotation_range: expected values in \[0, 180\]"),
        ("augment", "fill_mode", "wrap", "augment.fill_mode: expected one of"),
        ("augment", "zoom_range", (1.2, 0.9), "low <= high"),
        ("augment", "horizontal_flip", 1, "augment.horizontal_flip: expected true/false"),
        ("patches", "patchsize", 0, "patches.patchsize: expected values >= 1"),
        ("patches", "class_list", [1, "a"], r"patches.class_list\[1\]: expected an integer"),
        ("output", "file_format", "tiff", "output.file_format"),
        ("loader", "batch_size", 2.5, "loader.batch_size: expected an integer"),
    ],
)
def test_assignment_is_validated(section, name, value, message):
    r = Recipe()
    before = getattr(getattr(r, section), name)
    with pytest.raises(RecipeError, match=message):
        setattr(getattr(r, section), name, value)
    assert getattr(getattr(r, section), name) == before


@pytest.mark.parametrize(
    "data, message",
    [
        ({"augment": {"rotaton_range": 3}}, "augment: unknown field 'rotaton_range'"),
        ({"widgets": {}}, "unknown section 'widgets'"),
        ({"data": {"image": {"path": 3}}}, "data.image.path: expected a string, got 3"),
        ({"data": {"mask": {"file": "x"}}}, "data.mask: unknown field 'file'"),
        ({"version": 99}, "version"),
        ({"loader": []}, "loader: expected an object"),
    ],
)
def test_bad_files_name_the_field(data, message):
    with pytest.raises(RecipeError, match=message):
        Recipe.from_dict(data)


def test_missing_and_garbled_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.json"):
        Recipe.load(tmp_path / "nope.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(RecipeError, match="not valid JSON"):
        Recipe.load(tmp_path / "bad.json")


def test_snapshot_is_independent():
    r = _edited()
    snap = r.snapshot()
    r.augment.rotation_range = 90
    r.data.image.path = "other.h5"
    assert snap.augment.rotation_range == 15
    assert snap.data.image.path == "volume.h5"


def test_recipe_errors_are_the_errors_module_class():
    from napari_datatools import errors

    assert RecipeError is errors.RecipeError and issubclass(RecipeError, ValueError)
    with pytest.raises(errors.RecipeError, match="augment.seed"):
        Recipe.from_dict({"augment": {"seed": -1}})


def test_update_from_assigns_each_changed_field_and_keeps_the_sections():
    target, source = Recipe(), _edited()
    target.augment.seed = 5  # differs from source: reset to source's 0
    sections = (target.data, target.data.image, target.augment, target.patches)
    seen = []
    target.events.all.connect(lambda info: seen.append("".join(map(str, info.path))))
    target.update_from(source)
    assert target == source and target.to_dict() == source.to_dict()
    assert all(a is b for a, b in zip(
        sections, (target.data, target.data.image, target.augment, target.patches), strict=True))
    assert sorted(seen) == sorted([
        ".data.image.path", ".data.image.array_name", ".data.mask.layer",
        ".augment.rotation_range", ".augment.zoom_range", ".augment.crop_size",
        ".augment.fill_mode", ".augment.spline_warp", ".augment.seed", ".patches.mode",
        ".patches.class_list", ".patches.max_per_class", ".output.file_format",
        ".loader.nb_proc_workers",
    ])
    source.patches.class_list.append(9)  # the list was copied, not shared
    assert target.patches.class_list == [1, 3]
    seen.clear()
    target.update_from(source.snapshot())
    assert seen == [".patches.class_list"] and target.patches.class_list == [1, 3, 9]


def test_update_from_needs_a_recipe():
    with pytest.raises(TypeError, match="other must be a Recipe, got dict"):
        Recipe().update_from(_edited().to_dict())


def test_file_format_bcolz_is_read_and_stored_as_blosc2(tmp_path):
    r = Recipe.from_dict({"output": {"file_format": "bcolz"}})
    assert r.output.file_format == "blosc2"
    assert json.loads(r.to_json())["output"]["file_format"] == "blosc2"
    old = {"version": 1, "output": {"file_format": "bcolz"}}
    (tmp_path / "old.json").write_text(json.dumps(old))
    assert Recipe.load(tmp_path / "old.json").output.file_format == "blosc2"
    seen = []
    r = Recipe()
    r.output.events.file_format.connect(seen.append)
    r.output.file_format = "bcolz"  # a script using the original name
    assert r.output.file_format == "blosc2" and seen == ["blosc2"]
    r.output.file_format = "zarr"
    r.output.file_format = "blosc2"
    assert seen == ["blosc2", "zarr", "blosc2"]
    with pytest.raises(RecipeError, match="output.file_format: expected one of 'hdf5', 'zarr', "
                                          "'blosc2', got 'BCOLZ'"):
        r.output.file_format = "BCOLZ"
    with pytest.raises(RecipeError, match="output.file_format"):
        r.output.file_format = 3
