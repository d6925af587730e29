"""The access tokens' commands: token create|list|revoke."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from logctl.cli.app import app, say


token_app = typer.Typer(
    help="Manage the hub's access tokens (stored hashed in the tokens file).", no_args_is_help=True, rich_markup_mode=None
)
app.add_typer(token_app, name="token")

TokensFile = Annotated[
    Optional[str],
    typer.Option(
        "--tokens-file",
        help="The tokens file. Default: $LOGCTL_TOKENS_FILE, else $LOGCTL_DATA_DIR/tokens.json.",
        show_default=False,
    ),
]


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Argument(help="A name for the token (who or what uses it).", metavar="NAME", show_default=False)],
    scope: Annotated[str, typer.Option("--scope", help="read, write or read,write.", show_default=False)],
    tokens_file: TokensFile = None,
) -> None:
    """Create a token NAME with --scope and print it once on stdout; only its hash is kept.

    \b
    Example:
        logctl token create ci-runner --scope write > ci-runner.token
        LOGCTL_TOKEN_FILE=ci-runner.token logctl send build-1 "hello"
    """
    from logctl.core.tokens import parse_scopes
    from logctl.tokens_file import create_token, resolve_tokens_file

    path = resolve_tokens_file(tokens_file)
    token = create_token(path, name, parse_scopes(scope))
    typer.echo(token)
    say(f"created token {name!r} ({scope}) in {path}; it is shown only this once")


@token_app.command("list")
def token_list(tokens_file: TokensFile = None) -> None:
    """List the tokens: name, scopes, creation time (never the secrets).

    \b
    Example:
        logctl token list --tokens-file /etc/logctl/tokens.json
    """
    from logctl.tokens_file import load_tokens, resolve_tokens_file

    for entry in load_tokens(resolve_tokens_file(tokens_file), missing_ok=True).entries:
        typer.echo(f"{entry.name}\t{','.join(sorted(entry.scopes))}\t{entry.created}")


@token_app.command("revoke")
def token_revoke(
    name: Annotated[str, typer.Argument(help="The token to remove.", metavar="NAME", show_default=False)],
    tokens_file: TokensFile = None,
) -> None:
    """Remove token NAME; a running hub stops accepting it within a few seconds, no restart.

    \b
    Example:
        logctl token revoke ci-runner
    """
    from logctl.tokens_file import resolve_tokens_file, revoke_token

    path = resolve_tokens_file(tokens_file)
    revoke_token(path, name)
    say(f"revoked token {name!r} in {path}")
