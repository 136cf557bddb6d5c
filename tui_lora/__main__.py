from tui_lora.cli import main

raise SystemExit(main())
