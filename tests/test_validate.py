"""devtools.validate: the repository passes, and each check fails on a broken copy of it.

Every test breaks one thing in a copy of the repository under tmp_path and runs the check
there; nothing names the integration's modules (they are renamed freely).
"""

from __future__ import annotations

from collections.abc import Callable
import json
from pathlib import Path
import re
import shutil
from typing import Any

from PIL import Image
import pytest
import yaml

from devtools import validate

ROOT = Path(__file__).parent.parent
COPIED = (
    "custom_components",
    "blueprints",
    "scripts/gen_translations.py",
    "hacs.json",
    "LICENSE",
    "README.md",
    "pyproject.toml",
)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A copy of what the checks read."""
    for name in COPIED:
        source, target = ROOT / name, tmp_path / name
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, target)
    return tmp_path


def integration(repo: Path) -> Path:
    (found,) = validate.integrations(repo)
    return found.path


def edit_json(path: Path, change: Callable[[Any], Any]) -> None:
    """Change the JSON file's data in place (what `change` returns is ignored)."""
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data, indent=2) + "\n")


def edit_yaml(path: Path, change: Callable[[Any], Any]) -> None:
    """Change the YAML file's data in place (what `change` returns is ignored)."""
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def only(problems: list[str], pattern: str) -> None:
    """Some problems, all matching `pattern` (a regex): the broken input and nothing else."""
    assert problems
    assert all(re.search(pattern, p) for p in problems), problems


def test_the_repository_passes_every_check() -> None:
    assert validate.run() == {name: [] for name in validate.CHECKS}


def test_the_copy_passes_too(repo: Path) -> None:
    """The copy is complete, so a failure below is the broken input's alone."""
    assert validate.run(repo) == {name: [] for name in validate.CHECKS}


def test_main_prints_each_problem_and_fails(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert validate.main([str(repo)]) == 0
    (repo / "LICENSE").unlink()
    assert validate.main([str(repo)]) == 1
    out = capsys.readouterr().out
    assert "hacs: 1 problem(s)\n  - no LICENSE file" in out
    assert "manifest: ok" in out


# --- dependencies ---------------------------------------------------------------------------


def manifest(repo: Path) -> Path:
    return integration(repo) / "manifest.json"


def test_an_import_missing_from_the_manifest_fails(repo: Path) -> None:
    """The hassfest failure this check was written for: assist_pipeline imported, not listed."""
    edit_json(manifest(repo), lambda m: m["dependencies"].remove("assist_pipeline"))
    problems = validate.check_dependencies(repo)
    assert problems
    assert all(
        "imports homeassistant.components.assist_pipeline, which is in neither" in p
        for p in problems
    )


def test_an_after_dependency_satisfies_an_import(repo: Path) -> None:
    def move(m: dict[str, Any]) -> None:
        m["dependencies"].remove("assist_pipeline")
        m["after_dependencies"].append("assist_pipeline")

    edit_json(manifest(repo), move)
    assert validate.check_dependencies(repo) == []


def test_imports_anywhere_in_the_package_count(repo: Path) -> None:
    sub = integration(repo) / "new_subpackage"
    sub.mkdir()
    (sub / "__init__.py").write_text("")
    (sub / "deep.py").write_text("def f():\n    import homeassistant.components.zha as zha\n")
    only(validate.check_dependencies(repo), r"new_subpackage/deep\.py imports .*\.zha,")


def test_what_hassfest_allows_without_listing(repo: Path) -> None:
    """TYPE_CHECKING-only imports, always-allowed components, our own platform for a domain."""
    path = integration(repo)
    (path / "typing_only.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from homeassistant.components.zha import api\n"
        "from homeassistant.components import persistent_notification, sensor\n"
        "from homeassistant.components.http.auth import async_sign_path\n"
    )
    (path / "mqtt.py").write_text("from homeassistant.components.mqtt import subscription\n")
    assert validate.check_dependencies(repo) == []


def test_stale_duplicate_and_unknown_entries_fail(repo: Path) -> None:
    def change(m: dict[str, Any]) -> None:
        m["dependencies"] += ["light", "no_such_integration"]
        m["after_dependencies"].append("http")

    edit_json(manifest(repo), change)
    problems = validate.check_dependencies(repo)
    assert len(problems) == 3, problems
    assert any("'dependencies' lists light, but nothing imports" in p for p in problems)
    assert any("no_such_integration, no such integration" in p for p in problems)
    assert any("http is in both" in p for p in problems)


# --- manifest.json --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "pattern"),
    [
        (lambda m: m.pop("codeowners"), r"required key not provided at 'codeowners'"),
        (lambda m: m.update(zeroconfs=[]), r"\(hassfest\): not a valid option.* at 'zeroconfs'"),
        (lambda m: m.pop("issue_tracker"), r"\(HACS\): required key not provided.*issue_tracker"),
        (lambda m: m.update(iot_class="cloud"), r"\(hassfest\): value must be one of"),
        (
            lambda m: m.update(documentation="https://www.home-assistant.io/integrations/x"),
            r"should point to the custom integration documentation",
        ),
        (lambda m: m.update(codeowners=["somebody"]), r"'somebody' is not a GitHub @handle"),
        (lambda m: m.update(version="0.2.0"), r"differs from pyproject.toml's '0.1.0'"),
        (lambda m: m.update(name=m.pop("name")), r"keys not sorted"),
    ],
)
def test_a_broken_manifest_fails(
    repo: Path, change: Callable[[dict[str, Any]], Any], pattern: str
) -> None:
    edit_json(manifest(repo), change)
    only(validate.check_manifest(repo), pattern)


