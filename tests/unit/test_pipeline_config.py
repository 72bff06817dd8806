"""The pipeline config (.github/modbot.toml): good and bad files, every problem with its TOML path,
the JSON Schema agreeing with the model, the deploy command template."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import tomli

from bot.manifest import validate_text
from bot.pipeline.config import (
    PolicyError,
    command_argv,
    command_template_problem,
    duration_seconds,
    load_pipeline_config,
    manifest_problems,
    parse_pipeline_config,
    pipeline_config_json_schema,
    repository_root,
)

PIN = "modbot @ git+https://github.com/rustok/modbot@0123456789abcdef0123456789abcdef01234567"

GOOD = f"""
[build]
package = "rustok-server"
manifest = "modules.toml"
cargo_toml = "apps/server/Cargo.toml"
feature_prefix = "mod-"
extra_features = ["redis-cache"]
toolchain = "1.95.0"
workspace = "."

[image]
registry = "ghcr.io"
repository = "rustok/rustok-server"
dockerfile = "Dockerfile"
context = "."

[[environments]]
name = "staging"
url = "https://staging.example.com"
auto_deploy = true
health_token_env = "RUSTOK_HEALTH_TOKEN"
backend = "kubernetes"
kubernetes = {{ namespace = "rustok", deployment = "rustok-server", container = "server", timeout = "300s" }}

[[environments]]
name = "prod-eu"
url = "https://rustok.example.com/"
backend = "compose"
compose = {{ file = "deploy/compose.yml", service = "server" }}

[[environments]]
name = "lab"
url = "http://127.0.0.1:8080"
backend = "command"
command = "deploy/run.sh --image {{image}} {{release_id}} {{environment}}"

[workflows]
modbot_install = "{PIN}"
default_branch = "main"
runs_on = "ubuntu-24.04"
"""

MINIMAL = """
[image]
repository = "rustok/rustok-server"
[[environments]]
name = "staging"
url = "https://staging.example.com"
backend = "command"
command = "./deploy.sh {image}"
[workflows]
modbot_install = "modbot==0.1.0"
"""


def problems_of(text: str) -> dict[str, str]:
    with pytest.raises(PolicyError) as info:
        parse_pipeline_config(text)
    return {problem.path: problem.message for problem in info.value.problems}


def test_good_config_parses_with_its_values() -> None:
    config = parse_pipeline_config(GOOD)
    assert config.build.extra_features == ["redis-cache"]
    assert config.image.name == "ghcr.io/rustok/rustok-server"
    staging = config.environment("staging")
    assert staging.auto_deploy is True
    assert staging.deploy_tag == "deploy/staging"
    assert staging.kubernetes is not None
    assert staging.kubernetes.timeout == "300s"
    assert config.environment("prod-eu").compose is not None
    assert config.environment("lab").auto_deploy is False
    assert config.headless is None
    with pytest.raises(KeyError, match="known: staging, prod-eu, lab"):
        config.environment("production")


def test_minimal_config_takes_documented_defaults() -> None:
    config = parse_pipeline_config(MINIMAL)
    assert config.build.package == "rustok-server"
    assert config.build.feature_prefix == "mod-"
    assert config.build.cargo_toml == "apps/server/Cargo.toml"
    assert config.build.toolchain == "1.95.0"
    assert config.image.registry == "ghcr.io"
    assert config.workflows.default_branch == "main"
    assert config.environments[0].smoke_timeout == "120s"


def test_every_problem_is_listed_with_its_toml_path() -> None:
    bad = """
