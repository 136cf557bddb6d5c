"""Errors a user can act on.

A ``UserError`` carries one plain sentence that names the problem and the fix.
The CLI prints it without a traceback and exits with ``exit_code``; the wizard
shows it as a notification.
"""

from __future__ import annotations


class UserError(Exception):
    """A problem the user can fix; the message is shown as-is."""

    exit_code = 2

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code

    @property
    def message(self) -> str:
        return str(self.args[0])


class ConfigError(UserError):
    """project.toml or an override holds an unknown key or a bad value."""


class ProjectError(UserError):
    """The project folder is missing, unreadable, or not a project."""


class OperationFailed(UserError):
    """Work that started but could not finish (training diverged, download failed)."""

    exit_code = 1
