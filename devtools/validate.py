"""Static checks of the repository: what hassfest and HACS check on GitHub, and a little more.

Where the installed Home Assistant has the schema (services.yaml, blueprints, brand image names,
platforms, discovery keys), the check uses HA's own. Where a rule lives only in hassfest
(home-assistant/core script/hassfest/), in HACS (hacs/integration custom_components/hacs/) or
in home-assistant/brands, the code below is our own equivalent and names the upstream file it
mirrors. Nothing is named by hand: integrations are the folders of custom_components/ with a
manifest.json, their modules are found by walking them, blueprints by walking blueprints/.

Run: scripts/run python -m devtools.validate [REPO_ROOT]
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from functools import cached_property
import importlib.util
import json
from pathlib import Path
import re
import sys
import tomllib
from types import ModuleType
from typing import Any, get_args, get_type_hints
from urllib.parse import urlparse

from awesomeversion import AwesomeVersion, AwesomeVersionException, AwesomeVersionStrategy
import homeassistant
from homeassistant.components.automation.config import AUTOMATION_BLUEPRINT_SCHEMA
from homeassistant.components.blueprint import BLUEPRINT_SCHEMA, Blueprint
from homeassistant.components.blueprint.errors import BlueprintException
from homeassistant.components.brands.const import ALLOWED_IMAGES
from homeassistant.const import Platform, __version__ as HA_VERSION
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import config_validation as cv, selector, service
from homeassistant.loader import Manifest
from homeassistant.requirements import DISCOVERY_INTEGRATIONS
from homeassistant.util.yaml import load_yaml_dict
from PIL import Image, UnidentifiedImageError
import probatio
from probatio.humanize import humanize_error

ROOT = Path(__file__).resolve().parents[1]
HA_COMPONENTS = Path(homeassistant.__file__).parent / "components"
HA_COMMON_STRINGS = Path(homeassistant.__file__).parent / "strings.json"

Problems = list[str]


class Integration:
    """A custom integration of the repository: its folder and what is in it."""

    def __init__(self, root: Path, path: Path) -> None:
        self.root = root
        self.path = path
        self.domain = path.name

    @cached_property
    def manifest(self) -> dict[str, Any]:
        """The manifest, or {} when it does not parse (the manifest check reports that)."""
        try:
            data = json.loads((self.path / "manifest.json").read_text())
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}

    def modules(self) -> Iterator[Path]:
        """Every Python file of the package, subpackages included."""
        yield from sorted(p for p in self.path.rglob("*.py") if p.is_file())

    def rel(self, path: Path) -> str:
        """A path as the reports show it, relative to the repository."""
        return str(path.relative_to(self.root))

    def json(self, name: str, problems: Problems) -> Any:
        """A JSON file of the integration, None when missing or broken (reported)."""
        path = self.path / name
        if not path.is_file():
            return None
        try:
            return json.loads(path.read_text())
        except ValueError as err:
            problems.append(f"{self.rel(path)}: invalid JSON: {err}")
            return None


def integrations(root: Path) -> list[Integration]:
    """The custom integrations of the repository."""
    return [
        Integration(root, manifest.parent)
        for manifest in sorted(root.glob("custom_components/*/manifest.json"))
    ]


def _validate(schema: Callable[[Any], Any], data: Any, name: str, problems: Problems) -> bool:
    """Apply a schema; report what it rejects under `name`."""
    try:
        schema(data)
    except probatio.Invalid as err:
        problems.append(f"{name}: {humanize_error(data, err)}")
        return False
    return True


def _version(value: Any) -> str:
    """A version as hassfest and HACS accept it (hassfest manifest.py verify_version)."""
    try:
        AwesomeVersion(
            value,
            ensure_strategy=[
                AwesomeVersionStrategy.CALVER,
                AwesomeVersionStrategy.SEMVER,
                AwesomeVersionStrategy.SIMPLEVER,
                AwesomeVersionStrategy.BUILDVER,
                AwesomeVersionStrategy.PEP440,
            ],
        )
    except AwesomeVersionException as err:
        raise probatio.Invalid(f"'{value}' is not a valid version") from err
    return str(value)


def _github_repo(integration: Integration) -> str | None:
    """https://github.com/OWNER/REPO of the manifest's documentation URL, if it is on GitHub."""
    url = urlparse(str(integration.manifest.get("documentation", "")))
    parts = url.path.strip("/").split("/")
    if url.netloc != "github.com" or len(parts) < 2:
        return None
    return f"https://github.com/{parts[0]}/{parts[1]}"


# --- dependencies ---------------------------------------------------------------------------
# Mirrors home-assistant/core script/hassfest/dependencies.py (ImportCollector,
# ALLOWED_USED_COMPONENTS, calc_allowed_references, find_non_referenced_integrations).

# Components hassfest lets any integration import without listing them: the entity platforms
# and these (they register things without being set up, or are always set up).
ALLOWED_USED_COMPONENTS = frozenset(
    {
        *(platform.value for platform in Platform),
        "alert",
        "automation",
        "conversation",
        "default_config",
        "device_automation",
        "frontend",
        "group",
        "homeassistant",
        "input_boolean",
        "input_button",
        "input_datetime",
        "input_number",
        "input_select",
        "input_text",
        "media_source",
        "onboarding",
        "panel_custom",
        "persistent_notification",
        "person",
        "script",
        "shopping_list",
        "sun",
        "system_health",
        "system_log",
        "timer",
        "webhook",
        "websocket_api",
        "zone",
        "mjpeg",
        "stream",
    }
)
_COMPONENTS = "homeassistant.components"