[build]
pakage = "x"
toolchain = "stable"
extra_features = ["a b", "ok"]
cargo_toml = "../outside/Cargo.toml"
[image]
repository = "Rustok/Server"
[[environments]]
name = "Staging"
url = "ftp://x"
auto_deploy = "yes"
backend = "kubernetes"
kubernetes = { namespace = "rustok", deployment = "rustok-server", container = "server", timeout = "soon" }
[[environments]]
name = "prod"
url = "https://user:secret@example.com"
backend = "command"
command = "deploy.sh {image} | tee log"
[workflows]
modbot_install = "modbot"
"""
    found = problems_of(bad)
    assert set(found) == {
        "build.pakage",
        "build.toolchain",
        "build.extra_features[0]",
        "build.cargo_toml",
        "image.repository",
        "environments[0].name",
        "environments[0].url",
        "environments[0].auto_deploy",
        "environments[0].kubernetes.timeout",
        "environments[1].url",
        "environments[1].command",
        "workflows.modbot_install",
    }
    assert "unknown key" in found["build.pakage"]
    assert "not pinned" in found["build.toolchain"]
    assert "outside the repository" in found["build.cargo_toml"]
    assert "credentials" in found["environments[1].url"]
    assert "secret" not in found["environments[1].url"].replace("a secret", "")
    assert "without a shell" in found["environments[1].command"]
    assert "valid boolean" in found["environments[0].auto_deploy"]


def test_error_message_names_the_file_and_counts() -> None:
    with pytest.raises(PolicyError) as info:
        parse_pipeline_config("", source="x/modbot.toml")
    text = str(info.value)
    assert text.startswith("x/modbot.toml: invalid pipeline config (3 problems):")
    assert "image: required key is missing" in text
    assert "environments: required key is missing" in text
    assert "workflows: required key is missing" in text


def test_invalid_toml_and_bytes(tmp_path: Path) -> None:
    assert "not valid TOML" in problems_of("[image\n")[""]
    bad = tmp_path / "modbot.toml"
    bad.write_bytes(b"\xff\xfe[image]")
    with pytest.raises(PolicyError, match="not UTF-8"):
        load_pipeline_config(bad)
    with pytest.raises(OSError):
        load_pipeline_config(tmp_path / "missing.toml")


@pytest.mark.parametrize(
    ("fragment", "path", "needle"),
    [
        ('backend = "kubernetes"', "environments[0]", "no `kubernetes` setting"),
        (
            'backend = "command"\ncommand = "x"\ncompose = { file = "c.yml", service = "s" }',
            "environments[0]",
            "`compose` is set too",
        ),
        ('backend = "swarm"\ncommand = "x"', "environments[0].backend", "kubernetes"),
    ],
)
def test_backend_must_match_its_settings(fragment: str, path: str, needle: str) -> None:
    text = f"""
[image]
repository = "r/s"
[[environments]]
name = "staging"
url = "https://x.example"
{fragment}
[workflows]
modbot_install = "modbot==1.0"
"""
    found = problems_of(text)
    assert needle in found[path]


def test_duplicate_environment_names_are_refused() -> None:
    text = (
        MINIMAL
        + '[[environments]]\nname = "staging"\nurl = "https://y"\nbackend = "command"\ncommand = "z"\n'
    )
    # the [[environments]] after [workflows] is still the same array of tables
    found = problems_of(text)
    assert 'environment name "staging" appears more than once' in found[""]


@pytest.mark.parametrize(
    "value",
    [
        "modbot",
        "modbot>=0.1",
        "modbot @ git+https://github.com/rustok/modbot@main",
        "modbot @ git+https://github.com/rustok/modbot@0123456789abcdef0123456789abcdef01234567; rm -rf /",
        "modbot @ git+https://github.com/rustok/modbot@0123456789ABCDEF0123456789abcdef01234567",
        "modbot @ git+http://github.com/rustok/modbot@0123456789abcdef0123456789abcdef01234567",
        "modbot==1.0 $(id)",
    ],
)
def test_modbot_install_must_be_pinned(value: str) -> None:
    text = MINIMAL.replace('"modbot==0.1.0"', json.dumps(value))
    assert "pinned" in problems_of(text)["workflows.modbot_install"]


@pytest.mark.parametrize("value", ["main", "release/2026", "trunk"])
def test_default_branch_accepts_plain_names(value: str) -> None:
    config = parse_pipeline_config(MINIMAL + f'default_branch = "{value}"\n')
    assert config.workflows.default_branch == value


@pytest.mark.parametrize("value", ["ma in", "-x", "a..b", "$(id)", "a;b", "x/"])
def test_default_branch_refuses_shell_and_bad_refs(value: str) -> None:
    assert "workflows.default_branch" in problems_of(MINIMAL + f"default_branch = {json.dumps(value)}\n")


def test_headless_ui_config() -> None:
    text = (
        MINIMAL
        + """