def test_a_manifest_needs_a_version_and_its_folder_name(repo: Path) -> None:
    edit_json(manifest(repo), lambda m: m.update(domain="other") or m.pop("version"))
    problems = validate.check_manifest(repo)
    assert any("(HACS): required key not provided at 'version'" in p for p in problems)
    assert any("no version" in p for p in problems)
    assert any("does not match the folder name" in p for p in problems)


# --- hacs.json, LICENSE ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "pattern"),
    [
        (lambda h: h.update(render_readme_please=True), r"not a valid option"),
        (lambda h: h.pop("name"), r"required key not provided"),
        (lambda h: h.update(zip_release=True), r"zip_release is true, but filename is not set"),
        (lambda h: h.update(homeassistant="2099.1.0"), r"newer than the Home Assistant"),
        (lambda h: h.update(country="Germany"), r"not a country code"),
    ],
)
def test_a_broken_hacs_json_fails(
    repo: Path, change: Callable[[dict[str, Any]], Any], pattern: str
) -> None:
    edit_json(repo / "hacs.json", change)
    only(validate.check_hacs(repo), pattern)


def test_the_license_must_be_there_and_match_pyproject(repo: Path) -> None:
    (repo / "LICENSE").write_text("Apache License\nVersion 2.0\n")
    only(validate.check_hacs(repo), r"pyproject.toml says MIT, the text is not MIT's")
    (repo / "LICENSE").unlink()
    only(validate.check_hacs(repo), r"no LICENSE file")


# --- services.yaml --------------------------------------------------------------------------


def first_action(repo: Path) -> tuple[Path, str, str]:
    """services.yaml, its first action and that action's first plain field."""
    path = integration(repo) / "services.yaml"
    data = yaml.safe_load(path.read_text())
    action = next(iter(data))
    field = next(k for k, v in data[action]["fields"].items() if "fields" not in v)
    return path, action, field