class _ComponentImports(ast.NodeVisitor):
    """The HA components a module imports, as hassfest counts them."""

    def __init__(self, *, type_checking: bool) -> None:
        self.type_checking = type_checking
        self.found: set[str] = set()

    def visit_If(self, node: ast.If) -> None:
        # hassfest skips `if TYPE_CHECKING:` (the bare name only) blocks: type-only imports.
        if (
            not self.type_checking
            and isinstance(node.test, ast.Name)
            and node.test.id == "TYPE_CHECKING"
        ):
            return
        self.generic_visit(node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module
        if module is None or node.level:
            return
        if module == f"{_COMPONENTS}.http.auth" and [alias.name for alias in node.names] == [
            "async_sign_path"
        ]:
            return  # hassfest's one exception: signing a path needs no http dependency
        if module.startswith(f"{_COMPONENTS}."):
            self.found.add(module.split(".")[2])
        elif module == _COMPONENTS:
            self.found.update(alias.name for alias in node.names)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.name.startswith(f"{_COMPONENTS}."):
                self.found.add(alias.name.split(".")[2])


def component_imports(path: Path, *, type_checking: bool = False) -> set[str]:
    """The HA components `path` imports (with `type_checking`, also inside TYPE_CHECKING)."""
    collector = _ComponentImports(type_checking=type_checking)
    collector.visit(ast.parse(path.read_text(), str(path)))
    return collector.found


def _known_domains(root: Path) -> set[str]:
    """Integrations a manifest may depend on: HA's own and this repository's."""
    core = {p.parent.name for p in HA_COMPONENTS.glob("*/manifest.json")}
    return core | {i.domain for i in integrations(root)}


def check_dependencies(root: Path) -> Problems:
    """Imports of other HA components and the manifest's (after_)dependencies agree."""
    problems: Problems = []
    known = _known_domains(root)
    for integration in integrations(root):
        manifest = integration.manifest
        dependencies = list(manifest.get("dependencies", []))
        after = list(manifest.get("after_dependencies", []))
        allowed = ALLOWED_USED_COMPONENTS | set(dependencies) | set(after)
        if "bluetooth_adapters" in allowed:
            allowed |= {"bluetooth"}
        for domain, keys in DISCOVERY_INTEGRATIONS.items():
            if any(key in manifest for key in keys):
                allowed |= {domain}

        used: set[str] = set()
        for module in integration.modules():
            used |= component_imports(module, type_checking=True)
            for ref in sorted(component_imports(module)):
                if ref == integration.domain or ref in allowed:
                    continue
                # A platform for that component in this integration (e.g. light.py) may import it.
                if (integration.path / f"{ref}.py").is_file() or (integration.path / ref).is_dir():
                    continue
                problems.append(
                    f"{integration.rel(module)} imports {_COMPONENTS}.{ref}, which is in "
                    "neither 'dependencies' nor 'after_dependencies' of manifest.json"
                )

        # The other way round, and what hassfest checks only for core: no stale, duplicate or
        # unknown entries (HA would set up, or fail to find, an integration nothing uses).
        name = integration.rel(integration.path / "manifest.json")
        for key, domains in (("dependencies", dependencies), ("after_dependencies", after)):
            for domain in domains:
                if domain == integration.domain:
                    problems.append(f"{name}: '{key}' lists the integration itself")
                elif domain not in known:
                    problems.append(f"{name}: '{key}' lists {domain}, no such integration")
                elif domain not in used:
                    problems.append(
                        f"{name}: '{key}' lists {domain}, but nothing imports from "
                        f"{_COMPONENTS}.{domain}"
                    )
        problems += [
            f"{name}: {domain} is in both 'dependencies' and 'after_dependencies'"
            for domain in sorted(set(dependencies) & set(after))
        ]
    return problems


# --- manifest.json --------------------------------------------------------------------------
# Mirrors hassfest's script/hassfest/manifest.py (INTEGRATION_MANIFEST_SCHEMA extended by
# CUSTOM_INTEGRATION_MANIFEST_SCHEMA, validate_manifest, sort_manifest) and HACS's
# custom_components/hacs/utils/validate.py (INTEGRATION_MANIFEST_JSON_SCHEMA).

INTEGRATION_TYPES = [
    t for t in get_args(get_type_hints(Manifest)["integration_type"]) if t != "virtual"
]
QUALITY_SCALES = [
    "bronze",
    "silver",
    "gold",
    "platinum",
    "custom",
    "no_score",
    "internal",
    "legacy",
]
IOT_CLASSES = [
    "assumed_state",
    "calculated",
    "cloud_polling",
    "cloud_push",
    "local_polling",
    "local_push",
]


def _lowercase(value: str) -> str:
    if value.lower() != value:
        raise probatio.Invalid("Value needs to be lowercase")
    return value


def _uppercase(value: str) -> str:
    if value.upper() != value:
        raise probatio.Invalid("Value needs to be uppercase")
    return value


def _wildcard(value: str) -> str:
    if "*" not in value:
        raise probatio.Invalid(f"'{value}' needs to contain a wildcard matcher")
    return value


def _custom_documentation_url(value: str) -> str:
    if urlparse(value).scheme != "https":
        raise probatio.Invalid("Documentation url is not prefixed with https")
    if value.startswith("https://www.home-assistant.io/integrations"):
        raise probatio.Invalid(
            "Documentation URL should point to the custom integration documentation"
        )
    return value


_LOWER = probatio.All(str, _lowercase)
_UPPER = probatio.All(str, _uppercase)
MANIFEST_SCHEMA = probatio.Schema(
    {
        probatio.Required("domain"): str,
        probatio.Required("name"): str,
        probatio.Optional("integration_type"): probatio.In(INTEGRATION_TYPES),
        probatio.Optional("config_flow"): bool,
        probatio.Optional("mqtt"): [str],
        probatio.Optional("zeroconf"): [
            probatio.Any(
                str,
                probatio.Schema(
                    {
                        probatio.Required("type"): str,
                        probatio.Optional("macaddress"): probatio.All(_UPPER, _wildcard),
                        probatio.Optional("manufacturer"): _LOWER,
                        probatio.Optional("model"): _LOWER,
                        probatio.Optional("name"): _LOWER,
                        probatio.Optional("properties"): probatio.Schema({str: _lowercase}),
                    }
                ),
            )
        ],
        probatio.Optional("ssdp"): [
            probatio.All(probatio.Schema({}, extra=probatio.ALLOW_EXTRA), probatio.Length(min=1))
        ],
        probatio.Optional("bluetooth"): [
            probatio.Schema(
                {
                    probatio.Optional("connectable"): bool,
                    probatio.Optional("service_uuid"): _LOWER,
                    probatio.Optional("service_data_uuid"): _LOWER,
                    probatio.Optional("local_name"): str,
                    probatio.Optional("manufacturer_id"): int,
                    probatio.Optional("manufacturer_data_start"): [int],
                }
            )
        ],
        probatio.Optional("homekit"): probatio.Schema({probatio.Optional("models"): [str]}),
        probatio.Optional("dhcp"): [
            probatio.Schema(
                {
                    probatio.Optional("macaddress"): probatio.All(_UPPER, _wildcard),
                    probatio.Optional("hostname"): _LOWER,
                    probatio.Optional("registered_devices"): cv.boolean,
                }
            )
        ],
        probatio.Optional("usb"): [
            probatio.Schema(
                {
                    probatio.Optional("vid"): _UPPER,
                    probatio.Optional("pid"): _UPPER,
                    probatio.Optional("serial_number"): _LOWER,
                    probatio.Optional("manufacturer"): _LOWER,
                    probatio.Optional("description"): _LOWER,
                    probatio.Optional("known_devices"): [str],
                }
            )
        ],
        probatio.Required("documentation"): probatio.All(probatio.Url(), _custom_documentation_url),
        probatio.Optional("issue_tracker"): probatio.Url(),
        probatio.Optional("quality_scale"): probatio.In(QUALITY_SCALES),
        probatio.Optional("requirements"): [str],
        probatio.Optional("dependencies"): [str],
        probatio.Optional("after_dependencies"): [str],
        probatio.Required("codeowners"): [str],
        probatio.Optional("loggers"): [str],
        probatio.Optional("disabled"): str,
        probatio.Optional("iot_class"): probatio.In(IOT_CLASSES),
        probatio.Optional("single_config_entry"): bool,
        probatio.Optional("preview_features"): probatio.Schema(
            {
                cv.slug: probatio.Schema(
                    {
                        probatio.Optional("feedback_url"): probatio.Url(),
                        probatio.Optional("learn_more_url"): probatio.Url(),
                        probatio.Optional("report_issue_url"): probatio.Url(),
                    }
                )
            }
        ),
        probatio.Optional("version"): probatio.All(str, _version),
        probatio.Optional("import_executor"): bool,
    }
)

HACS_MANIFEST_SCHEMA = probatio.Schema(
    {
        probatio.Required("codeowners"): list,
        probatio.Required("documentation"): cv.url,
        probatio.Required("domain"): str,
        probatio.Required("issue_tracker"): cv.url,
        probatio.Required("name"): str,
        probatio.Required("version"): probatio.Coerce(AwesomeVersion),
    },
    extra=probatio.ALLOW_EXTRA,
)


def check_manifest(root: Path) -> Problems:
    """manifest.json as hassfest and HACS validate it, and in step with pyproject.toml."""
    problems: Problems = []
    found = integrations(root)
    if not found:
        return ["no custom_components/*/manifest.json"]
    for integration in found:
        name = integration.rel(integration.path / "manifest.json")
        manifest = integration.json("manifest.json", problems)
        if not isinstance(manifest, dict):
            problems.append(f"{name}: not a JSON object")
            continue
        _validate(MANIFEST_SCHEMA, manifest, f"{name} (hassfest)", problems)
        _validate(HACS_MANIFEST_SCHEMA, manifest, f"{name} (HACS)", problems)
        domain = manifest.get("domain")
        if domain != integration.domain:
            problems.append(f"{name}: domain {domain!r} does not match the folder name")
        if (HA_COMPONENTS / integration.domain).is_dir():
            # hassfest warns; HA would load ours over its own, which is never what we want.
            problems.append(f"{name}: domain collides with a Home Assistant integration")
        if "iot_class" not in manifest:
            problems.append(f"{name}: no iot_class")
        if not manifest.get("version"):
            problems.append(f"{name}: no version (custom integrations need one)")
        scale = manifest.get("quality_scale")
        if scale in ("silver", "gold", "platinum") and not manifest.get("codeowners"):
            problems.append(f"{name}: a {scale} integration needs codeowners")
        problems += [
            f"{name}: codeowner {owner!r} is not a GitHub @handle"
            for owner in manifest.get("codeowners", [])
            if not re.fullmatch(r"@[A-Za-z0-9-]+(/[A-Za-z0-9_.-]+)?", str(owner))
        ]
        keys = list(manifest)
        if keys != sorted(keys, key=lambda k: {"domain": "\0", "name": "\1"}.get(k, k)):
            problems.append(f"{name}: keys not sorted (domain, name, then alphabetical order)")
        pyproject = root / "pyproject.toml"
        if pyproject.is_file():
            version = tomllib.loads(pyproject.read_text()).get("project", {}).get("version")
            if version and manifest.get("version") != version:
                problems.append(
                    f"{name}: version {manifest.get('version')!r} differs from pyproject.toml's "
                    f"{version!r}"
                )
    return problems


# --- hacs.json, LICENSE, README ---------------------------------------------------------------
# Mirrors HACS: custom_components/hacs/utils/validate.py (HACS_MANIFEST_JSON_SCHEMA) and the
# validators hacsjson.py, information.py and license.py of custom_components/hacs/validate/.

# HACS accepts these without looking further (license.py POPULAR_OSI_APPROVED_LICENSES).
POPULAR_OSI_LICENSES = frozenset(
    {
        "Apache-2.0",
        "BSD-2-Clause",
        "BSD-3-Clause",
        "CDDL-1.0",
        "EPL-2.0",
        "GPL-2.0",
        "GPL-3.0",
        "LGPL-2.1",
        "LGPL-3.0",
        "MIT",
        "MPL-2.0",
    }
)


def _countries(value: Any) -> list[str]:
    """HACS's country: a code or a list of them (HACS checks its LOCALE list; we, the form)."""
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise probatio.Invalid(f"Value '{value}' is not a string or list.")
    codes = [v.upper() for v in values]
    if bad := [c for c in codes if not re.fullmatch(r"[A-Z]{2}", c)]:
        raise probatio.Invalid(f"Value '{bad[0]}' is not a country code.")
    return codes


HACS_JSON_SCHEMA = probatio.Schema(
    {
        probatio.Optional("content_in_root"): bool,
        probatio.Optional("country"): _countries,
        probatio.Optional("filename"): str,
        probatio.Optional("hacs"): str,
        probatio.Optional("hide_default_branch"): bool,
        probatio.Optional("homeassistant"): probatio.All(str, _version),
        probatio.Optional("persistent_directory"): str,
        probatio.Optional("render_readme"): bool,
        probatio.Optional("zip_release"): bool,
        probatio.Required("name"): str,
    },
    extra=probatio.PREVENT_EXTRA,
)


def _hacs_json(root: Path) -> dict[str, Any]:
    try:
        data = json.loads((root / "hacs.json").read_text())
    except OSError, ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def check_hacs(root: Path) -> Problems:
    """hacs.json, the information file and the license, as HACS's action checks them."""
    problems: Problems = []
    path = root / "hacs.json"
    if not path.is_file():
        problems.append("hacs.json: missing")
    else:
        try:
            data = json.loads(path.read_text())
        except ValueError as err:
            problems.append(f"hacs.json: invalid JSON: {err}")
        else:
            if _validate(HACS_JSON_SCHEMA, data, "hacs.json", problems):
                if data.get("zip_release") and not data.get("filename"):
                    problems.append("hacs.json: zip_release is true, but filename is not set")
                minimum = data.get("homeassistant")
                if minimum and AwesomeVersion(minimum) > AwesomeVersion(HA_VERSION):
                    problems.append(
                        f"hacs.json: homeassistant {minimum} is newer than the Home Assistant "
                        f"the tests run ({HA_VERSION})"
                    )
    if not any((root / name).is_file() for name in ("README", "README.md", "info", "info.md")):
        problems.append("no README.md (HACS's information file)")

    license_file = next(
        (root / n for n in ("LICENSE", "LICENSE.md", "LICENSE.txt") if (root / n).is_file()), None
    )
    pyproject = root / "pyproject.toml"
    declared = (
        tomllib.loads(pyproject.read_text()).get("project", {}).get("license")
        if pyproject.is_file()
        else None
    )
    if license_file is None:
        problems.append("no LICENSE file (HACS needs a license GitHub can identify)")
    elif declared is not None:
        if declared not in POPULAR_OSI_LICENSES:
            problems.append(f"pyproject.toml: license {declared!r} is not one HACS knows offhand")
        if declared == "MIT" and not license_file.read_text().startswith("MIT License"):
            problems.append(f"{license_file.name}: pyproject.toml says MIT, the text is not MIT's")
    return problems


# --- services.yaml --------------------------------------------------------------------------
# First HA's own loader schema (helpers/service.py _SERVICES_SCHEMA: what a running HA accepts),
# then hassfest's stricter one, script/hassfest/services.py (CUSTOM_INTEGRATION_SERVICES_SCHEMA,
# unique_field_validator, and the translation and icon look-ups it makes for core).

_REGISTERS_SERVICES = re.compile(
    r"(hass\.services\.(register|async_register))|async_register_entity_service"
    r"|async_register_admin_service"
)


def _exists(value: Any) -> Any:
    if value is None:
        raise probatio.Invalid("Value cannot be None")
    return value


def _unique_fields(fields: dict[str, Any]) -> dict[str, Any]:
    seen: set[str] = set()
    for key, value in fields.items():
        names = list(value["fields"]) if value and "fields" in value else [key]
        for name in names:
            if name in seen:
                raise probatio.Invalid(f"Duplicate use of field {name} in service.")
            seen.add(name)
    return fields


_TEXTS = {probatio.Optional("name"): str, probatio.Optional("description"): str}


def _field_schema(targeted: bool) -> probatio.Schema:
    schema: dict[Any, Any] = {
        probatio.Optional("example"): _exists,
        probatio.Optional("default"): _exists,
        probatio.Optional("required"): bool,
        probatio.Optional("advanced"): bool,
        probatio.Optional("selector"): selector.validate_selector,
        **_TEXTS,
    }
    if targeted:  # a filter narrows the target, so only targeted actions may have one
        schema[probatio.Optional("filter")] = {
            probatio.Exclusive("attribute", "field_filter"): {
                probatio.Required(str): [probatio.All(str, service.validate_attribute_option)]
            },
            probatio.Exclusive("supported_features", "field_filter"): [
                probatio.All(str, service.validate_supported_feature)
            ],
        }
    return probatio.Schema(schema)


def _service_schema(targeted: bool) -> probatio.Schema:
    section = probatio.Schema(
        {
            probatio.Optional("collapsed"): bool,
            probatio.Required("fields"): probatio.Schema({str: _field_schema(targeted)}),
            **_TEXTS,
        }
    )
    schema: dict[Any, Any] = {
        probatio.Optional("fields"): probatio.All(
            probatio.Schema({str: probatio.Any(_field_schema(targeted), section)}), _unique_fields
        ),
        **_TEXTS,
    }
    if targeted:
        schema[probatio.Required("target")] = selector.TargetSelector.CONFIG_SCHEMA
    return probatio.Schema(schema)


HASSFEST_SERVICES_SCHEMA = probatio.Schema(
    {cv.slug: probatio.Any(_service_schema(True), _service_schema(False), None)}
)


def _action_texts(
    where: str, schema: dict[str, Any], texts: dict[str, Any], strings: dict[str, Any]
) -> Problems:
    """An action's name, description, fields and sections are in strings.json (or the YAML)."""
    problems = [
        f"{where} has no {key} in strings.json"
        for key in ("name", "description")
        if key not in schema and key not in texts
    ]
    fields: dict[str, Any] = {}
    for key, field in (schema.get("fields") or {}).items():
        if field and "fields" in field:  # a section
            if "name" not in field and "name" not in texts.get("sections", {}).get(key, {}):
                problems.append(f"{where}: section {key} has no name in strings.json")
            fields.update(field["fields"])
        else:
            fields[key] = field or {}
    for key, field in fields.items():
        field_texts = texts.get("fields", {}).get(key, {})
        problems += [
            f"{where}: field {key} has no {attr} in strings.json"
            for attr in ("name", "description")
            if attr not in field and attr not in field_texts
        ]
        select = (field.get("selector") or {}).get("select") or {}
        if (tk := select.get("translation_key")) and tk not in strings.get("selector", {}):
            problems.append(
                f"{where}: field {key}: selector translation key {tk} not in strings.json"
            )
    problems += [
        f"{where}: strings.json describes field {key}, which services.yaml lacks"
        for key in texts.get("fields", {})
        if key not in fields
    ]
    return problems


def check_services(root: Path) -> Problems:
    """services.yaml loads in HA, passes hassfest, and has its texts and icons."""
    problems: Problems = []
    for integration in integrations(root):
        path = integration.path / "services.yaml"
        name = integration.rel(path)
        if not path.is_file():
            if any(_REGISTERS_SERVICES.search(m.read_text()) for m in integration.modules()):
                problems.append(
                    f"{integration.rel(integration.path)}: registers actions but has no services.yaml"
                )
            continue
        try:
            data = load_yaml_dict(path)
        except HomeAssistantError as err:
            problems.append(f"{name}: {err}")
            continue
        # HA drops every description of the integration when this fails, with a log line only.
        loads = _validate(service._SERVICES_SCHEMA, data, f"{name} (HA)", problems)
        if (
            not _validate(HASSFEST_SERVICES_SCHEMA, data, f"{name} (hassfest)", problems)
            or not loads
        ):
            continue

        strings = integration.json("strings.json", problems) or {}
        described = strings.get("services", {})
        icons = (integration.json("icons.json", problems) or {}).get("services", {})
        for action, schema in data.items():
            where = f"{name}: action {action}"
            if action not in icons:
                problems.append(f"{where} has no icon in icons.json")
            problems += _action_texts(where, schema or {}, described.get(action, {}), strings)
        problems += [
            f"strings.json describes action {action}, which services.yaml lacks"
            for action in described
            if action not in data
        ]
    return problems


# --- strings.json and translations/ ---------------------------------------------------------
# Mirrors hassfest's script/hassfest/translations.py (gen_strings_schema, gen_data_entry_schema,
# gen_issues_schema, translation_value_validator, translation_key_validator). Sections newer
# than the hassfest copy we read (config_subentries, sections, menu_option_descriptions, entity
# unit_of_measurement, selector fields) take the shapes HA 2026.10's own translation files use.

RE_REFERENCE = re.compile(r"\[%key:(.+)%\]")
RE_TRANSLATION_KEY = re.compile(r"^(?!.+[_-]{2})(?![_-])[a-z0-9-_]+(?<![_-])$")
RE_COMBINED_REFERENCE = re.compile(r"(.+\[%)|(%\].+)")
RE_QUOTED_PLACEHOLDER = re.compile(r"'{\w+}'")


def translation_key(value: Any) -> str:
    """A key HA can look up: [a-z0-9-_], not starting, ending or doubling - and _."""
    if not isinstance(value, str) or RE_TRANSLATION_KEY.match(value) is None:
        raise probatio.Invalid(
            f"Invalid translation key '{value}', need to be [a-z0-9-_]+ and"
            " cannot start or end with a hyphen or underscore."
        )
    return value


def text(value: Any) -> str:
    """A translated string: no HTML, no quoted placeholder, no reference inside a text."""
    string = cv.string_with_no_html(value)
    if RE_QUOTED_PLACEHOLDER.search(string):
        raise probatio.Invalid("the string should not contain placeholders inside single quotes")
    if RE_COMBINED_REFERENCE.search(string):
        raise probatio.Invalid("the string should not contain combined translations")
    if string != string.strip():
        raise probatio.Invalid("the string should not contain leading or trailing spaces")
    return string


def _text_tree(value: Any) -> Any:
    """Nested texts (sections whose exact shape hassfest owns and we do not use)."""
    if isinstance(value, dict):
        return {k: _text_tree(v) for k, v in value.items()}
    return text(value)


def _keyed(value: Any, keys: Callable[[Any], Any] = translation_key) -> Any:
    return cv.schema_with_slug_keys(value, slug_validator=keys)


_TEXTS_BY_KEY = {str: text}
_SLUG_OR_DEFAULT = probatio.Any("_", cv.slug)


def _data_description_in_data(value: dict[str, Any]) -> dict[str, Any]:
    for step_id, step in value["step"].items():
        for key in step.get("data_description", {}):
            if key not in step.get("data", {}):
                raise probatio.Invalid(f"step {step_id}: data_description key {key} is not in data")
    return value


def _data_entry(*, subentry: bool = False) -> Any:
    """A config, options or subentry flow's texts."""
    step = {
        probatio.Optional("title"): text,
        probatio.Optional("description"): text,
        probatio.Optional("data"): _TEXTS_BY_KEY,
        probatio.Optional("data_description"): _TEXTS_BY_KEY,
        probatio.Optional("menu_options"): _TEXTS_BY_KEY,
        probatio.Optional("menu_option_descriptions"): _TEXTS_BY_KEY,
        probatio.Optional("submit"): text,
        probatio.Optional("sections"): {
            str: {
                probatio.Optional("name"): text,
                probatio.Optional("description"): text,
                probatio.Optional("data"): _TEXTS_BY_KEY,
                probatio.Optional("data_description"): _TEXTS_BY_KEY,
            }
        },
    }
    schema: dict[Any, Any] = {
        probatio.Optional("flow_title"): text,
        probatio.Required("step"): {str: step},
        probatio.Optional("error"): _TEXTS_BY_KEY,
        probatio.Optional("abort"): _TEXTS_BY_KEY,
        probatio.Optional("progress"): _TEXTS_BY_KEY,
        probatio.Optional("create_entry"): _TEXTS_BY_KEY,
    }
    if subentry:
        schema[probatio.Required("entry_type")] = text
        schema[probatio.Required("initiate_flow")] = {
            probatio.Required("user"): text,
            probatio.Optional("reconfigure"): text,
        }
    return probatio.All(probatio.Schema(schema), _data_description_in_data)


_STATES = _keyed(text)
STRINGS_SCHEMA = probatio.Schema(
    {
        probatio.Optional("title"): text,
        probatio.Optional("common"): probatio.Schema({cv.slug: text}),
        probatio.Optional("config"): _data_entry(),
        probatio.Optional("options"): _data_entry(),
        probatio.Optional("config_subentries"): _keyed(_data_entry(subentry=True), cv.slug),
        probatio.Optional("selector"): _keyed(
            {
                probatio.Optional("options"): _STATES,
                probatio.Optional("unit_of_measurement"): _TEXTS_BY_KEY,
                probatio.Optional("fields"): {
                    str: probatio.Any(
                        text,
                        {probatio.Optional("name"): text, probatio.Optional("description"): text},
                    )
                },
            },
            _SLUG_OR_DEFAULT,
        ),
        probatio.Optional("device_automation"): {
            probatio.Optional(key): _TEXTS_BY_KEY
            for key in (
                "action_type",
                "condition_type",
                "trigger_type",
                "trigger_subtype",
                "extra_fields",
                "extra_fields_descriptions",
            )
        },
        probatio.Optional("system_health"): {probatio.Optional("info"): _STATES},
        probatio.Optional("config_panel"): _keyed(_STATES, _SLUG_OR_DEFAULT),
        probatio.Optional("application_credentials"): {probatio.Optional("description"): text},
        probatio.Optional("issues"): {
            str: probatio.All(
                cv.has_at_least_one_key("description", "fix_flow"),
                probatio.Schema(
                    {
                        probatio.Required("title"): text,
                        probatio.Optional("short_title"): text,
                        probatio.Exclusive("description", "fixable"): text,
                        probatio.Exclusive("fix_flow", "fixable"): _data_entry(),
                    }
                ),
            )
        },
        probatio.Optional("entity_component"): _keyed(
            {
                probatio.Optional("name"): str,
                probatio.Optional("state"): _STATES,
                probatio.Optional("state_attributes"): _keyed(
                    {probatio.Optional("name"): str, probatio.Optional("state"): _STATES}
                ),
            },
            _SLUG_OR_DEFAULT,
        ),
        probatio.Optional("device"): _keyed({probatio.Optional("name"): text}),
        probatio.Optional("entity"): _keyed(
            _keyed(
                {
                    probatio.Optional("name"): text,
                    probatio.Optional("state"): _STATES,
                    probatio.Optional("state_attributes"): _keyed(
                        {probatio.Optional("name"): text, probatio.Optional("state"): _STATES}
                    ),
                    probatio.Optional("unit_of_measurement"): text,
                }
            ),
            cv.slug,
        ),
        probatio.Optional("exceptions"): _keyed({probatio.Optional("message"): text}, cv.slug),
        probatio.Optional("services"): _keyed(
            {
                probatio.Required("name"): text,
                probatio.Required("description"): text,
                probatio.Optional("fields"): _keyed(
                    {
                        probatio.Required("name"): str,
                        probatio.Required("description"): text,
                        probatio.Optional("example"): text,
                    }
                ),
                probatio.Optional("sections"): _keyed(
                    {probatio.Required("name"): str, probatio.Optional("description"): text}
                ),
            }
        ),
        probatio.Optional("conversation"): {
            probatio.Required("agent"): {probatio.Required("done"): text}
        },
        probatio.Optional("triggers"): _text_tree,
        probatio.Optional("conditions"): _text_tree,
        probatio.Optional("preview_features"): _text_tree,
    }
)


def _references(node: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(where, reference) of every `[%key:...%]` in a strings tree."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _references(value, f"{path}::{key}" if path else key)
    elif isinstance(node, str) and (match := RE_REFERENCE.fullmatch(node)):
        yield path, match.group(1)


def _load_generator(root: Path) -> ModuleType | None:
    """scripts/gen_translations.py of the repository at `root`, imported by path."""
    path = root / "scripts" / "gen_translations.py"
    spec = importlib.util.spec_from_file_location("_gen_translations", path)
    if not path.is_file() or spec is None or spec.loader is None:
        return None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _exception_keys(integration: Integration) -> Iterator[tuple[Path, int, str]]:
    """Literal translation keys of the exceptions the code raises (calls with a domain too)."""
    for module in integration.modules():
        for node in ast.walk(ast.parse(module.read_text(), str(module))):
            if not isinstance(node, ast.Call):
                continue
            keywords = {k.arg: k.value for k in node.keywords}
            key = keywords.get("translation_key")
            if (
                "translation_domain" in keywords
                and isinstance(key, ast.Constant)
                and isinstance(key.value, str)
            ):
                yield module, node.lineno, key.value


def check_strings(root: Path) -> Problems:
    """strings.json and translations/ pass hassfest; en.json is generated; keys resolve."""
    problems: Problems = []
    common = json.loads(HA_COMMON_STRINGS.read_text())
    generator = _load_generator(root)
    for integration in integrations(root):
        strings = integration.json("strings.json", problems)
        if strings is None:
            continue
        _validate(
            STRINGS_SCHEMA, strings, integration.rel(integration.path / "strings.json"), problems
        )
        for path in sorted((integration.path / "translations").glob("*.json")):
            data = integration.json(f"translations/{path.name}", problems)
            if data is not None:
                _validate(STRINGS_SCHEMA, data, integration.rel(path), problems)

        known = {**common, "component": {integration.domain: strings}}
        unresolved = False
        for where, reference in _references(strings):
            node: Any = known
            for part in reference.split("::"):
                node = node.get(part) if isinstance(node, dict) else None
            if not isinstance(node, str):
                unresolved = True
                problems.append(f"strings.json {where}: reference {reference} does not resolve")

        english = integration.path / "translations" / "en.json"
        if generator is None:
            problems.append("scripts/gen_translations.py is missing: cannot check en.json")
        elif not unresolved and (
            not english.is_file() or json.loads(english.read_text()) != generator.resolve(strings)
        ):
            problems.append(
                f"{integration.rel(english)} is not what scripts/gen_translations.py makes of "
                "strings.json (run it)"
            )

        exceptions = strings.get("exceptions", {})
        problems += [
            f"{integration.rel(module)}:{line}: exception translation key {key} is not in "
            "strings.json"
            for module, line, key in _exception_keys(integration)
            if key not in exceptions
        ]
    return problems


# --- icons.json -----------------------------------------------------------------------------
# Mirrors hassfest's script/hassfest/icons.py (icon_schema, icon_value_validator,
# ensure_not_same_as_default). The service entries take HA's current form, which
# helpers/icon.py reads ({"service": icon, "sections": {...}} or the bare icon), and data-entry
# icons the "sections" form HA 2026.10's own icons.json files use.


def icon(value: Any) -> str:
    """An icon of Material Design Icons."""
    string = cv.string_with_no_html(value)
    if not string.startswith("mdi:"):
        raise probatio.Invalid(
            "The icon needs to be a valid icon from Material Design Icons and start with `mdi:`"
        )
    return string


def _not_same_as_default(value: dict[str, Any]) -> dict[str, Any]:
    for key, section in value.items():
        default = section.get("default")
        for state, state_icon in (section.get("state") or {}).items():
            if default and state_icon == default:
                raise probatio.Invalid(
                    f"The icon for state `{key}.{state}` is the same as the default icon and "
                    "thus can be removed"
                )
    return value


def _default_required(value: dict[str, Any]) -> dict[str, Any]:
    if "_" not in value:
        raise probatio.Invalid("An entity component needs to have a default icon defined with `_`")
    return value


def icons_schema(integration_type: str) -> probatio.Schema:
    """The icons.json schema for an integration of this type."""
    states = _keyed(icon)

    def entry(marker: type[probatio.Marker]) -> dict[Any, Any]:
        return {
            marker("default"): icon,
            probatio.Optional("state"): states,
            probatio.Optional("range"): {str: icon},
            probatio.Optional("state_attributes"): probatio.All(
                _keyed({marker("default"): icon, marker("state"): states}), _not_same_as_default
            ),
        }

    data_entry = probatio.Schema({"step": {str: {probatio.Optional("sections"): {str: icon}}}})
    schema: dict[Any, Any] = {
        probatio.Optional("config"): data_entry,
        probatio.Optional("options"): data_entry,
        probatio.Optional("issues"): {str: {"fix_flow": data_entry}},
        probatio.Optional("services"): _keyed(
            probatio.Any(
                icon,
                {probatio.Required("service"): icon, probatio.Optional("sections"): {str: icon}},
            ),
            cv.slug,
        ),
        probatio.Optional("triggers"): {str: {probatio.Required("trigger"): icon}},
        probatio.Optional("conditions"): {str: {probatio.Required("condition"): icon}},
    }
    if integration_type in ("entity", "helper", "system"):
        schema[probatio.Optional("entity_component")] = probatio.All(
            _keyed(entry(probatio.Required), _SLUG_OR_DEFAULT),
            _default_required,
            _not_same_as_default,
        )
    if integration_type not in ("entity", "system"):
        schema[probatio.Optional("entity")] = _keyed(
            probatio.All(_keyed(entry(probatio.Optional)), _not_same_as_default), cv.slug
        )
    return probatio.Schema(schema)


def check_icons(root: Path) -> Problems:
    """icons.json as hassfest validates it."""
    problems: Problems = []
    for integration in integrations(root):
        icons = integration.json("icons.json", problems)
        if icons is not None:
            schema = icons_schema(integration.manifest.get("integration_type", "hub"))
            _validate(schema, icons, integration.rel(integration.path / "icons.json"), problems)
    return problems


# --- blueprints/ ----------------------------------------------------------------------------
# HA's own: homeassistant.components.blueprint's Blueprint (schema, domain, !input use) with the
# schema its domain's integration loads blueprints with, and Blueprint.validate (min_version).

BLUEPRINT_SCHEMAS: dict[str, Callable[[Any], Any]] = {"automation": AUTOMATION_BLUEPRINT_SCHEMA}


def check_blueprints(root: Path) -> Problems:
    """Every blueprint under blueprints/ loads in HA and points at itself in this repository."""
    problems: Problems = []
    folder = root / "blueprints"
    repos = {repo for i in integrations(root) if (repo := _github_repo(i))}
    minimum = _hacs_json(root).get("homeassistant")
    for path in sorted(folder.rglob("*.yaml")):
        rel = path.relative_to(root)
        domain = path.relative_to(folder).parts[0]
        try:
            data = load_yaml_dict(path)
            blueprint = Blueprint(
                data,
                path=str(rel),
                expected_domain=domain,
                schema=BLUEPRINT_SCHEMAS.get(domain, BLUEPRINT_SCHEMA),
            )
        except (HomeAssistantError, BlueprintException) as err:
            problems.append(f"{rel}: {err}")
            continue
        problems += [f"{rel}: {error}" for error in blueprint.validate() or []]
        metadata = blueprint.metadata
        source = metadata.get("source_url")
        if source and not any(source == f"{repo}/blob/main/{rel}" for repo in repos):
            problems.append(f"{rel}: source_url {source} is not this file on GitHub (branch main)")
        version = metadata.get("homeassistant", {}).get("min_version")
        if minimum and (not version or AwesomeVersion(version) < AwesomeVersion(minimum)):
            problems.append(
                f"{rel}: min_version {version} is below the integration's Home Assistant "
                f"{minimum} (hacs.json)"
            )
    return problems


# --- brand/ ---------------------------------------------------------------------------------
# File names: HA's own (brands.const.ALLOWED_IMAGES, what /api/brands serves from a custom
# integration's brand/ folder). Sizes and pairs: mirrors home-assistant/brands
# .github/workflows/validate/validate.sh; transparency and trimming: its README's image rules.
# HACS (validate/brands.py) needs brand/icon.png.

_SIZES = {"icon": (256, 256), "icon@2x": (512, 512)}
_LOGO_SHORT_SIDE = {"logo": (128, 256), "logo@2x": (256, 512)}


def check_brand(root: Path) -> Problems:
    """The brand images: names HA serves, brands' sizes, transparent and trimmed."""
    problems: Problems = []
    for integration in integrations(root):
        folder = integration.path / "brand"
        rel = integration.rel(folder)
        if not (folder / "icon.png").is_file():
            problems.append(f"{rel}/icon.png: missing (HACS and HA's brand images need it)")
            continue
        files = {p.name: p for p in sorted(folder.iterdir())}
        for name, path in files.items():
            where = f"{rel}/{name}"
            if name not in ALLOWED_IMAGES:
                problems.append(f"{where}: HA serves no brand image of this name")
                continue
            stem = name.removeprefix("dark_").removesuffix(".png")
            if stem.endswith("@2x") and name.replace("@2x", "") not in files:
                problems.append(f"{where}: an @2x image needs its normal version")
            try:
                with Image.open(path) as image:
                    image.load()
            except (OSError, UnidentifiedImageError) as err:
                problems.append(f"{where}: not an image: {err}")
                continue
            if image.format != "PNG":
                problems.append(f"{where}: a {image.format} file, not PNG")
            width, height = image.size
            if stem in _SIZES and image.size != _SIZES[stem]:
                problems.append(
                    f"{where}: {width}x{height} px, must be {_SIZES[stem][0]}x{_SIZES[stem][1]}"
                )
            if stem in _LOGO_SHORT_SIDE:
                low, high = _LOGO_SHORT_SIDE[stem]
                if not low <= min(image.size) <= high:
                    problems.append(
                        f"{where}: shortest side {min(image.size)} px, must be {low} to {high}"
                    )
            alpha = image.getchannel("A") if image.mode in ("RGBA", "LA") else None
            if alpha is None or alpha.getextrema()[0] == 255:
                problems.append(f"{where}: no transparent background")
                continue
            box = alpha.getbbox()
            if box is None or not (
                (box[0] == 0 and box[2] == width) or (box[1] == 0 and box[3] == height)
            ):
                problems.append(f"{where}: not trimmed (empty margin on both axes: {box})")
        pairs = [
            ("icon.png", "logo.png"),
            ("icon@2x.png", "logo@2x.png"),
            ("dark_icon.png", "dark_logo.png"),
            ("dark_icon@2x.png", "dark_logo@2x.png"),
            ("icon.png", "dark_icon.png"),
            ("icon@2x.png", "dark_icon@2x.png"),
            ("logo.png", "dark_logo.png"),
            ("logo@2x.png", "dark_logo@2x.png"),
            ("icon.png", "icon@2x.png"),
            ("logo.png", "logo@2x.png"),
            ("dark_icon.png", "dark_icon@2x.png"),
            ("dark_logo.png", "dark_logo@2x.png"),
        ]
        problems += [
            f"{rel}/{second}: identical to {first}; drop it, HA falls back to {first}"
            for first, second in pairs
            if first in files
            and second in files
            and files[first].read_bytes() == files[second].read_bytes()
        ]
    return problems


# --- quality_scale.yaml ---------------------------------------------------------------------
# The rules and the file's schema mirror hassfest's script/hassfest/quality_scale.py (ALL_RULES,
# SCHEMA), which checks only core integrations. We also want every rule listed and, where the
# code can show it, each `done` true; the probes below follow the rule pages of the
# Integration Quality Scale and hassfest's quality_scale_validation/. strict-typing,
# test-coverage and config-flow-test-coverage are proven by mypy and coverage in scripts/test.

QUALITY_RULES: dict[str, str] = {
    **dict.fromkeys(
        [
            "action-setup",
            "appropriate-polling",
            "brands",
            "common-modules",
            "config-flow",
            "config-flow-test-coverage",
            "dependency-transparency",
            "docs-actions",
            "docs-high-level-description",
            "docs-installation-instructions",
            "docs-removal-instructions",
            "entity-event-setup",
            "entity-unique-id",
            "has-entity-name",
            "runtime-data",
            "test-before-configure",
            "test-before-setup",
            "unique-config-entry",
        ],
        "bronze",
    ),
    **dict.fromkeys(
        [
            "action-exceptions",
            "config-entry-unloading",
            "docs-configuration-parameters",
            "docs-installation-parameters",
            "entity-unavailable",
            "integration-owner",
            "log-when-unavailable",
            "parallel-updates",
            "reauthentication-flow",
            "test-coverage",
        ],
        "silver",
    ),
    **dict.fromkeys(
        [
            "devices",
            "diagnostics",
            "discovery",
            "discovery-update-info",
            "docs-data-update",
            "docs-examples",
            "docs-known-limitations",
            "docs-supported-devices",
            "docs-supported-functions",
            "docs-troubleshooting",
            "docs-use-cases",
            "dynamic-devices",
            "entity-category",
            "entity-device-class",
            "entity-disabled-by-default",
            "entity-translations",
            "exception-translations",
            "icon-translations",
            "reconfiguration-flow",
            "repair-issues",
            "stale-devices",
        ],
        "gold",
    ),
    **dict.fromkeys(["async-dependency", "inject-websession", "strict-typing"], "platinum"),
}

QUALITY_SCALE_SCHEMA = probatio.Schema(
    {
        probatio.Required("rules"): probatio.Schema(
            {
                probatio.Optional(rule): probatio.Any(
                    probatio.In(["todo", "done"]),
                    probatio.Schema(
                        {
                            probatio.Required("status"): probatio.In(["todo", "done"]),
                            probatio.Optional("comment"): str,
                        }
                    ),
                    probatio.Schema(
                        {probatio.Required("status"): "exempt", probatio.Required("comment"): str}
                    ),
                )
                for rule in QUALITY_RULES
            }
        )
    }
)

_TRANSLATABLE_ERRORS = frozenset(
    {
        "HomeAssistantError",
        "ServiceValidationError",
        "ConfigEntryError",
        "ConfigEntryNotReady",
        "ConfigEntryAuthFailed",
    }
)


class _Code:
    """What the probes ask of the integration's code."""

    def __init__(self, integration: Integration) -> None:
        self.integration = integration
        self.trees = {m: ast.parse(m.read_text(), str(m)) for m in integration.modules()}
        self.nodes = [(m, n) for m, tree in self.trees.items() for n in ast.walk(tree)]

    def functions(self, name: str) -> list[ast.AST]:
        return [
            n
            for _, n in self.nodes
            if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name == name
        ]

    def calls(self, name: str) -> bool:
        return any(isinstance(n, ast.Call) and _call_name(n) == name for _, n in self.nodes)

    def entity_classes(self) -> dict[str, set[str]]:
        """Local entity classes and the `_attr_*` names each (with its local bases) sets."""
        classes = {n.name: n for _, n in self.nodes if isinstance(n, ast.ClassDef)}

        def bases(node: ast.ClassDef) -> list[str]:
            return [b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases]

        def is_entity(name: str) -> bool:
            node = classes.get(name)
            return node is not None and any(
                b.endswith("Entity") or is_entity(b) for b in bases(node)
            )

        def attrs(name: str) -> set[str]:
            node = classes.get(name)
            if node is None:
                return set()
            found = {
                target.id if isinstance(target, ast.Name) else target.attr
                for n in ast.walk(node)
                if isinstance(n, ast.Assign | ast.AnnAssign)
                for target in (n.targets if isinstance(n, ast.Assign) else [n.target])
                if isinstance(target, ast.Name | ast.Attribute)
            }
            found |= {
                n.name for n in node.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
            }
            return found.union(*(attrs(b) for b in bases(node)))

        # A local base of other entity classes (shared device info, say) is not an entity of
        # its own: the classes built on it are checked, with what they inherit from it.
        based_on = {b for node in classes.values() for b in bases(node)}
        return {name: attrs(name) for name in classes if is_entity(name) and name not in based_on}


def _call_name(node: ast.Call) -> str | None:
    func = node.func
    return func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)


def _probe_quality_rule(rule: str, integration: Integration, code: _Code) -> str | None:
    """Why a `done` claim is false, when the code shows it; None when it holds (or is unknowable)."""
    path, manifest = integration.path, integration.manifest
    platforms = {p.value for p in Platform}
    entities = code.entity_classes()
    match rule:
        case "brands":
            return None if (path / "brand" / "icon.png").is_file() else "no brand/icon.png"
        case "integration-owner":
            return None if manifest.get("codeowners") else "manifest.json has no codeowners"
        case "config-flow":
            ok = manifest.get("config_flow") is True and (path / "config_flow.py").is_file()
            return None if ok else "no config flow (manifest config_flow, config_flow.py)"
        case "unique-config-entry":
            ok = code.calls("_abort_if_unique_id_configured") or code.calls(
                "_async_abort_entries_match"
            )
            return None if ok else "the config flow never aborts on an existing entry"
        case "reauthentication-flow":
            return None if code.functions("async_step_reauth") else "no async_step_reauth"
        case "reconfiguration-flow":
            return None if code.functions("async_step_reconfigure") else "no async_step_reconfigure"
        case "config-entry-unloading":
            return None if code.functions("async_unload_entry") else "no async_unload_entry"
        case "action-setup":
            return (
                None if code.functions("async_setup") else "no async_setup to register actions in"
            )
        case "test-before-setup":
            setups = code.functions("async_setup_entry")
            ok = any(isinstance(n, ast.Raise) for f in setups for n in ast.walk(f))
            return None if ok else "async_setup_entry raises nothing when the service fails"
        case "diagnostics":
            names = ("async_get_config_entry_diagnostics", "async_get_device_diagnostics")
            return None if any(code.functions(n) for n in names) else "no diagnostics"
        case "icon-translations":
            return None if (path / "icons.json").is_file() else "no icons.json"
        case "exception-translations":
            bare = [
                f"{integration.rel(m)}:{n.lineno}"
                for m, n in code.nodes
                if isinstance(n, ast.Call)
                and _call_name(n) in _TRANSLATABLE_ERRORS
                and "translation_key" not in {k.arg for k in n.keywords}
            ]
            return f"untranslated errors raised at {', '.join(bare)}" if bare else None
        case "parallel-updates":
            missing = [
                m.name
                for m in sorted(path.glob("*.py"))
                if m.stem in platforms
                and not any(
                    isinstance(n, ast.Assign)
                    and any(
                        isinstance(t, ast.Name) and t.id == "PARALLEL_UPDATES" for t in n.targets
                    )
                    for n in code.trees[m].body
                )
            ]
            return f"no PARALLEL_UPDATES in {', '.join(missing)}" if missing else None
        case "has-entity-name" | "entity-unique-id" | "entity-translations":
            needed = {
                "has-entity-name": {"_attr_has_entity_name", "has_entity_name"},
                "entity-unique-id": {"_attr_unique_id", "unique_id"},
                "entity-translations": {"_attr_translation_key", "translation_key"},
            }[rule]
            lacking = sorted(name for name, attrs in entities.items() if not attrs & needed)
            return f"{', '.join(lacking)} set none of {sorted(needed)}" if lacking else None
        case "dependency-transparency":
            loose = [r for r in manifest.get("requirements", []) if "==" not in r]
            return f"unpinned requirements {loose}" if loose else None
    return None


def check_quality_scale(root: Path) -> Problems:
    """quality_scale.yaml lists every rule, in hassfest's form, and no `done` the code denies."""
    problems: Problems = []
    for integration in integrations(root):
        path = integration.path / "quality_scale.yaml"
        if not path.is_file():
            continue
        rel = integration.rel(path)
        try:
            data = load_yaml_dict(path)
        except HomeAssistantError as err:
            problems.append(f"{rel}: {err}")
            continue
        if not _validate(QUALITY_SCALE_SCHEMA, data, rel, problems):
            continue
        rules = data["rules"]
        problems += [
            f"{rel}: rule {rule} is not listed" for rule in QUALITY_RULES if rule not in rules
        ]
        code = _Code(integration)
        for rule, value in rules.items():
            status = value["status"] if isinstance(value, dict) else value
            if status == "done" and (why := _probe_quality_rule(rule, integration, code)):
                problems.append(f"{rel}: {rule} is done, but {why}")
    return problems


# --- running --------------------------------------------------------------------------------

CHECKS: dict[str, Callable[[Path], Problems]] = {
    "dependencies": check_dependencies,
    "manifest": check_manifest,
    "hacs": check_hacs,
    "services": check_services,
    "strings": check_strings,
    "icons": check_icons,
    "blueprints": check_blueprints,
    "brand": check_brand,
    "quality_scale": check_quality_scale,
}


def run(root: Path = ROOT) -> dict[str, Problems]:
    """Every check's problems, by check name."""
    return {name: check(root) for name, check in CHECKS.items()}


def main(argv: list[str]) -> int:
    """Print each check's result; exit 1 when any found a problem."""
    root = Path(argv[0]).resolve() if argv else ROOT
    failed = False
    for name, problems in run(root).items():
        print(f"{name}: {'ok' if not problems else f'{len(problems)} problem(s)'}")
        for problem in problems:
            print(f"  - {problem}")
        failed |= bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