[[headless.ui]]
name = "admin"
repository = "rustok/rustok-admin"
dockerfile = "apps/admin/Dockerfile"
[[headless.ui]]
name = "storefront"
repository = "rustok/rustok-storefront"
dockerfile = "apps/storefront/Dockerfile"
deployment = "rustok-storefront"
"""
    )
    config = parse_pipeline_config(text)
    assert config.headless is not None
    assert [ui.name for ui in config.headless.ui] == ["admin", "storefront"]
    assert config.headless.ui[0].context == "."
    dup = MINIMAL + '[[headless.ui]]\nname = "a"\nrepository = "r/a"\ndockerfile = "D"\n' * 2
    assert 'headless.ui name "a" appears more than once' in problems_of(dup)["headless"]


def test_headless_section_is_required_iff_the_manifest_is_headless() -> None:
    monolith = validate_text('schema = 2\napp = "rustok-server"\n[modules]\n').manifest
    headless = validate_text(
        'schema = 2\napp = "rustok-server"\n[build.server]\nembed_admin = false\n[modules]\n'
    ).manifest
    assert monolith is not None
    assert headless is not None
    plain = parse_pipeline_config(MINIMAL)
    with_ui = parse_pipeline_config(
        MINIMAL + '[[headless.ui]]\nname = "admin"\nrepository = "r/a"\ndockerfile = "D"\n'
    )
    assert manifest_problems(plain, monolith) == []
    assert manifest_problems(with_ui, headless) == []
    assert "needs [[headless.ui]]" in manifest_problems(plain, headless)[0].message
    assert "remove" in manifest_problems(with_ui, monolith)[0].message


@pytest.mark.parametrize(
    ("template", "needle"),
    [
        ("", "empty"),
        ("deploy.sh {image} > log", "shell operator"),
        ("deploy.sh {image}; reboot", None),  # `{image};` is one word: no shell, so `;` is harmless
        ("deploy.sh $IMAGE", "without a shell"),
        ("deploy.sh {tag}", "unknown placeholder"),
        ("deploy.sh {image.__class__}", "unknown placeholder"),
        ("deploy.sh {image", 'unmatched "{"'),
        ("{image} run", "program"),
        ("deploy.sh 'unclosed", "quotes"),
    ],
)
def test_command_template_checks(template: str, needle: str | None) -> None:
    problem = command_template_problem(template)
    if needle is None:
        assert problem is None
    else:
        assert problem is not None
        assert needle in problem


def test_command_values_are_never_split_or_interpreted() -> None:
    argv = command_argv(
        "deploy/run.sh --image={image} 'two words' {release_id} {environment}",
        {"image": "x@sha256:1 ; rm -rf /", "release_id": "$(id)", "environment": "staging", "service": "s"},
    )
    assert argv == ["deploy/run.sh", "--image=x@sha256:1 ; rm -rf /", "two words", "$(id)", "staging"]


def test_durations() -> None:
    assert duration_seconds("300s") == 300
    assert duration_seconds("5m") == 300
    assert duration_seconds("2h") == 7200
    for bad in ("0s", "5", "1d", "1.5m", "-3s"):
        with pytest.raises(ValueError, match="duration"):
            duration_seconds(bad)


def test_repository_root(tmp_path: Path) -> None:
    assert repository_root(tmp_path / ".github" / "modbot.toml") == tmp_path.resolve()
    assert repository_root(tmp_path / "ci" / "modbot.toml") == (tmp_path / "ci").resolve()


def test_json_schema_agrees_with_the_model() -> None:
    schema = pipeline_config_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for text in (GOOD, MINIMAL):
        assert list(validator.iter_errors(tomli.loads(text))) == []
    # typos and wrong shapes are caught by editors too
    typo = tomli.loads(MINIMAL.replace("[image]", "[image]\nregistri = 'x'"))
    assert any("registri" in err.message for err in validator.iter_errors(typo))
    wrong = tomli.loads(MINIMAL.replace('name = "staging"', 'name = "Staging!"'))
    assert list(validator.iter_errors(wrong))
    unpinned = tomli.loads(MINIMAL.replace('url = "https', 'url = "ftp'))
    assert list(validator.iter_errors(unpinned))


def test_schema_and_config_commands(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from bot.cli import main

    assert main(["pipeline", "schema"]) == 0
    assert json.loads(capsys.readouterr().out) == pipeline_config_json_schema()
    (tmp_path / ".github").mkdir()
    config = tmp_path / ".github/modbot.toml"
    config.write_text(MINIMAL)
    module = 'outbox = { crate = "rustok-outbox", source = "crates-io", version = "1" }\n'
    (tmp_path / "modules.toml").write_text('schema = 2\napp = "rustok-server"\n[modules]\n' + module)
    assert main(["pipeline", "config", "--config", str(config)]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["build"]["feature_prefix"] == "mod-" and shown["environments"][0]["name"] == "staging"
    (tmp_path / "modules.toml").write_text(
        'schema = 2\napp = "rustok-server"\n[build.server]\nembed_admin = false\n[modules]\n' + module
    )
    assert main(["pipeline", "config", "--config", str(config)]) == 1
    assert "needs [[headless.ui]]" in capsys.readouterr().err
    config.write_text(MINIMAL.replace("[image]", "[image]\nregistri = 'x'"))
    assert main(["pipeline", "config", "--config", str(config)]) == 2
    assert "image.registri: unknown key" in capsys.readouterr().err


# --- the chat-ops policy ---------------------------------------------------------------------------

POLICY = (
    MINIMAL
    + """