def test_a_bad_selector_fails_as_home_assistant_loads_it(repo: Path) -> None:
    path, action, field = first_action(repo)
    edit_yaml(path, lambda d: None)  # the YAML round trip alone breaks nothing
    assert validate.check_services(repo) == []
    edit_yaml(path, lambda d: d[action]["fields"][field].update(selector={"no_such": {}}))
    problems = validate.check_services(repo)
    assert any(p.startswith(f"{path.relative_to(repo)} (HA): ") for p in problems), problems
    only(problems, rf"{action}\.fields\.{field}|Unknown selector type no_such")


def test_a_field_hassfest_does_not_know_fails(repo: Path) -> None:
    path, action, field = first_action(repo)
    edit_yaml(path, lambda d: d[action]["fields"][field].update(filter={"supported_features": []}))
    only(validate.check_services(repo), rf"\(hassfest\): .* at '{action}\.fields\.{field}\.filter'")


def test_an_action_without_texts_or_icon_fails(repo: Path) -> None:
    _, action, field = first_action(repo)
    edit_json(
        integration(repo) / "strings.json",
        lambda s: s["services"][action]["fields"][field].pop("description"),
    )
    only(validate.check_services(repo), rf"field {field} has no description in strings\.json")
    edit_json(integration(repo) / "icons.json", lambda i: i["services"].pop(action))
    assert any("has no icon in icons.json" in p for p in validate.check_services(repo))


def test_texts_of_an_action_that_does_not_exist_fail(repo: Path) -> None:
    path, action, _ = first_action(repo)
    edit_yaml(path, lambda d: d.update(renamed=d.pop(action)))
    problems = validate.check_services(repo)
    assert f"strings.json describes action {action}, which services.yaml lacks" in problems
    assert any("action renamed has no name" in p for p in problems)


# --- strings.json ---------------------------------------------------------------------------


def strings(repo: Path) -> Path:
    return integration(repo) / "strings.json"


def regenerate(repo: Path) -> None:
    """en.json as gen_translations.py writes it, so only the strings.json rule fails."""
    english = integration(repo) / "translations" / "en.json"
    generator = validate._load_generator(repo)
    assert generator is not None
    english.write_text(json.dumps(generator.resolve(json.loads(strings(repo).read_text()))))


@pytest.mark.parametrize(
    ("change", "pattern"),
    [
        (lambda s: s.update(exception={}), r"not a valid option, did you mean 'exceptions'\?"),
        (
            lambda s: s["exceptions"].update(x={"message": "Use '{entity_id}' here."}),
            r"placeholders inside single quotes",
        ),
        (
            lambda s: s.update(selector={"model": {"options": {"gpt-realtime-1.5": "x"}}}),
            r"Invalid translation key 'gpt-realtime-1\.5'",
        ),
        (
            lambda s: s["config"]["step"]["user"]["data_description"].update(nope="Nope."),
            r"data_description key nope is not in data",
        ),
    ],
)
def test_a_broken_strings_json_fails(
    repo: Path, change: Callable[[dict[str, Any]], Any], pattern: str
) -> None:
    edit_json(strings(repo), change)
    regenerate(repo)
    problems = validate.check_strings(repo)
    # strings.json, and en.json generated from it, both fail
    assert len(problems) == 2, problems
    assert all(re.search(pattern, p) for p in problems), problems


def test_a_stale_en_json_fails(repo: Path) -> None:
    edit_json(strings(repo), lambda s: s["config"]["step"]["user"].update(title="Changed"))
    only(validate.check_strings(repo), r"en\.json is not what scripts/gen_translations\.py makes")


def test_a_reference_that_does_not_resolve_fails(repo: Path) -> None:
    edit_json(
        strings(repo),
        lambda s: s["config"]["error"].update(x="[%key:common::config_flow::error::nope%]"),
    )
    only(validate.check_strings(repo), r"config::error::x: reference .*::nope does not resolve")


def test_an_exception_key_the_code_raises_must_exist(repo: Path) -> None:
    (integration(repo) / "raises.py").write_text(
        "from homeassistant.exceptions import HomeAssistantError\n"
        "def f():\n"
        "    raise HomeAssistantError(translation_domain='x', translation_key='not_there')\n"
    )
    only(validate.check_strings(repo), r"raises\.py:3: exception translation key not_there")


