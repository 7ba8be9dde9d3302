"""Use cases (one module each): a typed request in, a typed answer out; the CLI and the pages adapt them."""