[[environments]]
name = "prod"
url = "https://rustok.example.com"
backend = "command"
command = "./deploy.sh {image}"
deployers = ["Alice", "rustok/release-managers"]
frozen = true
freeze_reason = "end-of-year freeze until 2027-01-04"

[[environments]]
name = "canary"
url = "https://canary.example.com"
backend = "command"
command = "./deploy.sh {image}"
deploy_permission = "admin"

[chatops]
require_approval = false
lock_timeout = "2h"
validate_permission = "write"
rebuild_permission = "maintain"
build_workflow = "build.yaml"
deploy_workflow = "deploy.yml"
"""
)


def test_policy_fields_parse() -> None:
    config = parse_pipeline_config(POLICY)
    prod = config.environment("prod")
    assert prod.deployers == ["Alice", "rustok/release-managers"]
    assert prod.frozen is True
    assert prod.freeze_reason == "end-of-year freeze until 2027-01-04"
    assert prod.required_permission == "maintain"
    assert config.environment("canary").required_permission == "admin"
    chatops = config.chatops
    assert chatops.require_approval is False
    assert chatops.lock_timeout_seconds == 7200
    assert (chatops.validate_permission, chatops.rebuild_permission) == ("write", "maintain")
    assert (chatops.build_workflow, chatops.deploy_workflow) == ("build.yaml", "deploy.yml")


@pytest.mark.parametrize(
    ("name", "role"),
    [("prod", "maintain"), ("production", "maintain"), ("prod-eu", "write"), ("qa", "write")],
)
def test_policy_defaults(name: str, role: str) -> None:
    config = parse_pipeline_config(MINIMAL.replace('name = "staging"', f'name = "{name}"'))
    env = config.environments[0]
    assert env.deploy_permission is None
    assert env.required_permission == role
    assert env.deployers == []
    assert env.frozen is False
    assert env.freeze_reason is None
    chatops = config.chatops
    assert chatops.require_approval is True
    assert chatops.lock_timeout == "60m"
    assert chatops.lock_timeout_seconds == 3600
    assert (chatops.validate_permission, chatops.rebuild_permission) == ("triage", "write")
    assert (chatops.build_workflow, chatops.deploy_workflow) == ("modbot-build.yml", "modbot-deploy.yml")


def test_the_examples_parse_with_default_policy() -> None:
    root = Path(__file__).resolve().parents[2] / "examples"
    configs = sorted(root.glob("*/.github/modbot.toml"))
    assert configs
    for path in configs:
        config = load_pipeline_config(path)
        assert config.chatops == parse_pipeline_config(MINIMAL).chatops
        assert all(env.deployers == [] and not env.frozen for env in config.environments)


@pytest.mark.parametrize(
    "deployer",
    [
        "alice",
        "a",
        "Alice-Smith",
        "a1-b2-c3",
        "x" * 39,
        "rustok/release",
        "Rustok-Org/team-1",
        "o/" + "t" * 100,
    ],
)
def test_deployers_accept_logins_and_teams(deployer: str) -> None:
    config = parse_pipeline_config(_env_keys(f"deployers = [{json.dumps(deployer)}]"))
    assert config.environments[0].deployers == [deployer]


def _env_keys(lines: str) -> str:
    """MINIMAL with `lines` added to its one environment."""
    return MINIMAL.replace(
        'command = "./deploy.sh {image}"\n', f'command = "./deploy.sh {{image}}"\n{lines}\n'
    )


@pytest.mark.parametrize(
    ("deployer", "needle"),
    [
        ("-alice", "not a GitHub login"),
        ("alice-", "not a GitHub login"),
        ("al--ice", "not a GitHub login"),
        ("al_ice", "not a GitHub login"),
        ("x" * 40, "not a GitHub login"),
        ("", "not a GitHub login"),
        ("@alice", "not a GitHub login"),
        ("dependabot[bot]", "is a bot"),
        ("rustok/Release", '"Release" is not a team slug'),
        ("rustok/-x", '"-x" is not a team slug'),
        ("rustok/", '"" is not a team slug'),
        ("rustok/a_b", '"a_b" is not a team slug'),
        ("rus_tok/release", '"rus_tok" is not a GitHub organization name'),
        ("/release", '"" is not a GitHub organization name'),
        ("a/b/c", "neither a login"),
    ],
)
def test_deployers_refuse_bad_syntax_with_the_entry_path(deployer: str, needle: str) -> None:
    found = problems_of(_env_keys(f'deployers = ["ok", {json.dumps(deployer)}]'))
    assert list(found) == ["environments[0].deployers[1]"]
    assert needle in found["environments[0].deployers[1]"]


def test_deployers_refuse_duplicates_whatever_the_case() -> None:
    found = problems_of(_env_keys('deployers = ["alice", "rustok/ops", "Alice"]'))
    assert found == {"environments[0].deployers": 'deployer "alice" appears more than once'}


@pytest.mark.parametrize(
    ("lines", "path", "needle"),
    [
        ('deploy_permission = "none"', "environments[0].deploy_permission", "'admin', 'maintain'"),
        ('deploy_permission = "owner"', "environments[0].deploy_permission", "'admin', 'maintain'"),
        ('deploy_permission = "Maintain"', "environments[0].deploy_permission", "'admin', 'maintain'"),
        ('deployers = "alice"', "environments[0].deployers", "valid list"),
        ('frozen = "yes"', "environments[0].frozen", "valid boolean"),
        ("frozen = 1", "environments[0].frozen", "valid boolean"),
        ('freeze_reason = "line one\\nline two"', "environments[0].freeze_reason", "one line"),
        ('freeze_reason = "tab\\there"', "environments[0].freeze_reason", "one line"),
        ('freeze_reason = "   "', "environments[0].freeze_reason", "blank"),
        (f'freeze_reason = "{"x" * 201}"', "environments[0].freeze_reason", "at most 200 characters"),
        ("freeze_reason = 3", "environments[0].freeze_reason", "valid string"),
    ],
)
def test_environment_policy_refuses_bad_values(lines: str, path: str, needle: str) -> None:
    found = problems_of(_env_keys(lines))
    assert list(found) == [path]
    assert needle in found[path]


def test_freeze_reason_of_200_characters_is_fine() -> None:
    config = parse_pipeline_config(_env_keys(f'frozen = true\nfreeze_reason = "{"x" * 200}"'))
    assert config.environments[0].freeze_reason == "x" * 200


@pytest.mark.parametrize(
    ("lines", "path", "needle"),
    [
        ('require_approval = "false"', "chatops.require_approval", "valid boolean"),
        ('lock_timeout = "1d"', "chatops.lock_timeout", "duration"),
        ('lock_timeout = "25h"', "chatops.lock_timeout", "longer than 24h"),
        ("lock_timeout = 60", "chatops.lock_timeout", "valid string"),
        ('validate_permission = "none"', "chatops.validate_permission", "'triage'"),
        ('rebuild_permission = "root"', "chatops.rebuild_permission", "'triage'"),
        ('build_workflow = "build"', "chatops.build_workflow", "does not match"),
        ('build_workflow = "../x.yml"', "chatops.build_workflow", "does not match"),
        ('deploy_workflow = "workflows/deploy.yml"', "chatops.deploy_workflow", "does not match"),
        ('deploy_workflow = "deploy.yml "', "chatops.deploy_workflow", "does not match"),
        ('deploy_workflow = "modbot-build.yml"', "chatops", "both"),
        ('comand_permission = "write"', "chatops.comand_permission", "unknown key"),
    ],
)
def test_chatops_table_refuses_bad_values(lines: str, path: str, needle: str) -> None:
    found = problems_of(MINIMAL + f"[chatops]\n{lines}\n")
    assert list(found) == [path]
    assert needle in found[path]


def test_policy_agrees_with_the_json_schema() -> None:
    validator = jsonschema.Draft202012Validator(pipeline_config_json_schema())
    assert list(validator.iter_errors(tomli.loads(POLICY))) == []
    for bad in (
        _env_keys('deployers = ["-alice"]'),
        _env_keys('deploy_permission = "none"'),
        MINIMAL + '[chatops]\nbuild_workflow = "x.json"\n',
        MINIMAL + "[chatops]\nrequire_approval = 1\n",
    ):
        assert list(validator.iter_errors(tomli.loads(bad))), bad


def test_the_policy_does_not_change_the_rendered_workflows() -> None:
    from bot.workflows import inputs_digest

    manifest = validate_text('schema = 2\napp = "rustok-server"\n[modules]\n').manifest
    assert manifest is not None
    plain = parse_pipeline_config(MINIMAL)
    with_policy = parse_pipeline_config(
        _env_keys('deploy_permission = "admin"\ndeployers = ["alice"]\nfrozen = true\nfreeze_reason = "x"')
        + "[chatops]\nrequire_approval = false\n"
    )
    assert with_policy != plain
    assert inputs_digest(with_policy, manifest) == inputs_digest(plain, manifest)
    moved = parse_pipeline_config(MINIMAL.replace("staging.example.com", "elsewhere.example.com"))
    assert inputs_digest(moved, manifest) != inputs_digest(plain, manifest)