# --- icons.json -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "pattern"),
    [
        (lambda i: i["services"].update(x={"service": "key-chain"}), r"start with `mdi:`"),
        (lambda i: i.update(servics={}), r"not a valid option.* at 'servics'"),
        (
            lambda i: i["entity"]["assist_satellite"]["voice"].update(
                state={"idle": i["entity"]["assist_satellite"]["voice"]["default"]}
            ),
            r"same as the default icon",
        ),
    ],
)
def test_a_broken_icons_json_fails(
    repo: Path, change: Callable[[dict[str, Any]], Any], pattern: str
) -> None:
    edit_json(integration(repo) / "icons.json", change)
    only(validate.check_icons(repo), pattern)


# --- blueprints -----------------------------------------------------------------------------


def a_blueprint(repo: Path, domain: str = "automation") -> Path:
    return sorted((repo / "blueprints" / domain).rglob("*.yaml"))[0]


@pytest.mark.parametrize("domain", ["automation", "script"])
def test_an_undeclared_input_fails_as_home_assistant_loads_it(repo: Path, domain: str) -> None:
    path = a_blueprint(repo, domain)
    text = path.read_text()
    path.write_text(re.sub(r"!input \w+", "!input undeclared_input", text, count=1))
    only(validate.check_blueprints(repo), r"Missing input definition for undeclared_input")


def test_a_blueprint_with_a_bad_selector_or_domain_fails(repo: Path) -> None:
    path = a_blueprint(repo)
    text = path.read_text()
    path.write_text(re.sub(r"(selector:\n\s+)\w+:", r"\1no_such_selector:", text, count=1))
    only(validate.check_blueprints(repo), r"Unknown selector type no_such_selector")
    path.write_text(text.replace("domain: automation", "domain: script", 1))
    only(validate.check_blueprints(repo), r"Found incorrect blueprint type script")


def test_a_blueprint_must_point_at_itself_and_need_our_home_assistant(repo: Path) -> None:
    path = a_blueprint(repo)
    text = path.read_text()
    path.write_text(re.sub(r"(source_url: \S+)/", r"\1/moved/", text, count=1))
    only(validate.check_blueprints(repo), r"source_url .* is not this file on GitHub")
    path.write_text(re.sub(r'min_version: "[^"]+"', 'min_version: "2025.1.0"', text, count=1))
    only(validate.check_blueprints(repo), r"min_version 2025\.1\.0 is below .*hacs\.json")
    path.write_text(re.sub(r'min_version: "[^"]+"', 'min_version: "2099.1.0"', text, count=1))
    only(validate.check_blueprints(repo), r"Requires at least Home Assistant 2099\.1\.0")


# --- brand/ ---------------------------------------------------------------------------------


def brand(repo: Path) -> Path:
    return integration(repo) / "brand"


def test_a_wrong_size_or_format_fails(repo: Path) -> None:
    icon = brand(repo) / "icon.png"
    with Image.open(icon) as image:
        image.resize((300, 300)).save(icon)
    only(validate.check_brand(repo), r"icon\.png: 300x300 px, must be 256x256")
    with Image.open(brand(repo) / "icon@2x.png") as image:
        image.resize((256, 256)).convert("RGB").save(icon, format="JPEG")
    assert any("icon.png: a JPEG file, not PNG" in p for p in validate.check_brand(repo))


def test_an_opaque_or_untrimmed_icon_fails(repo: Path) -> None:
    icon = brand(repo) / "icon.png"
    with Image.open(icon) as image:
        white = Image.new("RGBA", image.size, "white")
        Image.alpha_composite(white, image).save(icon)
        only(validate.check_brand(repo), r"icon\.png: no transparent background")
        framed = Image.new("RGBA", image.size, (0, 0, 0, 0))
        framed.paste(image.resize((200, 200)), (28, 28))
        framed.save(icon)
    only(validate.check_brand(repo), r"icon\.png: not trimmed")


