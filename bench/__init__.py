"""Benchmarks for chatkit-client, run with `python -m bench` (add `--smoke` for a quick, tiny run).

Every `bench/bench_<name>.py` module defines `main(smoke: bool = False) -> dict`. The runner calls each in
turn and prints what it returns:

- `"title"`: a heading;
- `"table"`: a list of rows, each a dict from column name to value, printed as a table;
- any other key with a str, int, float or bool value: printed as `key: value` under the table.

Anything else (nested numbers, for example) is kept for `python -m bench --json`, which prints every
result as JSON instead of tables.
"""
