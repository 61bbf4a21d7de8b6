"""`outeai config`: read and change the settings file; show where each setting comes from."""

# No `from __future__ import annotations` here: Typer would re-evaluate every string
# annotation at start-up, a measurable share of `outeai --help`.

from typing import Annotated, Any

import typer

from outeai_cli.cli.options import BaseUrlOpt, ProfileOpt, TokenOpt, examples
from outeai_cli.cli.terminal import Terminal
from outeai_cli.settings.table import SETTINGS

EPILOG = examples(
    "outeai config set token              # hidden prompt, or one line from stdin",
    "outeai config set token < token.txt",
    "outeai config set speaker EN-MALE-1-NEUTRAL",
    "outeai config set --profile local base_url http://127.0.0.1:8765/api/v1",
    "outeai config show",
    "outeai config get token --reveal",
    "outeai config unset temperature",
)

app = typer.Typer(
    name="config",
    help="Read and change settings ("
    + ", ".join(SETTINGS)
    + "). Precedence: flag > environment > profile > file > default.",
    no_args_is_help=True,
)

KeyArg = Annotated[str, typer.Argument(help=f"One of: {', '.join(SETTINGS)}.", show_default=False)]
RevealOpt = Annotated[
    bool, typer.Option("--reveal", help="Print the token whole instead of masked.")
]
SettingProfileOpt = Annotated[
    str | None,
    typer.Option(
        "--profile",
        help="Act on the [profiles.NAME] table instead of the top level.",
        show_default=False,
    ),
]


def _display(name: str, value: Any, reveal: bool = False) -> str:
    """How a value is printed: the token masked unless revealed, numbers without noise, and
    yes/no as typed and stored (`true`, not Python's `True`)."""
    from outeai_cli.security import mask_token

    if value is None:
        return "(not set)"
    if name == "token" and not reveal:
        return mask_token(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _table(profile: str | None) -> str:
    return f" [profiles.{profile}]" if profile else ""


def _say(text: str) -> None:
    Terminal.current().print_err(f"outeai: {text}")


def _warn(warnings: list[str]) -> None:
    for warning in warnings:
        _say(f"warning: {warning}")


def _read_token() -> str:
    """A hidden prompt on a terminal; otherwise the first line of stdin."""
    from outeai_cli.errors import InputError

    terminal = Terminal.current()
    if terminal.stdin_is_tty:
        return terminal.prompt_hidden("API token")
    line = terminal.stdin_bytes.readline().decode("utf-8", "replace")
    if not line.strip():
        raise InputError(
            "no token on stdin",
            hint="pipe it in (outeai config set token < token.txt) or run it in a terminal",
        )
    return str(line.strip())


def _current(name: str, profile: str | None) -> tuple[Any, str] | None:
    """The effective value and its source after a change, or None if it cannot be resolved."""
    from outeai_cli.errors import ConfigError
    from outeai_cli.settings.config import Settings

    try:
        resolved = Settings(profile=profile).resolve(name)
    except ConfigError:
        return None
    return resolved.value, resolved.source


@app.command("set", epilog=EPILOG)
def set_(
    key: KeyArg,
    value: Annotated[
        str | None,
        typer.Argument(
            help="The value. For the token, omit it: you are prompted (hidden) or it is "
            "read from stdin, so it stays out of shell history and the process list.",
            show_default=False,
        ),
    ] = None,
    profile: SettingProfileOpt = None,
) -> None:
    """Validate and save one setting in the config file."""
    from outeai_cli.errors import InputError
    from outeai_cli.settings import config
    from outeai_cli.settings.file import load_file
    from outeai_cli.settings.table import setting_name

    name = setting_name(key)
    if value is None:
        if name != "token":
            raise InputError(
                f"give a value: outeai config set {name} VALUE",
                hint=f"{name} is the {SETTINGS[name].help}",
            )
        load_file()  # refuse a corrupt file before asking for anything
        value = _read_token()
    elif name == "token":
        _say(
            "note: a token typed on the command line stays in your shell history; "
            "next time run 'outeai config set token' and paste it at the prompt"
        )
    name, stored, path = config.set_setting(name, value, profile=profile)
    _say(f"set {name} = {_display(name, stored)} in {path}{_table(profile)}")
    current = _current(name, profile)
    expected = config.where(profile)
    if current is not None and current[1] != expected:
        _say(f"note: {name} is still taken from the {current[1]}, which comes first")


@app.command("get", epilog=EPILOG)
def get(key: KeyArg, profile: ProfileOpt = None, reveal: RevealOpt = False) -> None:
    """Print the effective value of one setting (the token masked unless --reveal)."""
    from outeai_cli.errors import Advice, AuthenticationError, Fix
    from outeai_cli.settings.config import Settings
    from outeai_cli.settings.table import setting_name

    name = setting_name(key)
    settings = Settings(profile=profile)
    _warn(settings.warnings)
    value = settings.resolve(name).value
    if value is None:
        if name == "token":
            raise AuthenticationError("no API token", advice=(Advice(Fix.GIVE, "token"),))
        _say(f"{name} is not set")
        return
    Terminal.current().print_out(_display(name, value, reveal))


@app.command("unset", epilog=EPILOG)
def unset(key: KeyArg, profile: SettingProfileOpt = None) -> None:
    """Remove one setting from the config file (environment variables are not touched)."""
    from outeai_cli.settings import config

    name, removed, path = config.unset_setting(key, profile=profile)
    if removed:
        _say(f"removed {name} from {path}{_table(profile)}")
    else:
        _say(f"{name} was not set in {path}{_table(profile)}; nothing changed")
    current = _current(name, profile)
    if current is not None:
        _say(f"{name} is now {_display(name, current[0])} (from the {current[1]})")


@app.command("show", epilog=EPILOG)
def show(
    profile: ProfileOpt = None,
    reveal: RevealOpt = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a JSON object for scripts.")
    ] = False,
    token: TokenOpt = None,
    base_url: BaseUrlOpt = None,
) -> None:
    """Show every effective setting and where it came from."""
    from outeai_cli.cli.tables import print_rows
    from outeai_cli.settings.config import Settings
    from outeai_cli.settings.file import config_path

    settings = Settings({"token": token, "base_url": base_url}, profile=profile)
    _warn(settings.warnings)
    effective = settings.effective()
    path = config_path()
    if as_json:
        shown = {
            name: {
                "value": _display(name, r.value) if name == "token" and not reveal else r.value,
                "source": r.source,
            }
            for name, r in effective.items()
        }
        if effective["token"].value is None:
            shown["token"]["value"] = None
        report = {
            "config_file": str(path),
            "config_file_exists": path.exists(),
            "profile": settings.profile,
            "settings": shown,
        }
        import json

        Terminal.current().print_out(json.dumps(report, indent=2))
        return
    terminal = Terminal.current()
    rows = [[name, _display(name, r.value, reveal), r.source] for name, r in effective.items()]
    print_rows(terminal, ["SETTING", "VALUE", "SOURCE"], rows)
    note = "" if path.exists() else " (not created yet)"
    terminal.print_out(f"config file: {path}{note}")
    if settings.profile:
        terminal.print_out(f"profile: {settings.profile}")


@app.command("path", epilog=EPILOG)
def path() -> None:
    """Print the config file's path (OUTEAI_CONFIG, else the user config dir)."""
    from outeai_cli.settings.file import config_path

    Terminal.current().print_out(str(config_path()))