def test_brand_files_home_assistant_would_not_serve_fail(repo: Path) -> None:
    shutil.copy(brand(repo) / "icon.png", brand(repo) / "logo.svg")
    shutil.copy(brand(repo) / "icon.png", brand(repo) / "dark_icon.png")
    problems = validate.check_brand(repo)
    assert any("logo.svg: HA serves no brand image of this name" in p for p in problems)
    assert any("dark_icon.png: identical to icon.png" in p for p in problems)
    (brand(repo) / "icon.png").unlink()
    only(validate.check_brand(repo), r"icon\.png: missing")


def test_an_icon_at_2x_needs_its_normal_version(repo: Path) -> None:
    (brand(repo) / "dark_icon.png").unlink()
    only(validate.check_brand(repo), r"dark_icon@2x\.png: an @2x image needs its normal version")


# --- quality_scale.yaml ---------------------------------------------------------------------


def quality_scale(repo: Path) -> Path:
    return integration(repo) / "quality_scale.yaml"


def test_a_done_rule_the_code_denies_fails(repo: Path) -> None:
    """The claim this check was written for: integration-owner done, codeowners empty."""
    edit_json(manifest(repo), lambda m: m.update(codeowners=[]))
    only(
        validate.check_quality_scale(repo),
        r"integration-owner is done, but manifest\.json has no codeowners",
    )


@pytest.mark.parametrize(
    ("break_code", "pattern"),
    [
        (lambda p: shutil.rmtree(p / "brand"), r"brands is done, but no brand/icon\.png"),
        (
            lambda p: (p / "raises.py").write_text(
                "from homeassistant.exceptions import HomeAssistantError\n"
                "raise HomeAssistantError('untranslated')\n"
            ),
            r"exception-translations is done, but untranslated errors raised at .*raises\.py:2",
        ),
        (
            lambda p: (p / "new_entities.py").write_text(
                "from homeassistant.helpers.entity import Entity\nclass Plain(Entity):\n    pass\n"
            ),
            r"has-entity-name is done, but Plain set none of",
        ),
    ],
)
def test_done_claims_are_probed(
    repo: Path, break_code: Callable[[Path], Any], pattern: str
) -> None:
    break_code(integration(repo))
    problems = validate.check_quality_scale(repo)
    assert any(re.search(pattern, p) for p in problems), problems


@pytest.mark.parametrize(
    ("change", "pattern"),
    [
        (lambda q: q["rules"].update({"no-such-rule": "done"}), r"not a valid option"),
        # exempt needs a comment
        (lambda q: q["rules"].update(discovery={"status": "exempt"}), r"rules\.discovery\.status"),
        (lambda q: q["rules"].pop("diagnostics"), r"rule diagnostics is not listed"),
    ],
)
def test_a_broken_quality_scale_fails(
    repo: Path, change: Callable[[dict[str, Any]], Any], pattern: str
) -> None:
    edit_yaml(quality_scale(repo), change)
    only(validate.check_quality_scale(repo), pattern)


def test_entity_bases_are_checked_through_their_subclasses(repo: Path) -> None:
    """A shared base (device info, unique id) is no entity; the classes built on it are."""
    (integration(repo) / "base_entities.py").write_text(
        "from homeassistant.helpers.entity import Entity\n"
        "class Base(Entity):\n    _attr_has_entity_name = True\n    _attr_unique_id = 'x'\n"
        "class Good(Base):\n    _attr_translation_key = 'good'\n"
        "class Bad(Base):\n    pass\n"
    )
    problems = validate.check_quality_scale(repo)
    assert any(re.search(r"entity-translations is done, but Bad set none of", p) for p in problems)
    assert not any("Base" in p or "Good" in p for p in problems), problems
