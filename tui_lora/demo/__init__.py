"""What ``tui-lora demo`` ships: the demo project builder (project), a fake booru to fetch from
(booru_server, booru_catalogue), generated images (datasets), and the tiny random-weights SD1.5 model
and WD14 tagger it trains and tags with (tiny_models, tiny_tagger). The test suite and the benchmarks
use these too; helpers only tests need live in tests/support/."""
