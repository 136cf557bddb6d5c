"""One module per ``tui-lora`` subcommand: HELP, add_arguments(parser), run(args) -> exit code."""
