"""The `host` deploy backend in .github/modbot.toml: checked strictly like the others, left out of the
workflows' inputs (no workflow runs in single-host mode), and refused by `modbot pipeline deploy`
(a release there is a directory modbot's deployer switches, not an image a step can deploy)."""

from __future__ import annotations

import pytest

from bot.host.layout import Layout
from bot.host.restart import CommandRestart, SupervisedRestart, restarter_for
from bot.host.supervisor import Supervisor
from bot.pipeline.config import PolicyError, parse_pipeline_config, workflow_render_inputs
from bot.pipeline.deploy import DeployError, deploy_steps
from tests.host_world import host_config

PORTS = {"staging": 8101, "production": 8102}


def with_host(table: str) -> str:
    return host_config(PORTS).replace('host = { port = 8101, stop_timeout = "5s" }', f"host = {table}")


def problems(text: str) -> list[str]:
    with pytest.raises(PolicyError) as caught:
        parse_pipeline_config(text)
    return [str(p) for p in caught.value.problems]


def test_a_host_environment_parses_with_its_defaults() -> None:
    env = parse_pipeline_config(host_config(PORTS)).environment("staging")
    assert env.backend == "host" and env.host is not None
    assert (env.host.port, env.host.bind, env.host.args, env.host.restart_command) == (
        8101,
        "127.0.0.1",
        [],
        None,
    )
    assert env.host.stop_timeout == "5s"


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ("{ port = 0 }", "environments[0].host.port"),
        ("{ port = 70000 }", "environments[0].host.port"),
        ('{ port = "8101" }', "environments[0].host.port"),
        ('{ port = 8101, args = ["--port", "{prot}"] }', 'unknown placeholder "{prot}"'),
        ('{ port = 8101, restart_command = "systemctl restart x ; rm -rf /" }', "run without a shell"),
        ('{ port = 8101, restart_command = "restart $UNIT" }', "expects shell expansion"),
        ('{ port = 8101, bind = "0.0.0.0 --evil" }', "environments[0].host.bind"),
        ('{ port = 8101, colour = "blue" }', "environments[0].host.colour"),
        ('{ port = 8101, workdir = "srv/rustok" }', "an absolute path"),
        ('{ port = 8101, workdir = "/srv/../etc" }', 'without ".."'),
        ('{ port = 8101, pass_env = ["DATABASE URL"] }', "environments[0].host.pass_env[0]"),
    ],
)
def test_bad_host_settings_are_named(table: str, expected: str) -> None:
    assert any(expected in line for line in problems(with_host(table))), problems(with_host(table))


def test_host_and_another_backend_table_is_refused() -> None:
    text = with_host('{ port = 8101 }\ncommand = "deploy.sh {image}"')
    assert any("`command` is set too" in line for line in problems(text))
    text = host_config(PORTS).replace(
        'backend = "host"\nhost = { port = 8101, stop_timeout = "5s" }', 'backend = "host"'
    )
    assert any("no `host` setting" in line for line in problems(text))


def test_host_settings_are_not_workflow_inputs() -> None:
    config = parse_pipeline_config(host_config(PORTS))
    inputs = workflow_render_inputs(config)
    assert all("host" not in env for env in inputs["environments"])
    other = parse_pipeline_config(
        host_config({"staging": 9999, "production": 8102}).replace(":9999", ":8101")
    )
    assert workflow_render_inputs(other) == inputs  # moving the server's port changes no workflow


def test_pipeline_deploy_refuses_the_host_backend_with_the_reason() -> None:
    env = parse_pipeline_config(host_config(PORTS)).environment("staging")
    with pytest.raises(DeployError, match="single-host deployer"):
        deploy_steps(
            env, image="ghcr.io/rustok/rustok-mini@sha256:" + "a" * 64, release_id="rel_2026_12_07_001"
        )


def test_the_restart_command_replaces_the_supervisor(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pathlib import Path

    layout = Layout(Path(str(tmp_path)))
    supervisor = Supervisor(layout)
    text = with_host(
        "{ port = 8101, restart_command = \"systemctl restart 'rustok@{environment}' --no-block\" }"
    )
    env = parse_pipeline_config(text).environment("staging")
    monkeypatch.delenv("RUSTOK_OBSERVABILITY_BEARER_TOKEN", raising=False)
    chosen = restarter_for(layout, supervisor, env)
    assert (
        isinstance(chosen, CommandRestart) and chosen.token() is None
    )  # the operator's server, the operator's token
    supervised = restarter_for(
        layout, supervisor, parse_pipeline_config(host_config(PORTS)).environment("production")
    )
    assert isinstance(supervised, SupervisedRestart)
    token = supervised.token()
    assert token is not None and (layout.environment_dir("production") / "health-token").read_text() == token
    again = restarter_for(
        layout, supervisor, parse_pipeline_config(host_config(PORTS)).environment("production")
    )
    assert again.token() == token  # kept across restarts of modbot
